"""Readers of the real on-disk dataset formats (no downloads): ImageNet ILSVRC (CLS-LOC and DET), DreamBooth,
COCO 2017 and PASCAL VOC 2007/2012.

A reader finds a dataset's folder under the root the user gives, checks its layout, and lists every image of a
split that is a candidate for one of the spec's concepts (a `Candidate`: file, boxes as annotated, label).
Choosing images, checking them and writing the manifest is `vwbench.data.manifest`'s job. Documented decisions
(see docs/datasets.md):

- Boxes become absolute `xyxy` in continuous pixel coordinates: COCO `[x, y, w, h]` -> `[x, y, x + w, y + h]`;
  VOC boxes are 1-based inclusive pixel indices -> `[xmin - 1, ymin - 1, xmax, ymax]`; ILSVRC boxes are 0-based
  inclusive pixel indices -> `[xmin, ymin, xmax + 1, ymax + 1]`.
- Largest-box label: the class of the box with the largest area `w * h` (ties: the first box in annotation
  order). COCO crowd annotations (`iscrowd: 1`) are no object instance: they neither label an image nor count as
  boxes. VOC `difficult` objects are real instances and are kept.
"""

from __future__ import annotations

import csv
import json
import os
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

    key: str                      # path relative to the reader's root (posix): the image's id in the manifest
    file: Path
    label: str                    # concept id
    boxes: list[list[float]] | None
    box_classes: list[str]        # source class of each box (synset id, category id, VOC name, subject)
    source: str                   # the annotation file the record came from (named in errors)
    size: tuple[int, int] | None = None
    oriented: bool = False
    extra: dict = field(default_factory=dict)


OnBad = Callable[[BadImage], None]


def _raise(exc: BadImage) -> None:
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


def _wrong_root(root: Path, wanted: str, expected: str) -> VWBenchError:
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


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


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
            flags = {"difficult": (obj.findtext("difficult") or "0").strip() == "1",
                     "truncated": (obj.findtext("truncated") or "0").strip() == "1"}
            objects.append((name, box, flags))
    except (TypeError, ValueError) as exc:
        raise BadImage(f"{path}: malformed annotation XML ({exc})") from None
    return size, objects


# ------------------------------------------------------------------------------------------ readers


class Reader:
    """Base: `root` is the dataset folder found under the user's root; keys are relative to it."""

    format = ""
    train_split = "train"
    test_split = "val"

    def __init__(self, spec: DatasetSpec, root: str | Path):
        self.spec = spec
        self.given_root = _check_root(Path(root))
        self.root = self.locate()

    def locate(self) -> Path:
        raise NotImplementedError

    def candidates(self, split: str, on_bad: OnBad = _raise) -> dict[str, list[Candidate]]:
        """Candidates by concept id for split 'train' or 'test'."""
        raise NotImplementedError

    def provenance(self) -> dict:
        return {"format": self.format, "root": str(self.root),
                "train_split": self.train_split, "test_split": self.test_split}


