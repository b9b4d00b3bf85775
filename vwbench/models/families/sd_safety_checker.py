"""Stable Diffusion's safety checker (diffusers StableDiffusionSafetyChecker): screens generated images when a run
asks for it (`vwbench run --safety-checker`); it serves no task kind."""

from __future__ import annotations

from vwbench.models.families import Family, clip_text_config, from_pretrained
from vwbench.models.initialize import seeded
from vwbench.registry import FAMILIES


@FAMILIES.register("sd_safety_checker")
class SafetyChecker(Family):
    """diffusers StableDiffusionSafetyChecker with its CLIPImageProcessor: hub checkpoints and tiny configs."""

    def hub(self, ref, dtype):
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
        from transformers import CLIPImageProcessor

        model = from_pretrained(StableDiffusionSafetyChecker.from_pretrained, ref, torch_dtype=dtype)
        return model, from_pretrained(CLIPImageProcessor.from_pretrained, ref), {}

    def tiny(self, config):
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
        from transformers import CLIPConfig, CLIPImageProcessor

        size = config["image_size"]
        clip = CLIPConfig(
            text_config=clip_text_config(config["text_config"]).to_dict(),
            vision_config=config["vision_config"],
            projection_dim=config["projection_dim"],
        )
        with seeded(config["seed"]):
            model = StableDiffusionSafetyChecker(clip)
        return model, CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
