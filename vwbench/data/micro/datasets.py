"""The four micro datasets: the 40 new concepts rendered from their attributes, deterministically from the spec.

A concept's `source_id` is `shape:colour:pattern`; `*` fills the slot with a random known attribute per image.
`source.kind` says how images are composed, mirroring the paper's four datasets:
  objects    one object per image (ImageNet-DET);
  instances  one fixed object per image, only a few images (DreamBooth);
  clutter    min..max objects, the concept is the largest box (COCO);
  scenes     1..max objects, the concept is the largest box (VOC).
Distractors are objects of known attributes only, so every box of a novel attribute belongs to the label.
"""

from __future__ import annotations

import numpy as np

from vwbench.data.micro import world
from vwbench.data.types import ConceptDataset, Example
from vwbench.errors import VWBenchError
from vwbench.spec import DatasetSpec

KINDS = {"objects": (1, 1), "instances": (1, 1), "clutter": (3, 5), "scenes": (1, 3)}


def parse_source_id(source_id: str) -> tuple[str, str, str]:
    parts = str(source_id).split(":")
    if len(parts) != 3:
        raise VWBenchError(f"micro concept source_id {source_id!r} is not shape:colour:pattern")
    shape, colour, pattern = parts
    for value, allowed, what in (
        (shape, world.SHAPES, "shape"),
        (colour, world.COLOURS, "colour"),
        (pattern, world.PATTERNS, "pattern"),
    ):
        if value != "*" and value not in allowed:
            raise VWBenchError(f"micro concept source_id {source_id!r}: unknown {what} {value!r}")
    return shape, colour, pattern


def _fill(rng, attrs, box) -> world.Obj:
    known = world.random_object(rng, box, novel_rate=0.0)
    shape, colour, pattern = attrs
    return world.Obj(
        known.shape if shape == "*" else shape,
        known.colour if colour == "*" else colour,
        known.pattern if pattern == "*" else pattern,
        box,
    )


def render_example(
    rng,
    attrs,
    kind: str,
    size: int = world.SIZE,
    max_objects: int | None = None,
    concept_size: tuple[float, float] | None = None,
):
    """One image of a concept: the concept's object first (the largest, its side a `concept_size` fraction of
    the image), then known distractors."""
    lo, hi = KINDS[kind]
    hi = max_objects or hi
    n = int(rng.integers(lo, hi + 1))
    big = tuple(concept_size) if concept_size else (0.45, 0.75) if n == 1 else (0.4, 0.6)
    boxes = world.place(rng, n, size, big=big)
    objects = [_fill(rng, attrs, boxes[0])] + [world.random_object(rng, b, novel_rate=0.0) for b in boxes[1:]]
    return world.draw(objects, rng, size), objects


def micro_dataset(spec: DatasetSpec) -> ConceptDataset:
    """Render the train and test images of every concept of a micro dataset spec."""
    src = spec.source
    kind = src.get("kind")
    if kind not in KINDS:
        raise VWBenchError(f"{spec.path}: source.kind must be one of {sorted(KINDS)}, not {kind!r}")
    size = int(src.get("image_size", world.SIZE))
    max_objects = src.get("max_objects")
    concept_size = src.get("concept_size")
    if concept_size is not None and not (
        isinstance(concept_size, (list, tuple))
        and len(concept_size) == 2
        and 0 < concept_size[0] <= concept_size[1] <= 1
    ):
        raise VWBenchError(
            f"{spec.path}: source.concept_size must be [low, high] with 0 < low <= high <= 1, not {concept_size!r}"
        )
    train, test = {}, {}
    for ci, c in enumerate(spec.concepts):
        attrs = parse_source_id(c.source_id)
        rng = np.random.default_rng([int(src.get("seed", 0)), int(spec.split["seed"]), ci])
        for split, count, out in (
            ("train", spec.split["train_images"], train),
            ("test", spec.split["test_images"], test),
        ):
            examples = []
            for k in range(count):
                image, objects = render_example(rng, attrs, kind, size, max_objects, concept_size)
                examples.append(
                    Example(
                        key=f"{spec.name}/{c.id}/{split}/{k}",
                        label=c.id,
                        boxes=[o.box for o in objects],
                        box_labels=[c.id] + [None] * (len(objects) - 1),
                        _image=image,
                    )
                )
            out[c.id] = examples
    return ConceptDataset.of(spec, train, test, {"format": "micro", **src})
