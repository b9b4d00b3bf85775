"""open_clip CLIP: the classification task's model (DFN CLIP ViT-L/14 in the paper) and a generation evaluator."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch

from vwbench.models.classification import ClassificationModel, encode_text
from vwbench.models.families import Family, from_pretrained
from vwbench.models.initialize import seeded
from vwbench.registry import FAMILIES


@FAMILIES.register("open_clip")
class OpenCLIP(Family):
    """open_clip CLIP: hub checkpoints (open_clip's `local-dir:`), tiny configs, the micro-world's two CLIPs."""

    micro_models = ("clip", "clip-evaluator")
    adapters: ClassVar[dict[str, type]] = {"classification": ClassificationModel}
    evaluator = True

    def hub(self, ref, dtype):
        import open_clip

        if Path(ref.id).is_dir():
            folder = ref.id
        else:
            from huggingface_hub import snapshot_download

            folder = from_pretrained(lambda rid, **kw: snapshot_download(rid, **kw), ref)
        model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}", precision="fp32")
        return model, preprocess, {"folder": str(folder)}

    def tiny(self, config):
        import open_clip
        from open_clip.model import CLIPTextCfg, CLIPVisionCfg

        with seeded(config["seed"]):
            model = open_clip.model.CLIP(
                embed_dim=config["embed_dim"],
                vision_cfg=CLIPVisionCfg(**config["vision_cfg"]),
                text_cfg=CLIPTextCfg(vocab_size=self.tokenizer().vocab_size, **config["text_cfg"]),
            )
        return model, open_clip.image_transform(config["image_size"], is_train=False)

    def micro(self, name):
        from vwbench.models.micro import clip

        return clip.load(name)

    def text_embedding(self, model):
        return model.token_embedding

    def context_length(self, model):
        return int(model.context_length)

    def encode_text(self, model, ids):
        return encode_text(model, ids)

    def pixels(self, processor, images):
        return torch.stack([processor(im) for im in images])

    def encode_image(self, model, pixels):
        return model.encode_image(pixels)

    def set_gradient_checkpointing(self, model, enabled):
        # open_clip checkpoints each residual block whenever the flag is set (eval mode too)
        model.set_grad_checkpointing(enabled)
