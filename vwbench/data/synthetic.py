"""A deterministic renderer of coloured shapes with exact boxes: the tiny suite's generated data.

Each concept of a synthetic dataset spec is `colour:shape`. Single scenes show one object; multi scenes show one
to `max_objects` objects, and the image's label is the class of its largest box (the COCO/VOC rule).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from vwbench.data.types import ConceptDataset, Example
from vwbench.spec import DatasetSpec

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (40, 80, 230),
    "yellow": (235, 215, 40),
    "purple": (150, 50, 200),
    "orange": (245, 140, 30),
    "white": (245, 245, 245),
    "cyan": (40, 210, 220),
}
SHAPES = ("square", "circle", "triangle", "star", "ring", "cross", "diamond")


def _polygon(shape: str, box: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    if shape == "triangle":
        return [(cx, y0), (x1, y1), (x0, y1)]
    if shape == "diamond":
        return [(cx, y0), (x1, cy), (cx, y1), (x0, cy)]
    if shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        return pts
    raise ValueError(shape)


def draw_object(draw: ImageDraw.ImageDraw, shape: str, colour: tuple[int, int, int], box) -> None:
    x0, y0, x1, y1 = box
    w = x1 - x0
    if shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=max(2, int(w / 5)))
    elif shape == "cross":
        t = w / 3
        draw.rectangle((x0 + t, y0, x1 - t, y1), fill=colour)
        draw.rectangle((x0, y0 + t, x1, y1 - t), fill=colour)
    else:
        draw.polygon(_polygon(shape, box), fill=colour)


def render_scene(rng: np.random.Generator, objects: list[tuple[str, str]], size: int, grid: int = 0):
    """Render `objects` [(colour, shape)] on a noisy background; returns the image and each object's box.

    The first object is the largest, so the largest-box label is the scene's first object. With `grid` > 0 each
    object fills one distinct cell of a grid x grid layout (the tiny suite's detector predicts one box per cell).
    """
    bg = rng.integers(20, 90, size=3)
    arr = np.clip(bg + rng.normal(0, 6, size=(size, size, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(arr)
    draw = ImageDraw.Draw(image)
    boxes = []
    cells = rng.permutation(grid * grid) if grid else None
    for i, (colour, shape) in enumerate(objects):
        if grid:
            cell = size / grid
            inset = cell * (0.06 if i == 0 else 0.2)
            x0, y0 = (cells[i] % grid) * cell + inset, (cells[i] // grid) * cell + inset
            w = cell - 2 * inset
        else:
            frac = rng.uniform(0.45, 0.7) if i == 0 else rng.uniform(0.2, 0.35)
            w = max(6.0, frac * size)
            x0, y0 = rng.uniform(0, size - w), rng.uniform(0, size - w)
        box = (float(x0), float(y0), float(x0 + w), float(y0 + w))
        draw_object(draw, shape, COLOURS[colour], box)
        boxes.append(box)
    return image, boxes


def synthetic_dataset(spec: DatasetSpec) -> ConceptDataset:
    """Render the train and test images of every concept of a synthetic dataset spec."""
    src = spec.source
    size, max_objects = int(src.get("image_size", 64)), int(src.get("max_objects", 1))
    multi, grid = src.get("scene", "single") == "multi", int(src.get("grid", 0))
    if grid and max_objects > grid * grid:
        raise ValueError(f"{spec.path}: max_objects {max_objects} does not fit a {grid}x{grid} grid")
    rng = np.random.default_rng([int(src.get("seed", 0)), int(spec.split["seed"])])
    parsed = {c.id: tuple(str(c.source_id).split(":")) for c in spec.concepts}
    distractors = [(col, shp) for col in COLOURS for shp in SHAPES if (col, shp) not in parsed.values()]
    train, test = {}, {}
    for c in spec.concepts:
        for split, count, out in (
            ("train", spec.split["train_images"], train),
            ("test", spec.split["test_images"], test),
        ):
            examples = []
            for k in range(count):
                objects = [parsed[c.id]]
                if multi:
                    n_extra = int(rng.integers(0, max_objects))
                    objects += [distractors[int(j)] for j in rng.choice(len(distractors), n_extra, replace=False)]
                image, boxes = render_scene(rng, objects, size, grid)
                labels = [c.id] + [None] * (len(objects) - 1)
                examples.append(
                    Example(
                        key=f"{spec.name}/{c.id}/{split}/{k}", label=c.id, boxes=boxes, box_labels=labels, _image=image
                    )
                )
            out[c.id] = examples
    return ConceptDataset.of(spec, train, test, {"format": "synthetic", **src})
