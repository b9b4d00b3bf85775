"""What every task adapter consumes: a dataset's images, labels and boxes per concept and split."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image


@dataclass
class Example:
    """One image: its label (concept id of the dataset, or None for an image of no dataset concept) and boxes.

    `boxes` are absolute `xyxy` pixel coordinates in the image as loaded; `box_labels` name each box's concept
    id (None for objects of other classes). Images load lazily through `loader`, or are held in memory.
    """

    key: str
    label: str | None
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    box_labels: list[str | None] = field(default_factory=list)
    path: str | None = None
    sha256: str | None = None
    _image: Image.Image | None = None
    loader: Callable[[], Image.Image] | None = None

    def image(self) -> Image.Image:
        if self._image is not None:
            return self._image
        if self.loader is not None:
            return self.loader()
        from vwbench.data.images import load_image

        return load_image(Path(self.path))

    def target_boxes(self, concept_id: str) -> list[tuple[float, float, float, float]]:
        return [b for b, lab in zip(self.boxes, self.box_labels) if lab == concept_id]


@dataclass
class ConceptDataset:
    """Train and test examples of every concept of one dataset spec."""

    name: str
    concepts: list[str]
    names: dict[str, str]
    train: dict[str, list[Example]]
    test: dict[str, list[Example]]
    provenance: dict = field(default_factory=dict)

    @classmethod
    def of(cls, spec, train: dict, test: dict, provenance: dict) -> ConceptDataset:
        """The dataset of a DatasetSpec: its name, concept ids and names, with these examples."""
        return cls(
            name=spec.name,
            concepts=[c.id for c in spec.concepts],
            names={c.id: c.name for c in spec.concepts},
            train=train,
            test=test,
            provenance=provenance,
        )

    def __post_init__(self):
        for split in (self.train, self.test):
            missing = [c for c in self.concepts if not split.get(c)]
            if missing:
                raise ValueError(f"dataset {self.name!r}: no examples for concepts {missing}")

    def all_train(self) -> list[Example]:
        return [e for c in self.concepts for e in self.train[c]]

    def all_test(self) -> list[Example]:
        return [e for c in self.concepts for e in self.test[c]]
