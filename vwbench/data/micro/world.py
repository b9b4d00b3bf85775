"""The micro-world: a deterministic renderer of objects with shape, colour, pattern, size and position.

Known attributes have single-token CLIP-BPE words and appear in captions. Novel attributes (20 shapes, 10 colours)
have no word: they are drawn in training images, but captions describe them generically ("a red thing",
"a striped square"), so a model can see and draw them and has no word that reaches them. With `named`, captions
call each novel attribute by a word of its own (`NAMES`) whose row the trainers then withhold from the saved model
(`withheld_ids`): a model that can represent the concept and still has no word for it (not the shipped zoo's
setting; docs/micro.md). The 40 concepts of the four micro datasets are built from novel attributes only.

Images are rendered at 64x64 (the detector's size); the 32x32 models downsample them in their own processors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64

KNOWN_COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 235),
    "yellow": (240, 220, 40),
    "orange": (245, 135, 25),
    "purple": (140, 50, 200),
    "pink": (250, 120, 200),
    "white": (245, 245, 245),
    "gray": (135, 135, 135),
    "brown": (150, 95, 45),
}
NOVEL_COLOURS = {
    "teal": (0, 140, 140),
    "olive": (125, 125, 0),
    "maroon": (110, 0, 55),
    "navy": (35, 35, 160),
    "lime": (170, 250, 60),
    "salmon": (250, 160, 130),
    "lavender": (185, 165, 250),
    "mint": (150, 245, 200),
    "beige": (220, 200, 150),
    "sky": (110, 200, 250),
}
COLOURS = {**KNOWN_COLOURS, **NOVEL_COLOURS}

KNOWN_SHAPES = ("square", "circle", "triangle", "star", "ring", "cross", "diamond", "moon", "heart", "oval")
NOVEL_SHAPES_A = (
    "hexagon",
    "arrow",
    "hourglass",
    "semicircle",
    "lshape",
    "tshape",
    "frame",
    "chevron",
    "bar",
    "xshape",
)
NOVEL_SHAPES_B = (
    "pentagon",
    "star4",
    "trapezoid",
    "house",
    "ushape",
    "bowtie",
    "parallelogram",
    "triframe",
    "arc",
    "hshape",
)
SHAPES = KNOWN_SHAPES + NOVEL_SHAPES_A + NOVEL_SHAPES_B
# The word each novel attribute is trained with and then withheld (one CLIP-BPE token each, none of them known)
NAMES = {
    **{c: c for c in NOVEL_COLOURS},
    "hexagon": "comb",
    "arrow": "arrow",
    "hourglass": "spade",
    "semicircle": "bridge",
    "lshape": "elbow",
    "tshape": "tee",
    "frame": "frame",
    "chevron": "chevron",
    "bar": "bar",
    "xshape": "club",
    "pentagon": "pentagon",
    "star4": "kite",
    "trapezoid": "wedge",
    "house": "house",
    "ushape": "cup",
    "bowtie": "bell",
    "parallelogram": "ladder",
    "triframe": "tripod",
    "arc": "arc",
    "hshape": "gate",
}
PATTERNS = ("plain", "striped", "dotted")

# words of the known vocabulary besides colours, shapes and patterns: every one a single CLIP token
SIZE_WORDS = ("small", "big")
POSITION_WORDS = ("left", "right", "top", "bottom", "center")
GENERIC_WORDS = ("thing", "object", "shape")
TEMPLATES = (
    "a photo of a {}",
    "a photo of a {}",
    "a photo of a {}",
    "a picture of a {}",
    "an image of a {}",
    "a {}",
    "there is a {}",
    "a drawing of a {}",
    "a photo of the {}",
    "a render of a {}",
    "a close view of a {}",
    "a shot of a {}",
    "a simple {}",
    "this is a {}",
    "that is my {}",
    "look at the {}",
    "here is a {}",
    "a painting of a {}",
    "a toy {}",
    "a sign with a {}",
    "a block with a {}",
    "a piece of a {}",
    "a bright {}",
    "a scene with a {}",
)
JOINERS = (" and a ", " with a ", " next to a ", " near a ")
EXTRA_WORDS = (
    "a",
    "an",
    "the",
    "photo",
    "picture",
    "image",
    "of",
    "there",
    "is",
    "drawing",
    "render",
    "and",
    "with",
    "next",
    "to",
    "near",
    "on",
    "in",
    "scene",
    "close",
    "view",
    "shot",
    "simple",
    "this",
    "that",
    "my",
    "look",
    "at",
    "here",
    "painting",
    "toy",
    "sign",
    "block",
    "piece",
    "bright",
)


def known_vocabulary() -> list[str]:
    """Every word that captions of the known world use (each a single CLIP-BPE token)."""
    words = [*KNOWN_COLOURS, *KNOWN_SHAPES, *PATTERNS, *SIZE_WORDS, *POSITION_WORDS, *GENERIC_WORDS, *EXTRA_WORDS]
    return list(dict.fromkeys(words))


@dataclass(frozen=True)
class Obj:
    """One object to draw: attributes and its box in pixels (x0, y0, x1, y1)."""

    shape: str
    colour: str
    pattern: str
    box: tuple[float, float, float, float]

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


def _regular(cx, cy, r, n, start=-math.pi / 2, inner=None):
    pts = []
    for k in range(n * (2 if inner else 1)):
        rad = r if not inner or k % 2 == 0 else r * inner
        a = start + k * math.pi * 2 / (n * (2 if inner else 1))
        pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    return pts


def _shape_polygons(shape: str, box) -> list[list[tuple[float, float]]]:
    """Filled polygons (in box coordinates) that make up a shape; round shapes are handled in `_mask`."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, w / 2

    def P(*uv):  # points in unit box coordinates
        return [(x0 + u * w, y0 + v * h) for u, v in uv]

    table = {
        "square": [P((0.05, 0.05), (0.95, 0.05), (0.95, 0.95), (0.05, 0.95))],
        "triangle": [P((0.5, 0), (1, 1), (0, 1))],
        "diamond": [P((0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5))],
        "star": [_regular(cx, cy, r, 5, inner=0.42)],
        "cross": [P((0.33, 0), (0.67, 0), (0.67, 1), (0.33, 1)), P((0, 0.33), (1, 0.33), (1, 0.67), (0, 0.67))],
        "hexagon": [_regular(cx, cy, r, 6, start=0)],
        "arrow": [P((0, 0.35), (0.55, 0.35), (0.55, 0.1), (1, 0.5), (0.55, 0.9), (0.55, 0.65), (0, 0.65))],
        "hourglass": [P((0.1, 0), (0.9, 0), (0.5, 0.5)), P((0.5, 0.5), (0.9, 1), (0.1, 1))],
        "lshape": [P((0.1, 0), (0.42, 0), (0.42, 0.68), (0.9, 0.68), (0.9, 1), (0.1, 1))],
        "tshape": [P((0, 0), (1, 0), (1, 0.32), (0.66, 0.32), (0.66, 1), (0.34, 1), (0.34, 0.32), (0, 0.32))],
        "chevron": [P((0, 0.15), (0.35, 0.15), (0.8, 0.5), (0.35, 0.85), (0, 0.85), (0.45, 0.5))],
        "bar": [P((0, 0.36), (1, 0.36), (1, 0.64), (0, 0.64))],
        "xshape": [P((0.1, 0), (1, 0.9), (0.9, 1), (0, 0.1)), P((0.9, 0), (1, 0.1), (0.1, 1), (0, 0.9))],
        "pentagon": [_regular(cx, cy, r, 5)],
        "star4": [_regular(cx, cy, r, 4, inner=0.35)],
        "trapezoid": [P((0.3, 0.15), (0.7, 0.15), (1, 0.85), (0, 0.85))],
        "house": [P((0.5, 0), (1, 0.45), (0.85, 0.45), (0.85, 1), (0.15, 1), (0.15, 0.45), (0, 0.45))],
        "ushape": [P((0, 0), (0.32, 0), (0.32, 0.68), (0.68, 0.68), (0.68, 0), (1, 0), (1, 1), (0, 1))],
        "bowtie": [P((0, 0.1), (0.5, 0.5), (0, 0.9)), P((1, 0.1), (0.5, 0.5), (1, 0.9))],
        "parallelogram": [P((0.35, 0.2), (1, 0.2), (0.65, 0.8), (0, 0.8))],
        "hshape": [
            P((0, 0.1), (0.35, 0.1), (0.35, 0.9), (0, 0.9)),
            P((0.65, 0.1), (1, 0.1), (1, 0.9), (0.65, 0.9)),
            P((0.3, 0.4), (0.7, 0.4), (0.7, 0.6), (0.3, 0.6)),
        ],
    }
    return table.get(shape, [])


