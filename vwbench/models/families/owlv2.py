"""OWLv2 (transformers Owlv2ForObjectDetection): the detection task's model."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from vwbench.models.base import pooled
from vwbench.models.detection import DetectionModel
from vwbench.models.families import Family, clip_text_config, from_pretrained
from vwbench.models.initialize import centre_box_bias, seeded
from vwbench.registry import FAMILIES


@FAMILIES.register("owlv2")
class OWLv2(Family):
    """transformers Owlv2ForObjectDetection: hub checkpoints, tiny configs, the micro-world's micro:owlv2."""

    micro_models = ("owlv2",)
    adapters: ClassVar[dict[str, type]] = {"detection": DetectionModel}

    def hub(self, ref, dtype):
        from transformers import Owlv2ForObjectDetection, Owlv2ImageProcessor

        model = from_pretrained(Owlv2ForObjectDetection.from_pretrained, ref, torch_dtype=dtype)
        return model, from_pretrained(Owlv2ImageProcessor.from_pretrained, ref), {}

    def tiny(self, config):
        from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor

        size = config["image_size"]
        owl = Owlv2Config(
            text_config=clip_text_config(config["text_config"]).to_dict(),
            vision_config=config["vision_config"],
            projection_dim=config["projection_dim"],
        )  # = the text width, or the class head's einsum fails
        with seeded(config["seed"]):
            model = Owlv2ForObjectDetection(owl)
        # A random box head predicts saturated boxes. With its last layer zeroed, region i predicts exactly the
        # box bias; set that to the patch's own cell, so the 2x2 regions are the cells of the tiny datasets' layout.
        torch.nn.init.zeros_(model.box_head.dense2.weight)
        torch.nn.init.zeros_(model.box_head.dense2.bias)
        centre_box_bias(model, size // owl.vision_config.patch_size, cell_size=True)
        return model, Owlv2ImageProcessor(size={"height": size, "width": size})

    def micro(self, name):
        from vwbench.models.micro import owlv2

        return owlv2.load()

    def text_embedding(self, model):
        return model.owlv2.text_model.embeddings.token_embedding

    def context_length(self, model):
        return int(model.config.text_config.max_position_embeddings)

    def encode_text(self, model, ids):
        return pooled(model.owlv2.get_text_features(input_ids=ids))

    def regions(self, model, processor, image, device, dtype) -> dict:
        """Text-independent outputs for one image: normalized class embeddings, logit shift/scale, absolute boxes."""
        from torchvision.ops import box_convert

        m = model
        pixels = processor(images=image, return_tensors="pt").pixel_values.to(device, dtype)
        fmap, _ = m.image_embedder(pixel_values=pixels)
        feats = fmap.reshape(fmap.shape[0], -1, fmap.shape[-1])
        boxes = m.box_predictor(feats, fmap)[0].float()
        head = m.class_head
        embeds = F.normalize(head.dense0(feats)[0].float(), dim=-1)
        shift = head.logit_shift(feats)[0, :, 0].float()
        scale = (head.elu(head.logit_scale(feats)) + 1)[0, :, 0].float()
        # OWLv2 pads to a square at the bottom/right, so normalized coordinates scale by the longer side
        side = float(max(image.size))
        xyxy = box_convert(boxes, "cxcywh", "xyxy").cpu() * side
        return {"embeds": embeds, "shift": shift, "scale": scale, "boxes": xyxy}