class CocoReader(Reader):
    """COCO 2017: `annotations/instances_{train,val}2017.json`, `train2017/`, `val2017/`.

    A concept's `source_id` is its COCO category id. The image's label is the class of its largest non-crowd box.
    """

    format = "coco"

    def __init__(self, spec, root):
        src = spec.source
        self.train_split = str(src.get("train_split", "train2017"))
        self.test_split = str(src.get("test_split", "val2017"))
        super().__init__(spec, root)

    def locate(self) -> Path:
        for base in (self.given_root, self.given_root / "coco", self.given_root / "COCO"):
            if (base / "annotations").is_dir() or any((base / s).is_dir() for s in (self.train_split, self.test_split)):
                return base
        raise _wrong_root(self.given_root, "COCO 2017", f"annotations/instances_{self.train_split}.json and "
                          f"{self.train_split}/, {self.test_split}/ image folders")

    def annotation_file(self, split: str) -> Path:
        return self.root / "annotations" / f"instances_{split}.json"

    def candidates(self, split, on_bad=_raise):
        name = self.train_split if split == "train" else self.test_split
        ann_file = self.annotation_file(name)
        if not ann_file.is_file():
            raise VWBenchError(f"{ann_file}: annotation file not found (COCO needs annotations/instances_"
                               f"{self.train_split}.json and instances_{self.test_split}.json from "
                               "annotations_trainval2017.zip)")
        image_dir = self.root / name
        if not image_dir.is_dir():
            raise VWBenchError(f"{image_dir}: image folder not found (unpack {name}.zip under {self.root})")
        try:
            doc = json.loads(ann_file.read_text())
            images = {int(im["id"]): im for im in doc["images"]}
            anns = doc["annotations"]
            categories = {int(c["id"]): c["name"] for c in doc["categories"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise VWBenchError(f"{ann_file}: not a COCO instances file ({type(exc).__name__}: {exc})") from None
        by_cat = {int(c.source_id): c.id for c in self.spec.concepts}
        unknown = sorted(set(by_cat) - set(categories))
        if unknown:
            raise VWBenchError(f"{ann_file}: category ids {unknown} of dataset spec {self.spec.name!r} not found")
        per_image: dict[int, list[dict]] = {}
        for a in sorted(anns, key=lambda a: int(a.get("id", 0))):
            if a.get("iscrowd", 0):
                continue
            per_image.setdefault(int(a["image_id"]), []).append(a)
        out: dict[str, list[Candidate]] = {}
        for image_id in sorted(per_image):
            objs = per_image[image_id]
            im = images.get(image_id)
            if im is None:
                on_bad(BadImage(f"{ann_file}: annotation {objs[0].get('id')} names image id {image_id}, "
                                "which is not in the file's image list"))
                continue
            try:
                boxes = []
                for a in objs:
                    x, y, w, h = (float(v) for v in a["bbox"])
                    boxes.append([x, y, x + w, y + h])
            except (KeyError, TypeError, ValueError):
                on_bad(BadImage(f"{ann_file}: image {im.get('file_name')}: an annotation has no valid bbox"))
                continue
            classes = [str(int(a["category_id"])) for a in objs]
            label = by_cat.get(int(classes[largest(boxes)]))
            if label is None:
                continue
            file = image_dir / im["file_name"]
            size = (int(im["width"]), int(im["height"])) if im.get("width") and im.get("height") else None
            out.setdefault(label, []).append(Candidate(
                key=_rel(file, self.root), file=file, label=label, boxes=boxes, box_classes=classes,
                source=str(ann_file), size=size, extra={"image_id": image_id},
            ))
        return out


class VocReader(Reader):
    """PASCAL VOC 2007/2012: `VOCdevkit/VOC<year>/{Annotations,JPEGImages,ImageSets/Main}`.

    A concept's `source_id` is the VOC class name. The label is the class of the largest box (difficult included).
    """

    format = "voc"

    def __init__(self, spec, root):
        self.year = str(spec.source.get("year", 2012))
        self.train_split = str(spec.source.get("train_split", "train"))
        self.test_split = str(spec.source.get("test_split", "val"))
        super().__init__(spec, root)

    def locate(self) -> Path:
        r = self.given_root
        for base in (r / "VOCdevkit" / f"VOC{self.year}", r / f"VOC{self.year}", r):
            if (base / "Annotations").is_dir() or (base / "JPEGImages").is_dir() or (base / "ImageSets").is_dir():
                if base == r and r.name.startswith("VOC") and r.name != f"VOC{self.year}":
                    raise VWBenchError(f"{r}: a {r.name} folder, but dataset spec {self.spec.name!r} wants VOC{self.year}")
                return base
        others = sorted(p.name for p in [*r.glob("VOC20*"), *r.glob("VOCdevkit/VOC20*")])
        if others:
            raise VWBenchError(f"{r}: has {', '.join(others)} but dataset spec {self.spec.name!r} wants VOC{self.year}")
        raise _wrong_root(r, "PASCAL VOC", f"VOCdevkit/VOC{self.year}/ with Annotations/, JPEGImages/ and ImageSets/Main/")

    def candidates(self, split, on_bad=_raise):
        name = self.train_split if split == "train" else self.test_split
        list_file = self.root / "ImageSets" / "Main" / f"{name}.txt"
        for need in (self.root / "Annotations", self.root / "JPEGImages"):
            if not need.is_dir():
                raise VWBenchError(f"{need}: folder not found (an incomplete VOC{self.year} folder)")
        if not list_file.is_file():
            raise VWBenchError(f"{list_file}: image set file not found (an incomplete VOC{self.year} folder)")
        ids = [line.split()[0] for line in list_file.read_text().splitlines() if line.strip()]
        by_name = {str(c.source_id): c.id for c in self.spec.concepts}
        out: dict[str, list[Candidate]] = {}
        for image_id in ids:
            xml = self.root / "Annotations" / f"{image_id}.xml"
            try:
                size, objects = parse_voc_xml(xml, one_based=True)
                if not objects:
                    continue
            except BadImage as exc:
                on_bad(exc)
                continue
            boxes = [b for _, b, _ in objects]
            classes = [n for n, _, _ in objects]
            label = by_name.get(classes[largest(boxes)])
            if label is None:
                continue
            file = self.root / "JPEGImages" / f"{image_id}.jpg"
            out.setdefault(label, []).append(Candidate(
                key=_rel(file, self.root), file=file, label=label, boxes=boxes, box_classes=classes,
                source=str(xml), size=size, extra={"difficult": [f["difficult"] for _, _, f in objects]},
            ))
        return out


class ImageNetReader(Reader):
    """ImageNet ILSVRC, the folder tree `ILSVRC/{Data,Annotations}/{CLS-LOC,DET}/...` as unpacked from the
    ILSVRC tarballs or the Kaggle ImageNet Object Localization Challenge (which adds `LOC_val_solution.csv` and
    `LOC_train_solution.csv` next to `ILSVRC/`). A concept's `source_id` is its WordNet synset id.

    CLS-LOC (the paper suite's source): training images are `Data/CLS-LOC/train/<wnid>/<wnid>_N.JPEG`; only those
    with boxes (`Annotations/CLS-LOC/train/<wnid>/<wnid>_N.xml`, or rows of `LOC_train_solution.csv`) are
    candidates, since the detection task trains on boxes. Validation labels and boxes come from
    `LOC_val_solution.csv` if present, else `Annotations/CLS-LOC/val/*.xml`; validation images may lie flat in
    `Data/CLS-LOC/val/` or in `<wnid>/` sub-folders. The label is the image's class.

    DET: `Annotations/DET/{train,val}/**.xml` with images at the same relative path under `Data/DET/`; images
    hold several classes, so the label is the class of the largest box.
    """

    format = "imagenet"

    def __init__(self, spec, root):
        self.layout = str(spec.source.get("layout", "CLS-LOC"))
        if self.layout not in ("CLS-LOC", "DET"):
            raise VWBenchError(f"{spec.path}: source.layout must be CLS-LOC or DET, got {self.layout!r}")
        super().__init__(spec, root)

    def locate(self) -> Path:
        r = self.given_root
        for base in (r / "ILSVRC", r):
            if (base / "Data" / self.layout).is_dir() or (base / "Annotations" / self.layout).is_dir():
                return base
        if (r / "ILSVRC").is_dir() or (r / "Data").is_dir():
            other = "DET" if self.layout == "CLS-LOC" else "CLS-LOC"
            raise VWBenchError(f"{r}: no Data/{self.layout} or Annotations/{self.layout} in the ILSVRC folder"
                               + (f" (found only {other})" if any(r.glob(f"**/Data/{other}")) else ""))
        raise _wrong_root(r, "ImageNet ILSVRC", f"ILSVRC/Data/{self.layout}/ and ILSVRC/Annotations/{self.layout}/")

    def _csv(self, name: str) -> Path | None:
        for d in (self.given_root, self.root, self.root.parent):
            if (d / name).is_file():
                return d / name
        return None

    def provenance(self) -> dict:
        out = super().provenance()
        out["layout"] = self.layout
        out.update(getattr(self, "_label_sources", {}))
        return out

    def _note(self, split: str, source: str) -> None:
        self.__dict__.setdefault("_label_sources", {})[f"{split}_labels"] = source

    def _wnids(self) -> dict[str, str]:
        return {str(c.source_id): c.id for c in self.spec.concepts}

    @staticmethod
    def read_loc_csv(path: Path, wnids: set[str] | None) -> dict[str, list[tuple[str, list[float]]]]:
        """`ImageId,PredictionString` rows ("wnid xmin ymin xmax ymax ..."): {image id: [(wnid, xyxy)]}."""
        out: dict[str, list[tuple[str, list[float]]]] = {}
        try:
            with open(path, newline="") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                if not header or [h.strip() for h in header[:2]] != ["ImageId", "PredictionString"]:
                    raise VWBenchError(f"{path}: expected the header 'ImageId,PredictionString', got {header}")
                for row_no, row in enumerate(reader, start=2):
                    if not row:
                        continue
                    parts = row[1].split() if len(row) > 1 else []
                    if not parts or len(parts) % 5:
                        raise VWBenchError(f"{path}: line {row_no}: expected groups of 'wnid xmin ymin xmax ymax'")
                    if wnids is not None and not any(p in wnids for p in parts[::5]):
                        continue
                    objs = []
                    for k in range(0, len(parts), 5):
                        xmin, ymin, xmax, ymax = (float(v) for v in parts[k + 1:k + 5])
                        objs.append((parts[k], [xmin, ymin, xmax + 1, ymax + 1]))
                    out[row[0].strip()] = objs
        except ValueError as exc:
            raise VWBenchError(f"{path}: malformed ({exc})") from None
        return out

    def candidates(self, split, on_bad=_raise):
        if self.layout == "DET":
            return self._det(split, on_bad)
        return self._clsloc_train(on_bad) if split == "train" else self._clsloc_val(on_bad)

    def _cand(self, file: Path, label: str, objs, source: str, size=None) -> Candidate:
        return Candidate(key=_rel(file, self.root), file=file, label=label, boxes=[b for _, b in objs],
                         box_classes=[w for w, _ in objs], source=source, size=size)

    def _clsloc_train(self, on_bad) -> dict[str, list[Candidate]]:
        data, ann = self.root / "Data" / "CLS-LOC" / "train", self.root / "Annotations" / "CLS-LOC" / "train"
        if not data.is_dir():
            raise VWBenchError(f"{data}: training image folder not found")
        csv_path = self._csv("LOC_train_solution.csv")
        if not ann.is_dir() and csv_path is None:
            raise VWBenchError(f"{ann}: training box annotations not found (unpack the CLS-LOC annotations, or put "
                               "LOC_train_solution.csv next to the ILSVRC folder)")
        rows = self.read_loc_csv(csv_path, set(self._wnids())) if not ann.is_dir() else None
        self._note("train", str(csv_path) if rows is not None else str(ann))
        out: dict[str, list[Candidate]] = {}
        for wnid, concept in self._wnids().items():
            folder = data / wnid
            if not folder.is_dir():
                raise VWBenchError(f"{folder}: no training images for synset {wnid} (concept {concept!r})")
            for file in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS):
                if rows is not None:
                    objs = rows.get(file.stem)
                    if not objs:
                        continue
                    source, size = str(csv_path), None
                else:
                    xml = ann / wnid / f"{file.stem}.xml"
                    if not xml.is_file():
                        continue  # not every training image has boxes
                    try:
                        size, parsed = parse_voc_xml(xml, one_based=False)
                    except BadImage as exc:
                        on_bad(exc)
                        continue
                    objs, source = [(n, b) for n, b, _ in parsed], str(xml)
                objs = [(w, b) for w, b in objs if w == wnid]
                if objs:
                    out.setdefault(concept, []).append(self._cand(file, concept, objs, source, size))
        return out

    def _val_file(self, image_id: str, wnid: str) -> Path:
        data = self.root / "Data" / "CLS-LOC" / "val"
        for cand in (data / f"{image_id}.JPEG", data / wnid / f"{image_id}.JPEG"):
            if cand.exists():
                return cand
        return data / f"{image_id}.JPEG"

    def _clsloc_val(self, on_bad) -> dict[str, list[Candidate]]:
        wnids = self._wnids()
        data = self.root / "Data" / "CLS-LOC" / "val"
        if not data.is_dir():
            raise VWBenchError(f"{data}: validation image folder not found")
        csv_path = self._csv("LOC_val_solution.csv")
        ann = self.root / "Annotations" / "CLS-LOC" / "val"
        records: dict[str, tuple[list, str, tuple | None]] = {}
        if csv_path is not None:
            self._note("test", str(csv_path))
            for image_id, objs in self.read_loc_csv(csv_path, set(wnids)).items():
                records[image_id] = (objs, str(csv_path), None)
        elif ann.is_dir():
            self._note("test", str(ann))
            for xml in sorted(ann.glob("*.xml")):
                got = self._read_xml(xml, wnids, on_bad)
                if got is None:
                    continue
                size, parsed = got
                records[xml.stem] = ([(n, b) for n, b, _ in parsed], str(xml), size)
        else:
            raise VWBenchError(f"{ann}: validation labels not found (need LOC_val_solution.csv next to the ILSVRC "
                               "folder, or the CLS-LOC val XMLs)")
        out: dict[str, list[Candidate]] = {}
        for image_id in sorted(records):
            objs, source, size = records[image_id]
            if not objs:
                continue
            label_wnid = objs[largest([b for _, b in objs])][0]
            concept = wnids.get(label_wnid)
            if concept is None:
                continue
            file = self._val_file(image_id, label_wnid)
            out.setdefault(concept, []).append(self._cand(file, concept, objs, source, size))
        return out

    @staticmethod
    def _read_xml(xml: Path, wnids, on_bad):
        """(size, objects) of an ILSVRC box XML naming one of `wnids`; None if it names none or is bad."""
        try:
            text = xml.read_text(errors="replace")
        except OSError as exc:
            on_bad(BadImage(f"{xml}: unreadable annotation ({exc})"))
            return None
        if not any(w in text for w in wnids):
            return None
        try:
            return parse_voc_xml(xml, one_based=False)
        except BadImage as exc:
            on_bad(exc)
            return None

    def _det(self, split, on_bad) -> dict[str, list[Candidate]]:
        name = "train" if split == "train" else "val"
        ann, data = self.root / "Annotations" / "DET" / name, self.root / "Data" / "DET" / name
        if not ann.is_dir():
            raise VWBenchError(f"{ann}: DET annotations not found")
        if not data.is_dir():
            raise VWBenchError(f"{data}: DET image folder not found")
        self._note(split, str(ann))
        wnids = self._wnids()
        out: dict[str, list[Candidate]] = {}
        for xml in sorted(ann.rglob("*.xml")):
            got = self._read_xml(xml, wnids, on_bad)
            if got is None:
                continue
            size, parsed = got
            if not parsed:
                continue
            objs = [(n, b) for n, b, _ in parsed]
            concept = wnids.get(objs[largest([b for _, b in objs])][0])
            if concept is None:
                continue
            file = (data / xml.relative_to(ann)).with_suffix(".JPEG")
            out.setdefault(concept, []).append(self._cand(file, concept, objs, str(xml), size))
        return out


class DreamBoothReader(Reader):
    """DreamBooth: a folder of subject sub-folders of images (`dataset/<subject>/NN.jpg` in google/dreambooth).

    A concept's `source_id` is its subject folder. No boxes ship with the dataset: they come from a boxes file
    (JSON `{"<subject>/<file>": [[x0, y0, x1, y1], ...]}`, absolute `xyxy` on the image as loaded, EXIF applied)
    or from a box function (the OWLv2 detector, queried with the concept's class name).
    """

    format = "dreambooth"
    train_split = "all but the held-out images"
    test_split = "held-out images"

    def __init__(self, spec, root, boxes_file: str | Path | None = None):
        super().__init__(spec, root)
        self.boxes_file = Path(boxes_file) if boxes_file else None
        self.boxes: dict[str, list] | None = None
        if self.boxes_file is not None:
            self.boxes = self.read_boxes_file(self.boxes_file)

    def locate(self) -> Path:
        subjects = [str(c.source_id) for c in self.spec.concepts]
        for base in (self.given_root / "dataset", self.given_root):
            if any((base / s).is_dir() for s in subjects):
                return base
        raise _wrong_root(self.given_root, "DreamBooth", f"subject folders such as {subjects[0]}/ (in dataset/ or at the root)")

    @staticmethod
    def read_boxes_file(path: Path) -> dict[str, list]:
        if not path.is_file():
            raise VWBenchError(f"{path}: boxes file not found")
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise VWBenchError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise VWBenchError(f'{path}: expected a JSON object {{"subject/file.jpg": [[x0, y0, x1, y1], ...]}}')
        for key, boxes in doc.items():
            ok = isinstance(boxes, list) and all(
                isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b) for b in boxes)
            if not ok:
                raise VWBenchError(f"{path}: {key!r}: expected a list of [x0, y0, x1, y1] boxes, got {boxes!r}")
        return {k.replace(os.sep, "/"): v for k, v in doc.items()}

    def subject_images(self) -> dict[str, list[Candidate]]:
        out: dict[str, list[Candidate]] = {}
        for c in self.spec.concepts:
            folder = self.root / str(c.source_id)
            if not folder.is_dir():
                raise VWBenchError(f"{folder}: subject folder for concept {c.id!r} not found")
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
            cands = []
            for file in files:
                key = _rel(file, self.root)
                boxes = None
                if self.boxes is not None:
                    boxes = self.boxes.get(key)
                    if boxes is None:
                        boxes = []  # reported as a bad image when it is checked
                cands.append(Candidate(
                    key=key, file=file, label=c.id, boxes=[[float(v) for v in b] for b in boxes] if boxes is not None else None,
                    box_classes=[str(c.source_id)] * len(boxes or []),
                    source=str(self.boxes_file) if self.boxes_file else str(folder), oriented=True,
                ))
            out[c.id] = cands
        return out

    def candidates(self, split, on_bad=_raise):
        return self.subject_images()

    def provenance(self) -> dict:
        out = super().provenance()
        out["boxes_file"] = str(self.boxes_file) if self.boxes_file else None
        return out


READERS = {"coco": CocoReader, "voc": VocReader, "imagenet": ImageNetReader, "dreambooth": DreamBoothReader}


def make_reader(spec: DatasetSpec, root: str | Path, boxes_file: str | Path | None = None) -> Reader:
    fmt = spec.source["format"]
    if fmt not in READERS:
        raise VWBenchError(f"dataset {spec.name!r} has format {fmt!r}, which has no on-disk reader")
    if fmt == "dreambooth":
        return DreamBoothReader(spec, root, boxes_file)
    if boxes_file is not None:
        raise VWBenchError(f"--boxes applies to DreamBooth only; dataset {spec.name!r} ships its own boxes")
    return READERS[fmt](spec, root)