def _mask(shape: str, box, size: int) -> Image.Image:
    """The object's silhouette as an L-mode mask of the whole canvas."""
    mask = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(mask)
    x0, y0, x1, y1 = box
    w = x1 - x0
    t = max(2.0, w * 0.2)
    if shape == "circle":
        d.ellipse(box, fill=255)
    elif shape == "oval":
        d.ellipse((x0, y0 + 0.22 * w, x1, y1 - 0.22 * w), fill=255)
    elif shape == "ring":
        d.ellipse(box, fill=255)
        d.ellipse((x0 + t, y0 + t, x1 - t, y1 - t), fill=0)
    elif shape == "moon":
        d.ellipse(box, fill=255)
        d.ellipse((x0 + 0.35 * w, y0 - 0.05 * w, x1 + 0.35 * w, y1 - 0.05 * w), fill=0)
    elif shape == "heart":
        d.ellipse((x0, y0 + 0.05 * w, x0 + 0.55 * w, y0 + 0.6 * w), fill=255)
        d.ellipse((x0 + 0.45 * w, y0 + 0.05 * w, x1, y0 + 0.6 * w), fill=255)
        d.polygon([(x0 + 0.03 * w, y0 + 0.42 * w), (x1 - 0.03 * w, y0 + 0.42 * w), (x0 + w / 2, y1)], fill=255)
    elif shape == "semicircle":
        d.pieslice((x0, y0 + 0.25 * w, x1, y1 + 0.25 * w), 180, 360, fill=255)
    elif shape == "frame":
        d.rectangle(box, fill=255)
        d.rectangle((x0 + t, y0 + t, x1 - t, y1 - t), fill=0)
    elif shape == "triframe":
        d.polygon([(x0 + w / 2, y0), (x1, y1), (x0, y1)], fill=255)
        d.polygon([(x0 + w / 2, y0 + 2.2 * t), (x1 - 1.7 * t, y1 - t * 0.8), (x0 + 1.7 * t, y1 - t * 0.8)], fill=0)
    elif shape == "arc":
        d.arc(box, 200, 340, fill=255, width=int(t))
        d.arc((x0, y0 + 0.3 * w, x1, y1 + 0.3 * w), 200, 340, fill=255, width=int(t))
    else:
        polys = _shape_polygons(shape, box)
        if not polys:
            raise ValueError(f"unknown shape {shape!r}")
        for poly in polys:
            d.polygon(poly, fill=255)
    return mask


