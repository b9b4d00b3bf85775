"""Stable Diffusion (diffusers StableDiffusionPipeline): the generation task's model (SD 2.1 in the paper)."""

from __future__ import annotations

from typing import ClassVar

from vwbench.models.families import Family, clip_text_config, from_pretrained
from vwbench.models.generation import GenerationModel
from vwbench.models.initialize import seeded
from vwbench.registry import FAMILIES


@FAMILIES.register("stable_diffusion")
class StableDiffusion(Family):
    """diffusers StableDiffusionPipeline: hub checkpoints, tiny configs, the micro-world's micro:sd."""

    micro_models = ("sd",)
    adapters: ClassVar[dict[str, type]] = {"generation": GenerationModel}

    def hub(self, ref, dtype):
        from diffusers import StableDiffusionPipeline

        model = from_pretrained(StableDiffusionPipeline.from_pretrained, ref, torch_dtype=dtype)
        model.set_progress_bar_config(disable=True)
        return model, None, {}

    def tiny(self, config):
        from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
        from transformers import CLIPTextModel

        tuples = lambda d: {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        make = {
            "text_encoder": lambda c: CLIPTextModel(clip_text_config(c)),
            "vae": lambda c: AutoencoderKL(**tuples(c)),
            "unet": lambda c: UNet2DConditionModel(**tuples(c)),
        }
        with seeded(config["seed"]):  # in the config's order: it fixes which weights each draw goes to
            parts = {k: make[k](c) for k, c in config.items() if k in make}
        pipe = StableDiffusionPipeline(
            **parts,
            tokenizer=self.tokenizer().hf(),
            scheduler=DDIMScheduler(**config["scheduler"]),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        pipe.set_progress_bar_config(disable=True)
        return pipe, None

    def micro(self, name):
        from vwbench.models.micro import sd

        model = sd.load()
        model.set_progress_bar_config(disable=True)
        return model, None

    def text_embedding(self, model):
        return model.text_encoder.get_input_embeddings()

    def context_length(self, model):
        return int(model.text_encoder.config.max_position_embeddings)

    def encode_text(self, model, ids):
        # the UNet conditions on all hidden states of the text encoder, as the pipeline does
        return model.text_encoder(ids)[0]
