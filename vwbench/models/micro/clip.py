"""The micro-world's two CLIPs (open_clip): one for classification, one as the generation evaluator. Both train contrastively on rendered known-world images and their captions, from different
seeds and at different text widths, so their embedding spaces differ as real models' do.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vwbench.clock import Clock
from vwbench.data.micro import world
from vwbench.models.classification import encode_text
from vwbench.models.initialize import seeded
from vwbench.models.micro.store import load_weights, save_weights
from vwbench.models.micro.training import AppearanceHeads, caption_ids, render_pool, trained_token_ids
from vwbench.tokenizer import VOCAB_SIZE

MEAN, STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)

# Both are open_clip CLIPs with a small ModifiedResNet image tower (a ViT of this size learns the 32x32 world
# several times slower on CPU); they differ in seed, text width and embedding width.
CONFIGS = {
    "clip": {
        "kind": "open_clip",
        "image_size": 32,
        "patch_size": 8,
        "vision_layers": [1, 1, 1, 1],
        "vision_width": 16,
        "text_width": 48,
        "text_layers": 2,
        "text_heads": 4,
        "embed_dim": 32,
        "seed": 11,
        "steps": 2000,
        "batch": 128,
        "lr": 2e-3,
        "pool": 30000,
        "max_objects": 3,
        "appearance_weight": 2.0,
    },
    "clip-evaluator": {
        "kind": "open_clip",
        "image_size": 32,
        "patch_size": 8,
        "vision_layers": [1, 1, 1, 1],
        "vision_width": 16,
        "text_width": 40,
        "text_layers": 2,
        "text_heads": 4,
        "embed_dim": 48,
        "seed": 23,
        "steps": 4000,  # at 2,000 it labelled real scenes test images by prototype right 0.92 of the time
        "batch": 128,
        "lr": 2e-3,
        "pool": 30000,
        "max_objects": 3,
        "appearance_weight": 2.0,
        # the evaluator plays the paper's OpenAI CLIP, which knows the concepts it labels: its captions name the
        # novel attributes (world.NAMES; their rows withheld as in every named model), so its image features
        # tell them apart. It is no task model: no word is learned or transferred in it.
        "named": True,
    },
}


def build(config: dict):
    """(open_clip CLIP, its image transform) of a config, random init."""
    import open_clip
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    c = config
    model = open_clip.model.CLIP(
        embed_dim=c["embed_dim"],
        # vision_layers: an int is a ViT's depth, a list the stages of open_clip's ModifiedResNet
        vision_cfg=CLIPVisionCfg(
            layers=c["vision_layers"] if isinstance(c["vision_layers"], int) else tuple(c["vision_layers"]),
            width=c["vision_width"],
            head_width=32,
            patch_size=c["patch_size"],
            image_size=c["image_size"],
        ),
        text_cfg=CLIPTextCfg(
            context_length=77,
            vocab_size=VOCAB_SIZE,
            width=c["text_width"],
            heads=c["text_heads"],
            layers=c["text_layers"],
        ),
    )
    return model, open_clip.image_transform(c["image_size"], is_train=False, mean=MEAN, std=STD)


def _features(model, pixels, ids):
    ids = ids[:, : int((ids != 0).sum(1).max())]  # training captions are short: drop the all-padding tail
    return model.encode_image(pixels), encode_text(model, ids), model.logit_scale.exp()


def train(
    name: str,
    folder: Path,
    seed: int | None = None,
    progress: bool = True,
    scale: float = 1.0,
    config: dict | None = None,
) -> dict:
    """Train one micro CLIP contrastively on known-world captions and save it into `folder`."""
    from tqdm.auto import tqdm

    c = dict(CONFIGS[name] if config is None else config)
    if seed is not None:
        c["seed"] = seed
    clock = Clock()
    steps = max(2, int(c["steps"] * scale))
    pool = render_pool(
        max(64, int(c["pool"] * scale)),
        seed=c["seed"],
        max_objects=c.get("max_objects", 1),
        progress=progress,
        named=c.get("named", False),
    )
    ids_all = caption_ids(pool.captions)
    # scenes that captions cannot tell apart are positives of each other: soft targets instead of the diagonal
    keys = {}
    caption_class = torch.tensor(
        [keys.setdefault(world.content_key(o, c.get("named", False)), len(keys)) for o in pool.objects]
    )
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    with seeded(c["seed"]):
        model, processor = build(c)
        model.train()
        aux = AppearanceHeads(c["embed_dim"])
        opt = torch.optim.AdamW([*model.parameters(), *aux.parameters()], lr=c["lr"], weight_decay=0.05)
        g = torch.Generator().manual_seed(c["seed"])
        bar = tqdm(range(steps), desc=f"train {name}", disable=not progress)
        losses = []
        for step in bar:
            lr = c["lr"] * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / steps))
            for group in opt.param_groups:
                group["lr"] = lr
            idx = torch.randint(0, len(pool.images), (min(c["batch"], len(pool.images)),), generator=g)
            pixels = (pool.tensors(c["image_size"], idx.numpy()) - mean) / std
            img, txt, logit_scale = _features(model, pixels, ids_all[idx])
            img, txt = F.normalize(img, dim=-1), F.normalize(txt, dim=-1)
            logits = logit_scale.clamp(max=100) * img @ txt.T
            same = (caption_class[idx][:, None] == caption_class[idx][None, :]).float()
            targets = same / same.sum(1, keepdim=True)
            loss = (
                torch.sum(-targets * logits.log_softmax(1), 1).mean()
                + torch.sum(-targets * logits.T.log_softmax(1), 1).mean()
            ) / 2
            loss = loss + c.get("appearance_weight", 0.5) * aux(img, [pool.objects[i][0] for i in idx.tolist()])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    model.eval()
    save_weights(name, model.state_dict(), c, trained_token_ids(pool.captions), folder)
    report = {"model": name, "steps": steps, "seconds": clock.seconds(), "final_loss": float(np.mean(losses[-20:]))}
    report.update(zero_shot_accuracy(model, processor, n_images=500, seed=c["seed"] + 1000))
    return report


def load(name: str, folder: Path | None = None):
    """A trained micro CLIP (model, processor) from the zoo folder, eval mode."""
    state, meta = load_weights(name, folder)
    model, processor = build(meta["config"])
    model.load_state_dict(state)
    return model.eval(), processor


def known_classes() -> list[tuple[str, str]]:
    return [(col, shp) for col in world.KNOWN_COLOURS for shp in world.KNOWN_SHAPES]


@torch.no_grad()
def zero_shot_accuracy(
    model, processor, n_images: int = 500, seed: int = 12345, template: str = "a photo of a {} {}"
) -> dict:
    """Top-1 zero-shot accuracy over every known colour x shape caption on fresh renders (any pattern, size,
    position), through the model's own image transform."""
    classes = known_classes()
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(n_images):
        k = int(rng.integers(len(classes)))
        col, shp = classes[k]
        box = world.place(rng, 1)[0]
        images.append(world.draw([world.Obj(shp, col, world.PATTERNS[int(rng.integers(3))], box)], rng))
        labels.append(k)
    text = F.normalize(model.encode_text(caption_ids([template.format(col, shp) for col, shp in classes])), dim=-1)
    img = F.normalize(model.encode_image(torch.stack([processor(im) for im in images])), dim=-1)
    pred = (img @ text.T).argmax(-1)
    return {
        "zero_shot_top1": float((pred == torch.tensor(labels)).float().mean()),
        "classes": len(classes),
        "chance": 1 / len(classes),
        "n_images": n_images,
    }
