"""The micro-world OWLv2 detector: a small transformers Owlv2ForObjectDetection trained from random init.

Training (`owlv2_train.train`, its loss in set_loss.py) is DETR-style set prediction on multi-object known-world
scenes, as OWL-ViT is fine-tuned: each image's 64 regions (8x8 patches of a 64x64 image) are matched one-to-one to its ground-truth objects by the
Hungarian algorithm (scipy's linear_sum_assignment) on a cost of class probability, L1 and generalized IoU;
matched regions learn their box (L1 + GIoU) and every region learns a sigmoid focal class loss against all text
queries of the batch. A gt object's query is "a photo of a " + `world.phrase(obj, rng)`; a query counts as
positive for every object it describes (same pattern, same known colour or none, same known shape or a generic
word), so "a photo of a red thing" and "a photo of a red object" name the same novel-shape objects and objects of
one image with the same phrase share the query. The objectness head learns matched-vs-unmatched on detached
features, as OWLv2 defines it.

Inference is the adapter's (vwbench/models/detection.py): `image_embedder` -> class head embeddings, logit
shift/scale and `box_predictor` boxes; a region's score for a query is sigmoid of its class logit.

transformers' init leaves the detection heads with weights large enough that predicted boxes saturate at 0 or 1
(sigmoid of +-20) and nothing is learned; `build` re-initializes the head layers small, zeroes the last box
layer (so a region starts at its grid box bias) and starts class and objectness logits at a focal prior.

Images need no resizing: Owlv2ImageProcessor on a 64x64 image is exactly (x / 255 - mean) / std, so training
normalizes uint8 tensors directly (checked in the tests).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vwbench.data.micro import world
from vwbench.models.initialize import centre_box_bias
from vwbench.models.micro.set_loss import cxcywh_to_xyxy
from vwbench.models.micro.store import load_weights
from vwbench.models.micro.training import render_pool
from vwbench.tokenizer import BOS_ID, EOS_ID, VOCAB_SIZE, encode

NAME = "owlv2"
PROMPT = "a photo of a "

CONFIG = {
    "image_size": world.SIZE,
    "patch_size": 8,
    "vision_hidden": 96,
    "vision_layers": 4,
    "vision_heads": 4,
    "vision_mlp": 384,
    "text_hidden": 48,
    "text_layers": 2,
    "text_heads": 4,
    "text_mlp": 192,
    "context_length": 16,
}

TRAIN = {
    "steps": 2400,
    "batch": 32,
    "lr": 1e-3,
    "warmup": 200,
    "weight_decay": 0.01,
    "grad_clip": 1.0,
    "pool": 16000,
    "max_objects": 4,
    "novel_rate": 0.3,
    "flip": True,
    "w_class": 2.0,
    "w_l1": 5.0,
    "w_giou": 2.0,
    "w_objectness": 1.0,
    "focal_alpha": 0.25,
    "focal_gamma": 2.0,
    "eval_images": 300,
    "appearance_weight": 1.0,
}

PRIOR = 0.01  # initial probability of class and objectness logits (focal-loss practice)


# ---------------------------------------------------------------------------------------------------- model


def build(config: dict | None = None):
    """A randomly initialized Owlv2ForObjectDetection and its Owlv2ImageProcessor (fixed by the torch RNG state)."""
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor

    c = {**CONFIG, **(config or {})}
    text = {
        "vocab_size": VOCAB_SIZE,
        "hidden_size": c["text_hidden"],
        "intermediate_size": c["text_mlp"],
        "num_hidden_layers": c["text_layers"],
        "num_attention_heads": c["text_heads"],
        "max_position_embeddings": c["context_length"],
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "pad_token_id": 0,
    }
    vision = {
        "hidden_size": c["vision_hidden"],
        "intermediate_size": c["vision_mlp"],
        "num_hidden_layers": c["vision_layers"],
        "num_attention_heads": c["vision_heads"],
        "image_size": c["image_size"],
        "patch_size": c["patch_size"],
    }
    config_ = Owlv2Config(
        text_config=text, vision_config=vision, projection_dim=c["text_hidden"]
    )  # must equal the text width (class head einsum)
    model = Owlv2ForObjectDetection(config_)
    _reset_heads(model)
    centre_box_bias(model, c["image_size"] // c["patch_size"])
    processor = Owlv2ImageProcessor(size={"height": c["image_size"], "width": c["image_size"]})
    return model, processor


@torch.no_grad()
def _reset_heads(model) -> None:
    prior = math.log(PRIOR / (1 - PRIOR))
    for head in (model.box_head, model.objectness_head):
        for layer in (head.dense0, head.dense1, head.dense2):
            torch.nn.init.normal_(layer.weight, std=0.02)
            torch.nn.init.zeros_(layer.bias)
        torch.nn.init.zeros_(head.dense2.weight)
    torch.nn.init.constant_(model.objectness_head.dense2.bias, prior)
    ch = model.class_head
    for layer in (ch.dense0, ch.logit_shift, ch.logit_scale):
        torch.nn.init.normal_(layer.weight, std=0.02)
        torch.nn.init.zeros_(layer.bias)
    torch.nn.init.constant_(ch.logit_shift.bias, prior)  # logit = (cos + shift) * (elu(scale) + 1) ~ prior


def count_parameters(model) -> dict:
    total = sum(p.numel() for p in model.parameters())
    table = model.owlv2.text_model.embeddings.token_embedding.weight.numel()
    return {"total": total, "without_token_table": total - table}


# ------------------------------------------------------------------------------------------ forward pieces


def normalize(images: torch.Tensor, processor) -> torch.Tensor:
    """uint8 [N, H, W, 3] (or float [N, 3, H, W] in [0, 1]) -> the processor's pixel_values for 64x64 images."""
    x = images.permute(0, 3, 1, 2).float() / 255 if images.dtype == torch.uint8 else images
    mean = torch.tensor(processor.image_mean, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def image_outputs(model, pixels: torch.Tensor):
    """Region features [B, P, D], boxes [B, P, 4] (cxcywh in [0, 1]) and objectness logits [B, P]."""
    fmap, _ = model.image_embedder(pixel_values=pixels)
    feats = fmap.reshape(fmap.shape[0], -1, fmap.shape[-1])
    return feats, model.box_predictor(feats, fmap), model.objectness_predictor(feats)


def text_queries(model, texts: list[str], compact: CompactTokens | None = None) -> torch.Tensor:
    from vwbench.models.base import pooled

    ids = encode(texts, int(model.config.text_config.max_position_embeddings), 0)
    return pooled(model.owlv2.get_text_features(input_ids=ids if compact is None else compact.map(ids)))


class CompactTokens:
    """Train only the token rows the queries use: the 49,408-row table is swapped for a small one while training
    (its dense gradient and optimizer state cost more than the rest of the text tower). Ids map to ranks in the
    sorted id list, which keeps the end token the largest id, so OWLv2's argmax pooling is unchanged; `restore`
    writes the rows back. The ids are the queries' words plus the start and end tokens: those rows are trained
    and used by every query, so they must be stored with the weights."""

    def __init__(self, model, word_ids: list[int]):
        self.embeddings = model.owlv2.text_model.embeddings
        self.full = self.embeddings.token_embedding
        self.ids = sorted(set(word_ids) | {BOS_ID, EOS_ID})
        used = torch.tensor(sorted(set(self.ids) | {0}))
        self.lookup = torch.zeros(self.full.num_embeddings, dtype=torch.long)
        self.lookup[used] = torch.arange(len(used))
        self.used = used
        self.small = torch.nn.Embedding.from_pretrained(self.full.weight.detach()[used].clone(), freeze=False)
        self.embeddings.token_embedding = self.small

    def map(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lookup[ids]

    @torch.no_grad()
    def restore(self) -> None:
        self.full.weight[self.used] = self.small.weight
        self.embeddings.token_embedding = self.full


def class_logits(model, feats: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Logits [B, P, Q] of every region against every query (the same for all images)."""
    logits, _ = model.class_head(feats, queries.unsqueeze(0).expand(feats.shape[0], -1, -1), None)
    return logits


# ------------------------------------------------------------------------------------------ set prediction


_NAMED = {name: attr for attr, name in world.NAMES.items()}


def phrase_key(words: str) -> tuple:
    """What a phrase says about an object: (pattern, colour or None, shape or None); a novel attribute's withheld
    name counts as that attribute."""
    ws = [_NAMED.get(w, w) for w in words.replace(PROMPT, "").split()]
    pattern = next((w for w in ws if w in world.PATTERNS), "plain")
    colour = next((w for w in ws if w in world.COLOURS), None)
    shape = next((w for w in ws if w in world.SHAPES), None)
    return pattern, colour, shape


def object_key(o: world.Obj, named: bool = False) -> tuple:
    """What a query of `world.phrase(o, named=named)` says about the object (see `phrase_key`)."""
    return (
        o.pattern,
        o.colour if o.colour in world.KNOWN_COLOURS or named else None,
        o.shape if o.shape in world.KNOWN_SHAPES or named else None,
    )


def load(folder: Path | None = None):
    """The trained detector (eval mode) and its processor, from `folder` (default: the micro zoo folder)."""
    state, meta = load_weights(NAME, folder)
    config = {k: v for k, v in meta["config"].items() if k in CONFIG}
    model, processor = build(config)
    model.load_state_dict(state)
    model.eval()
    return model, processor


# ------------------------------------------------------------------------------------------------ evaluate


def eval_scenes(n_images: int, seed: int):
    """Fresh multi-object scenes of known attributes only, with each object's canonical known phrase."""
    pool = render_pool(n_images, seed, max_objects=TRAIN["max_objects"], novel_rate=0.0, progress=False)
    return pool, [[world.phrase(o) for o in objs] for objs in pool.objects]


@torch.no_grad()
def evaluate_ap50(
    model, processor, n_images: int = 300, seed: int = 7_000_000, negatives: int = 2, batch: int = 64
) -> dict:
    """AP at IoU 0.5 and COCO mAP on fresh scenes. Each image is asked the phrases of its objects ("a photo of a
    striped red square") plus `negatives` phrases of the evaluation set that it lacks; a query's detections are all
    64 regions scored as the adapter scores them (sigmoid of the class logit). Labels are the phrases, so AP is
    averaged over phrases. `chance_ap50` scores the same boxes at random."""
    from torchmetrics.detection import MeanAveragePrecision

    pool, phrases = eval_scenes(n_images, seed)
    vocab = sorted({p for ps in phrases for p in ps})
    label = {p: k for k, p in enumerate(vocab)}
    queries = F.normalize(text_queries(model, [PROMPT + p for p in vocab]).float(), dim=-1)
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    preds, chance, targets = [], [], []
    for start in range(0, n_images, batch):
        idx = list(range(start, min(n_images, start + batch)))
        feats, boxes, _ = image_outputs(model, normalize(torch.from_numpy(pool.images[idx]), processor))
        logits = class_logits(model, feats, queries)  # [b, P, V]
        xyxy = cxcywh_to_xyxy(boxes) * world.SIZE
        for j, i in enumerate(idx):
            present = sorted({label[p] for p in phrases[i]})
            absent = [k for k in range(len(vocab)) if k not in present]
            asked = present + [int(k) for k in rng.choice(absent, size=min(negatives, len(absent)), replace=False)]
            scores = logits[j][:, asked].sigmoid().T.reshape(-1)  # [asked * P]
            labels = torch.tensor(asked).repeat_interleave(logits.shape[1])
            box = xyxy[j].repeat(len(asked), 1)
            preds.append({"boxes": box, "scores": scores, "labels": labels})
            chance.append({"boxes": box, "scores": torch.rand(len(scores), generator=g), "labels": labels})
            gt = torch.tensor([o.box for o in pool.objects[i]], dtype=torch.float32).reshape(-1, 4)
            targets.append({"boxes": gt, "labels": torch.tensor([label[p] for p in phrases[i]])})
    out = {}
    for name, p, thresholds in (("", preds, None), ("chance_", chance, [0.5])):
        metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", iou_thresholds=thresholds)
        metric.warn_on_many_detections = False  # 64 regions per query; COCO's 100 cap is per image and class
        metric.update(p, targets)
        r = metric.compute()
        out[f"{name}ap50"] = round(max(float(r["map_50"] if thresholds is None else r["map"]), 0.0), 4)
        if thresholds is None:
            out["map"] = round(max(float(r["map"]), 0.0), 4)  # COCO AP 0.5:0.95
    return {
        **out,
        "eval_images": n_images,
        "eval_phrases": len(vocab),
        "eval_objects": sum(map(len, phrases)),
        "eval_seed": seed,
    }
