"""What the micro-zoo trainers share: a pool of rendered known-world scenes, progress and EMA (seeded: models/initialize.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vwbench.data.micro import world
from vwbench.tokenizer import BOS_ID, EOS_ID, encode


@dataclass
class ScenePool:
    """N rendered scenes: images uint8 [N, H, W, 3], captions, object boxes (xyxy pixels) and phrases."""

    images: np.ndarray
    captions: list[str]
    objects: list[list[world.Obj]]

    def tensors(self, size: int, idx=None) -> torch.Tensor:
        """Images as float [n, 3, size, size] in [0, 1], bicubic-resized when size differs from the render."""
        x = torch.from_numpy(self.images if idx is None else self.images[idx]).permute(0, 3, 1, 2).float() / 255
        if x.shape[-1] != size:
            x = torch.nn.functional.interpolate(
                x, size=(size, size), mode="bicubic", antialias=True, align_corners=False
            ).clamp(0, 1)
        return x


def render_pool(
    n: int, seed: int, max_objects: int = 1, novel_rate: float = 0.3, progress: bool = True, named: bool = False
) -> ScenePool:
    """Render n known-world scenes deterministically from `seed` (captions name novel attributes when `named`)."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    images, captions, objects = np.empty((n, world.SIZE, world.SIZE, 3), np.uint8), [], []
    for i in tqdm(range(n), desc=f"render {n} scenes", disable=not progress, leave=False):
        image, objs, cap = world.known_scene(rng, max_objects, novel_rate, named=named)
        images[i] = np.asarray(image)
        captions.append(cap)
        objects.append(objs)
    return ScenePool(images, captions, objects)


def caption_ids(captions: list[str], context_length: int = 77) -> torch.Tensor:
    return encode(captions, context_length, 0)


def trained_token_ids(captions: list[str]) -> list[int]:
    """Every token id the encoded captions hold: their words, start, end and the padding id 0 (a model that
    attends to every position, like SD's UNet, learns the padding row too), less the novel attributes' withheld
    names. These are the rows to store; the withheld ones are refilled at random on load."""
    ids = set(caption_ids(captions).unique().tolist()) | {0, BOS_ID, EOS_ID}
    return sorted(ids - set(world.withheld_ids()))


class AppearanceHeads(torch.nn.Module):
    """Linear read-outs of an object's shape, colour and pattern (novel ones included) from image features,
    trained beside the text objective and thrown away after training.

    Captions never name the novel attributes, so text alone gives an image tower no reason to tell two unnamed
    shapes apart; real models' image towers do represent what they have no word for. This objective (class
    indices, no words) gives the micro towers that property; no text tower ever sees it."""

    def __init__(self, dim: int):
        super().__init__()
        self.heads = torch.nn.ModuleDict(
            {
                "shape": torch.nn.Linear(dim, len(world.SHAPES)),
                "colour": torch.nn.Linear(dim, len(world.COLOURS)),
                "pattern": torch.nn.Linear(dim, len(world.PATTERNS)),
            }
        )
        self.index = {
            "shape": {s: i for i, s in enumerate(world.SHAPES)},
            "colour": {c: i for i, c in enumerate(world.COLOURS)},
            "pattern": {p: i for i, p in enumerate(world.PATTERNS)},
        }

    def forward(self, feats: torch.Tensor, objects: list[world.Obj]) -> torch.Tensor:
        """Mean cross-entropy of the three read-outs for features [N, dim] of N objects."""
        feats = torch.nn.functional.normalize(feats, dim=-1) * 10
        losses = [
            torch.nn.functional.cross_entropy(
                head(feats), torch.tensor([self.index[k][getattr(o, k)] for o in objects])
            )
            for k, head in self.heads.items()
        ]
        return sum(losses) / len(losses)


class EMA:
    """Exponential moving average of a module's parameters (for the diffusion model)."""

    def __init__(self, module: torch.nn.Module, decay: float = 0.999):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module: torch.nn.Module):
        for k, v in module.state_dict().items():
            if v.is_floating_point():
                self.shadow[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                self.shadow[k].copy_(v)

    def copy_to(self, module: torch.nn.Module):
        module.load_state_dict(self.shadow)
