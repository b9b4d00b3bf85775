"""What the on-disk dataset formats share: a `Candidate` image, `BadImage`, the `Reader` base, root checks and the
PASCAL-style XML parser (VOC and ILSVRC). Documented decisions (see docs/datasets.md):

- Boxes become absolute `xyxy` in continuous pixel coordinates: COCO `[x, y, w, h]` -> `[x, y, x + w, y + h]`;
  VOC boxes are 1-based inclusive pixel indices -> `[xmin - 1, ymin - 1, xmax, ymax]`; ILSVRC boxes are 0-based
  inclusive pixel indices -> `[xmin, ymin, xmax + 1, ymax + 1]`.
- Largest-box label: the class of the box with the largest area `w * h` (ties: the first box in annotation
  order). COCO crowd annotations (`iscrowd: 1`) are no object instance: they neither label an image nor count as
  boxes. VOC `difficult` objects are real instances and are kept.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vwbench.errors import VWBenchError
from vwbench.spec import DatasetSpec

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class BadImage(VWBenchError):
    """One image (or its annotation) is unusable; `--skip-bad` skips these instead of stopping."""


@dataclass
class Candidate:
    """One image of a split that is a candidate for a concept, as its annotations describe it.

    `boxes` are `xyxy` in continuous pixel coordinates of the stored pixels (before EXIF orientation) unless
    `oriented` is set (boxes given on the image as loaded, e.g. a DreamBooth boxes file). `boxes` is None when a
    box function derives them from the image. `size` is the annotated (width, height), if the format has one.
    """

    key: str  # path relative to the reader's root (posix): the image's id in the manifest
    file: Path
    label: str  # concept id
    boxes: list[list[float]] | None
    box_classes: list[str]  # source class of each box (synset id, category id, VOC name, subject)
    source: str  # the annotation file the record came from (named in errors)
    size: tuple[int, int] | None = None
    oriented: bool = False
    extra: dict = field(default_factory=dict)


OnBad = Callable[[BadImage], None]


def raise_bad(exc: BadImage) -> None:
    """The default `on_bad`: stop at the first unusable image."""
    raise exc


def guess_layout(root: Path) -> str | None:
    """What dataset a folder looks like, for error messages."""
    if not root.is_dir():
        return None
    if (root / "annotations").is_dir() and any((root / "annotations").glob("instances_*.json")):
        return "COCO"
    if any((root / d).is_dir() for d in ("train2017", "val2017")):
        return "COCO"
    if (root / "VOCdevkit").is_dir() or ((root / "Annotations").is_dir() and (root / "JPEGImages").is_dir()):
        return "PASCAL VOC"
    if any(root.glob("VOC20*")):
        return "PASCAL VOC"
    if (root / "ILSVRC").is_dir() or (root / "Data" / "CLS-LOC").is_dir() or (root / "Data" / "DET").is_dir():
        return "ImageNet ILSVRC"
    if any(root.glob("LOC_*solution.csv")):
        return "ImageNet ILSVRC"
    for base in (root / "dataset", root):
        subs = [p for p in base.iterdir() if p.is_dir()] if base.is_dir() else []
        if subs and all(any(f.suffix.lower() in IMAGE_EXTS for f in p.iterdir()) for p in subs[:5]):
            return "DreamBooth-style (folders of images)"
    return None


def wrong_root(root: Path, wanted: str, expected: str) -> VWBenchError:
    """The error for a root that holds no `wanted` dataset, naming what it looks like instead."""
    guess = guess_layout(root)
    hint = f" (it looks like a {guess} folder)" if guess and not guess.startswith(wanted.split()[0]) else ""
    article = "an" if wanted[0] in "AEIOU" else "a"
    return VWBenchError(f"{root}: not {article} {wanted} folder: expected {expected}{hint}")


def _check_root(root: Path) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise VWBenchError(f"{root}: dataset root not found")
    if not root.is_dir():
        raise VWBenchError(f"{root}: dataset root is not a folder")
    return root.resolve()


def largest(boxes: list[list[float]]) -> int:
    """Index of the largest box by area (the first of equals)."""
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
    return max(range(len(areas)), key=lambda i: (areas[i], -i))


def relative_key(path: Path, root: Path) -> str:
    """An image's manifest key: its path relative to the reader's root (posix)."""
    return path.relative_to(root).as_posix()


def file_by_largest(out: dict, label_of, file: Path, root: Path, boxes, classes, source: str, size, extra) -> None:
    """File a multi-object image (COCO, VOC) under the concept of its largest object: `label_of(class)` names
    the concept, or None when that class is no concept's (the image is then left out)."""
    label = label_of(classes[largest(boxes)])
    if label is None:
        return
    out.setdefault(label, []).append(
        Candidate(
            key=relative_key(file, root),
            file=file,
            label=label,
            boxes=boxes,
            box_classes=classes,
            source=source,
            size=size,
            extra=extra,
        )
    )


