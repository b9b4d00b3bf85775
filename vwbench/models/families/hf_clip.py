"""transformers CLIPModel: a generation evaluator and a zero-shot classifier."""

from __future__ import annotations

from typing import ClassVar

from vwbench.models.base import pooled
from vwbench.models.classification import ClassificationModel
from vwbench.models.families import Family, clip_text_config, from_pretrained
from vwbench.models.initialize import seeded
from vwbench.registry import FAMILIES


@FAMILIES.register("hf_clip")
class HFCLIP(Family):
    """transformers CLIPModel with its CLIPImageProcessor: hub checkpoints and tiny configs."""

    adapters: ClassVar[dict[str, type]] = {"classification": ClassificationModel}
    evaluator = True

    def hub(self, ref, dtype):
        from transformers import CLIPImageProcessor, CLIPModel

        model = from_pretrained(CLIPModel.from_pretrained, ref, torch_dtype=dtype)
        return model, from_pretrained(CLIPImageProcessor.from_pretrained, ref), {}

    def tiny(self, config):
        from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

        size = config["image_size"]
        clip = CLIPConfig(
            text_config=clip_text_config(config["text_config"]).to_dict(),
            vision_config=config["vision_config"],
            projection_dim=config["projection_dim"],
        )
        with seeded(config["seed"]):
            model = CLIPModel(clip)
        return model, CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})

    def text_embedding(self, model):
        return model.text_model.embeddings.token_embedding

    def context_length(self, model):
        return int(model.config.text_config.max_position_embeddings)

    def encode_text(self, model, ids):
        return pooled(model.get_text_features(input_ids=ids))

    def pixels(self, processor, images):
        return processor(images=images, return_tensors="pt").pixel_values

    def encode_image(self, model, pixels):
        return pooled(model.get_image_features(pixel_values=pixels))
