"""Stable Diffusion's safety checker (diffusers StableDiffusionSafetyChecker): screens generated images when a run
asks for it (`vwbench run --safety-checker`); it serves no task kind."""

from __future__ import annotations

from vwbench.models.families import Family, clip_config_model, pretrained_with_clip_processor
from vwbench.registry import FAMILIES


@FAMILIES.register("sd_safety_checker")
class SafetyChecker(Family):
    """diffusers StableDiffusionSafetyChecker with its CLIPImageProcessor: hub checkpoints and tiny configs."""

    def hub(self, ref, dtype):
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

        return pretrained_with_clip_processor(StableDiffusionSafetyChecker, ref, dtype)

    def tiny(self, config):
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

        return clip_config_model(StableDiffusionSafetyChecker, config)