def _texture(pattern: str, colour: tuple[int, int, int], size: int) -> Image.Image:
    arr = np.empty((size, size, 3), np.float32)
    arr[:] = colour
    dark = np.asarray(colour, np.float32) * 0.35
    if pattern == "striped":
        arr[(np.arange(size) // 3) % 2 == 1, :] = dark
    elif pattern == "dotted":
        yy, xx = np.mgrid[0:size, 0:size]
        arr[((yy % 6) < 3) & ((xx % 6) < 3)] = dark
    return Image.fromarray(arr.astype(np.uint8))


def background(rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    base = rng.integers(15, 70, size=3)
    arr = np.clip(base + rng.normal(0, 5, size=(size, size, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def draw(objects: list[Obj], rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    """Render objects in order (later ones on top) on a dark noisy background."""
    image = background(rng, size)
    for o in objects:
        image.paste(_texture(o.pattern, COLOURS[o.colour], size), (0, 0), _mask(o.shape, o.box, size))
    return image


def place(
    rng: np.random.Generator,
    n: int,
    size: int = SIZE,
    big: tuple[float, float] = (0.4, 0.7),
    small: tuple[float, float] = (0.22, 0.36),
) -> list[tuple[float, float, float, float]]:
    """Boxes for n objects: the first is the largest; later ones overlap earlier ones by at most a third."""
    boxes: list[tuple[float, float, float, float]] = []
    for i in range(n):
        lo, hi = big if i == 0 else small
        for _ in range(50):
            w = float(rng.uniform(lo, hi) * size)
            x0, y0 = float(rng.uniform(0, size - w)), float(rng.uniform(0, size - w))
            box = (x0, y0, x0 + w, y0 + w)
            if all(_overlap(box, b) < 0.34 for b in boxes):
                break
        boxes.append(box)
    return boxes


def _overlap(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return iw * ih / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


# ----------------------------------------------------------------------------------------------- captions


def withheld_ids() -> list[int]:
    """Token ids of the novel attributes' names: trained, then never shipped (see the module docstring)."""
    from vwbench.tokenizer import encode

    ids = encode(list(NAMES.values()), 3, 0)[:, 1].tolist()
    return sorted(set(ids))


def phrase(o: Obj, rng: np.random.Generator | None = None, size_word: bool = False, named: bool = False) -> str:
    """The words for an object: novel attributes by their withheld `NAMES` when `named`, else left out or generic."""
    words = []
    if size_word:
        frac = (o.box[2] - o.box[0]) / SIZE
        words.append("big" if frac >= 0.5 else "small" if frac < 0.33 else "")
    if o.pattern != "plain" or (rng is not None and rng.random() < 0.15):
        words.append(o.pattern)
    if o.colour in KNOWN_COLOURS or named:
        words.append(NAMES.get(o.colour, o.colour))
    if o.shape in KNOWN_SHAPES or named:
        words.append(NAMES.get(o.shape, o.shape))
    else:
        words.append(GENERIC_WORDS[int(rng.integers(len(GENERIC_WORDS)))] if rng is not None else "thing")
    return " ".join(w for w in words if w)


def content_key(objects: list[Obj], named: bool = False) -> tuple:
    """What a caption can say of a scene, whatever its template, size and position words: each object's pattern,
    colour and shape (known ones only unless `named`; "" where the caption has no word). Scenes with equal keys
    are indistinguishable in words, so contrastive training treats them as positives of each other."""
    return tuple(
        sorted(
            (
                o.pattern,
                o.colour if o.colour in KNOWN_COLOURS or named else "",
                o.shape if o.shape in KNOWN_SHAPES or named else "",
            )
            for o in objects
        )
    )


def caption(objects: list[Obj], rng: np.random.Generator, named: bool = False) -> str:
    """A plain-English caption of a rendered scene (novel attributes by their withheld names when `named`)."""
    phrases = [phrase(o, rng, size_word=rng.random() < 0.2, named=named) for o in objects]
    text = TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(phrases[0])
    for p in phrases[1:]:
        text += JOINERS[int(rng.integers(len(JOINERS)))] + p
    if len(objects) == 1 and rng.random() < 0.2:
        cx, cy = (objects[0].box[0] + objects[0].box[2]) / 2 / SIZE, (objects[0].box[1] + objects[0].box[3]) / 2 / SIZE
        side = (
            "left"
            if cx < 0.35
            else "right"
            if cx > 0.65
            else "top"
            if cy < 0.35
            else "bottom"
            if cy > 0.65
            else "center"
        )
        text += f" on the {side}" if side != "center" else " in the center"
    return text


# ------------------------------------------------------------------------------------------- known world


def random_object(rng: np.random.Generator, box, novel_rate: float = 0.3) -> Obj:
    """An object of the known world: mostly known attributes, novel ones at `novel_rate` each."""
    novel_shapes = NOVEL_SHAPES_A + NOVEL_SHAPES_B
    shape = (
        novel_shapes[int(rng.integers(len(novel_shapes)))]
        if rng.random() < novel_rate
        else KNOWN_SHAPES[int(rng.integers(len(KNOWN_SHAPES)))]
    )
    colour = (
        list(NOVEL_COLOURS)[int(rng.integers(len(NOVEL_COLOURS)))]
        if rng.random() < novel_rate
        else list(KNOWN_COLOURS)[int(rng.integers(len(KNOWN_COLOURS)))]
    )
    pattern = PATTERNS[int(rng.choice(3, p=[0.6, 0.2, 0.2]))]
    return Obj(shape, colour, pattern, box)


def known_scene(
    rng: np.random.Generator, max_objects: int = 1, novel_rate: float = 0.3, size: int = SIZE, named: bool = False
):
    """A training scene of the known world: (image, objects, caption)."""
    n = int(rng.integers(1, max_objects + 1))
    objects = [random_object(rng, b, novel_rate) for b in place(rng, n, size)]
    return draw(objects, rng, size), objects, caption(objects, rng, named)
