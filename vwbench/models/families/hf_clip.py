"""transformers CLIPModel: a generation evaluator and a zero-shot classifier."""

from __future__ import annotations

from typing import ClassVar

from vwbench.models.base import pooled
from vwbench.models.classification import ClassificationModel
from vwbench.models.families import Family, clip_config_model, pretrained_with_clip_processor
from vwbench.registry import FAMILIES


@FAMILIES.register("hf_clip")
class HFCLIP(Family):
    """transformers CLIPModel with its CLIPImageProcessor: hub checkpoints and tiny configs."""

    adapters: ClassVar[dict[str, type]] = {"classification": ClassificationModel}
    evaluator = True

    def hub(self, ref, dtype):
        from transformers import CLIPModel

        return pretrained_with_clip_processor(CLIPModel, ref, dtype)

    def tiny(self, config):
        from transformers import CLIPModel

        return clip_config_model(CLIPModel, config)

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
