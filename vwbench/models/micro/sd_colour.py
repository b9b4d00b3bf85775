"""How well the micro SD draws the known colours, without the evaluator: the prompted colour against the colour of
the brightest, most saturated pixels of each generation (`colour_accuracy`), and the autoencoder's own colour
fidelity, its ceiling (`vae_colour_accuracy`). `vwbench zoo check micro` and the trainer's report use them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from vwbench.data.micro import world


def nearest_known_colour(rgb) -> str:
    names = list(world.KNOWN_COLOURS)
    table = np.asarray([world.KNOWN_COLOURS[n] for n in names], np.float32)
    return names[int(np.argmin(((table - np.asarray(rgb, np.float32)) ** 2).sum(1)))]


def object_colour(image: np.ndarray, fraction: float = 0.08) -> np.ndarray:
    """Median RGB (0-255) of the brightest/most saturated pixels of an image ([H, W, 3], floats in [0, 1])."""
    px = np.asarray(image, np.float32).reshape(-1, 3)
    px = px * 255 if px.max() <= 1.0 + 1e-6 else px
    score = px.max(1) + 0.5 * (px.max(1) - px.min(1))
    k = max(4, int(len(px) * fraction))
    return np.median(px[np.argsort(-score)[:k]], axis=0)


@torch.no_grad()
def vae_colour_accuracy(vae, size: int, n: int = 200, seed: int = 4321) -> float:
    """Share of reconstructions of fresh single-object scenes of known colours (plain) whose object colour is
    nearest to the true one, at `size` pixels: colour fidelity of the autoencoder, the ceiling of `colour_accuracy`."""
    rng = np.random.default_rng(seed)
    images, colours = [], []
    for _ in range(n):
        box = world.place(rng, 1)[0]
        obj = world.random_object(rng, box, novel_rate=0.0)
        obj = world.Obj(obj.shape, obj.colour, "plain", box)
        images.append(np.asarray(world.draw([obj], rng)))
        colours.append(obj.colour)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
    x = torch.nn.functional.interpolate(
        x, size=(size, size), mode="bicubic", antialias=True, align_corners=False
    ).clamp(0, 1)
    rec = ((vae.decode(vae.encode(x * 2 - 1).latent_dist.mean).sample + 1) / 2).clamp(0, 1)
    rec = rec.permute(0, 2, 3, 1).numpy()
    return float(np.mean([nearest_known_colour(object_colour(r)) == c for r, c in zip(rec, colours)]))


def known_prompts(n: int) -> list[tuple[str, str, str]]:
    """n (prompt, colour, shape) over KNOWN_COLOURS x KNOWN_SHAPES, cycling through all 100 pairs."""
    colours, shapes = list(world.KNOWN_COLOURS), world.KNOWN_SHAPES
    out = []
    for i in range(n):
        c, s = colours[i % 10], shapes[(i + i // 10) % 10]
        out.append((f"a photo of a {c} {s}", c, s))
    return out


@torch.no_grad()
def generate(
    pipe, prompts: list[str], steps: int = 25, guidance: float = 4.0, seed: int = 0, batch: int = 50
) -> np.ndarray:
    """Images [N, 32, 32, 3] in [0, 1] for prompts (DDIM, classifier-free guidance)."""
    out = []
    for i in range(0, len(prompts), batch):
        g = torch.Generator().manual_seed(seed + i)
        res = pipe(
            prompts[i : i + batch], num_inference_steps=steps, guidance_scale=guidance, generator=g, output_type="np"
        )
        out.append(res.images)
    return np.concatenate(out)


def save_grid(images: np.ndarray, path: Path, columns: int = 10, upscale: int = 2):
    from PIL import Image

    n, h, w, _ = images.shape
    rows = math.ceil(n / columns)
    grid = np.zeros((rows * h, columns * w, 3), np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = (np.clip(im, 0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(grid).resize((columns * w * upscale, rows * h * upscale), Image.NEAREST).save(path)


def colour_accuracy(
    pipe, n_prompts: int = 50, steps: int = 25, guidance: float = 4.0, seed: int = 0, grid: Path | None = None
) -> float:
    """Share of generations for "a photo of a {colour} {shape}" whose object colour (median of the brightest,
    most saturated pixels) is nearest to the prompted known colour. `grid` saves a PNG of the images."""
    items = known_prompts(n_prompts)
    images = generate(pipe, [p for p, _, _ in items], steps, guidance, seed)
    if grid is not None:
        save_grid(images, Path(grid))
    hits = [nearest_known_colour(object_colour(im)) == c for im, (_, c, _) in zip(images, items)]
    return float(np.mean(hits))