# ------------------------------------------------------------------------------------------ PASCAL-style XML


def parse_voc_xml(path: Path, one_based: bool) -> tuple[tuple[int, int] | None, list[tuple[str, list[float], dict]]]:
    """The (width, height) and objects [(name, xyxy, {difficult, truncated})] of a PASCAL-format XML file
    (VOC and ILSVRC use the same format). Raises BadImage naming the file if it is malformed."""
    try:
        tree = ET.parse(path)
    except FileNotFoundError:
        raise BadImage(f"{path}: annotation file not found") from None
    except (ET.ParseError, OSError) as exc:
        raise BadImage(f"{path}: malformed annotation XML ({exc})") from None
    root = tree.getroot()
    size = None
    s = root.find("size")
    try:
        if s is not None and s.findtext("width") and s.findtext("height"):
            size = (int(float(s.findtext("width"))), int(float(s.findtext("height"))))
            if size[0] <= 0 or size[1] <= 0:
                size = None
        objects = []
        for obj in root.iter("object"):
            name = (obj.findtext("name") or "").strip()
            bb = obj.find("bndbox")
            if not name or bb is None:
                raise ValueError("an <object> without <name> or <bndbox>")
            xmin, ymin, xmax, ymax = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            # inclusive pixel indices -> continuous coordinates
            box = [xmin - 1, ymin - 1, xmax, ymax] if one_based else [xmin, ymin, xmax + 1, ymax + 1]
            flags = {
                "difficult": (obj.findtext("difficult") or "0").strip() == "1",
                "truncated": (obj.findtext("truncated") or "0").strip() == "1",
            }
            objects.append((name, box, flags))
    except (TypeError, ValueError) as exc:
        raise BadImage(f"{path}: malformed annotation XML ({exc})") from None
    return size, objects


# ------------------------------------------------------------------------------------------ readers


class Reader:
    """Base of the on-disk formats: `root` is the dataset folder found under the user's root; keys are relative
    to it. A reader lists each split's candidates; `pooled` ones (DreamBooth) list one pool per concept, from which
    the manifest holds images out for testing."""

    name = ""  # the format's registered name (vwbench.data.formats.FORMATS)
    rendered = False  # read from disk through a prepared manifest
    pooled = False  # one pool of images per concept; test images are held out of it
    needs_boxes = False  # ships no boxes: a boxes file or a box function must give them
    train_split = "train"
    test_split = "val"

    def __init__(self, spec: DatasetSpec, root: str | Path):
        self.spec = spec
        self.given_root = _check_root(Path(root))
        self.root = self.locate()

    @classmethod
    def open(cls, spec: DatasetSpec, root: str | Path, boxes_file: str | Path | None = None) -> Reader:
        """The reader of `spec`'s dataset under `root`; `boxes_file` only where the format ships no boxes."""
        if boxes_file is not None:
            raise VWBenchError(f"--boxes applies to DreamBooth only; dataset {spec.name!r} ships its own boxes")
        return cls(spec, root)

    def locate(self) -> Path:
        raise NotImplementedError

    def candidates(self, split: str, on_bad: OnBad = raise_bad) -> dict[str, list[Candidate]]:
        """Candidates by concept id for split 'train' or 'test'."""
        raise NotImplementedError

    def provenance(self) -> dict:
        return {
            "format": self.name,
            "root": str(self.root),
            "train_split": self.train_split,
            "test_split": self.test_split,
        }
