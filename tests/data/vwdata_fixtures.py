"""Helpers for tests/data: tiny fixture datasets in the official on-disk layouts (real JPEGs, real XML/JSON/CSV annotations), and small
dataset specs for them in a temporary spec root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

REPO_TASKS = Path(__file__).resolve().parents[2] / "vwbench" / "specs"


def jpeg(path: Path, size=(32, 24), colour=(120, 60, 30), orientation: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", size, colour)
    kw = {}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    im.save(path, "JPEG", quality=90, **kw)
    return path


def voc_xml(path: Path, size, objects, folder="VOC2012") -> Path:
    """objects: [(name, (xmin, ymin, xmax, ymax)) or (name, box, difficult)]"""
    path.parent.mkdir(parents=True, exist_ok=True)
    objs = ""
    for obj in objects:
        name, (x0, y0, x1, y1), *rest = obj
        diff = int(rest[0]) if rest else 0
        objs += (
            f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
            f"<difficult>{diff}</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
            f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        )
    path.write_text(
        f"<annotation><folder>{folder}</folder><filename>{path.stem}.jpg</filename>"
        f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>"
        f"<segmented>0</segmented>{objs}</annotation>"
    )
    return path


class SpecRoot:
    """A temporary spec folder (tasks/, datasets/, suites/) with the repo's detection task specs."""

    def __init__(self, root: Path):
        self.root = root
        for sub in ("tasks", "datasets", "suites"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for name in ("detection", "tiny-detection"):
            shutil.copy(REPO_TASKS / "tasks" / f"{name}.yaml", root / "tasks" / f"{name}.yaml")

    def dataset(self, name: str, source: dict, concepts: list[tuple], split: dict, anchors=None):
        anchors = anchors or [c[3] if len(c) > 3 else c[0] for c in concepts]
        doc = {
            "name": name,
            "source": source,
            "split": split,
            "anchors": anchors,
            "concepts": [
                {"id": c[0], "name": c[1], "source_id": c[2], "anchor": c[3] if len(c) > 3 else c[0]} for c in concepts
            ],
        }
        (self.root / "datasets" / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        from vwbench.spec import SpecLibrary

        return SpecLibrary(self.root).dataset(name)


@pytest.fixture
def specs(tmp_path) -> SpecRoot:
    return SpecRoot(tmp_path / "specs")


# --------------------------------------------------------------------------------------------- COCO

COCO_CATS = [{"id": 1, "name": "person"}, {"id": 17, "name": "cat"}, {"id": 18, "name": "dog"}]

# file -> (size, [(category, [x, y, w, h], iscrowd)])
COCO_TRAIN = {
    "000000000001.jpg": ((32, 24), [(17, [2, 2, 20, 15], 0), (18, [1, 1, 4, 4], 0)]),
    "000000000002.jpg": ((32, 24), [(17, [0, 0, 10, 10], 0)]),
    "000000000003.jpg": ((32, 24), [(17, [5.5, 4.25, 10, 8], 0)]),
    "000000000004.jpg": ((32, 24), [(17, [3, 3, 12, 12], 0)]),
    "000000000005.jpg": ((32, 24), [(17, [0, 0, 32, 24], 0)]),
    "000000000011.jpg": ((32, 24), [(18, [1, 1, 8, 8], 0)]),
    "000000000012.jpg": ((32, 24), [(18, [2, 2, 9, 9], 0)]),
    "000000000013.jpg": ((32, 24), [(18, [3, 3, 10, 10], 0)]),
    # a crowd of cats is larger, but crowd regions are not instances: the label is dog
    "000000000014.jpg": ((32, 24), [(17, [0, 0, 30, 22], 1), (18, [4, 4, 6, 6], 0)]),
    "000000000021.jpg": ((32, 24), [(1, [0, 0, 30, 20], 0), (17, [1, 1, 5, 5], 0)]),  # person: no concept
    "000000000022.jpg": ((32, 24), []),  # no annotations
}
COCO_VAL = {
    "000000000101.jpg": ((40, 30), [(17, [4, 3, 20, 20], 0), (18, [30, 1, 9, 9], 0)]),  # cat, largest
    "000000000102.jpg": ((40, 30), [(18, [0, 0, 10, 12], 0), (17, [10, 10, 12, 11], 0)]),  # cat 132 > dog 120
    "000000000103.jpg": ((40, 30), [(17, [1, 1, 30, 25], 0)]),
    "000000000111.jpg": ((40, 30), [(18, [2, 2, 30, 20], 0), (1, [0, 0, 5, 5], 0)]),
    "000000000112.jpg": ((40, 30), [(17, [0, 0, 40, 30], 1), (18, [5, 5, 10, 10], 0)]),  # crowd ignored: dog
    "000000000121.jpg": ((40, 30), [(1, [0, 0, 40, 30], 0)]),
}


def write_coco_split(root: Path, split: str, files: dict, first_id: int) -> None:
    images, anns = [], []
    ann_id = first_id * 10
    for k, (file, (size, objs)) in enumerate(files.items()):
        image_id = int(Path(file).stem)
        jpeg(root / split / file, size, (40 + 10 * k, 90, 140))
        images.append({"id": image_id, "file_name": file, "width": size[0], "height": size[1]})
        for cat, bbox, crowd in objs:
            ann_id += 1
            anns.append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": cat,
                    "bbox": bbox,
                    "iscrowd": crowd,
                    "area": bbox[2] * bbox[3] * 0.7,
                    "segmentation": [],
                }
            )
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    doc = {"info": {}, "licenses": [], "images": images, "annotations": anns, "categories": COCO_CATS}
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(doc))


@pytest.fixture
def coco_root(tmp_path) -> Path:
    root = tmp_path / "coco"
    write_coco_split(root, "train2017", COCO_TRAIN, 1)
    write_coco_split(root, "val2017", COCO_VAL, 2)
    return root


@pytest.fixture
def coco_spec(specs):
    return specs.dataset(
        "coco-mini",
        {"format": "coco", "label_rule": "largest_box"},
        [("cat", "cat", 17), ("dog", "dog", 18)],
        {"train_images": 3, "test_images": 4, "seed": 0},
    )


# --------------------------------------------------------------------------------------------- VOC

# id -> (size, [(name, (xmin, ymin, xmax, ymax) 1-based inclusive, difficult?)])
VOC_TRAIN = {
    "2008_000001": ((32, 24), [("cat", (1, 1, 20, 16))]),
    "2008_000002": ((32, 24), [("cat", (3, 3, 30, 20)), ("dog", (1, 1, 5, 5))]),
    "2008_000003": ((32, 24), [("cat", (2, 2, 12, 12))]),
    "2008_000011": ((32, 24), [("dog", (1, 1, 32, 24))]),
    "2008_000012": ((32, 24), [("dog", (4, 4, 10, 10)), ("person", (1, 1, 3, 3))]),
    "2008_000013": ((32, 24), [("dog", (5, 5, 25, 15), 1)]),
    "2008_000021": ((32, 24), [("person", (1, 1, 30, 22)), ("dog", (2, 2, 6, 6))]),
}
VOC_VAL = {
    "2008_000101": ((40, 30), [("dog", (1, 1, 10, 10)), ("cat", (11, 11, 40, 30))]),  # cat 600 > dog 100
    "2008_000102": ((40, 30), [("cat", (5, 5, 14, 14))]),
    "2008_000111": ((40, 30), [("dog", (2, 3, 21, 20)), ("cat", (1, 1, 4, 4), 1)]),
    "2008_000121": ((40, 30), [("person", (1, 1, 40, 30))]),
}


def write_voc(root: Path, year: int = 2012) -> Path:
    base = root / "VOCdevkit" / f"VOC{year}"
    for split, files in (("train", VOC_TRAIN), ("val", VOC_VAL)):
        for k, (image_id, (size, objs)) in enumerate(files.items()):
            jpeg(base / "JPEGImages" / f"{image_id}.jpg", size, (200, 30 + 20 * k, 90))
            voc_xml(base / "Annotations" / f"{image_id}.xml", size, objs, f"VOC{year}")
        (base / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
        (base / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{i}\n" for i in files))
    return base


@pytest.fixture
def voc_root(tmp_path) -> Path:
    write_voc(tmp_path / "voc")
    return tmp_path / "voc"


@pytest.fixture
def voc_spec(specs):
    return specs.dataset(
        "voc-mini",
        {"format": "voc", "label_rule": "largest_box", "year": 2012},
        [("cat", "cat", "cat"), ("dog", "dog", "dog")],
        {"train_images": 2, "test_images": 5, "seed": 0},
    )


# --------------------------------------------------------------------------------------------- ImageNet

WNIDS = {"strawberry": "n07745940", "harp": "n03495258"}


def write_imagenet(root: Path, val: str = "csv") -> Path:
    """ILSVRC/Data/CLS-LOC + Annotations/CLS-LOC; validation labels as LOC_val_solution.csv ('csv'), val XMLs
    ('xml') or both."""
    base = root / "ILSVRC"
    for w, wnid in enumerate(WNIDS.values()):
        for i in range(1, 6):
            stem = f"{wnid}_{i}"
            jpeg(base / "Data" / "CLS-LOC" / "train" / wnid / f"{stem}.JPEG", (32, 24), (10 + 40 * i, 50 * w, 80))
            if i != 5:  # not every training image has boxes
                voc_xml(
                    base / "Annotations" / "CLS-LOC" / "train" / wnid / f"{stem}.xml",
                    (32, 24),
                    [(wnid, (0, 0, 9 + i, 9))],
                    "n",
                )
    vals = {  # image id -> [(wnid, 0-based inclusive box)]
        "ILSVRC2012_val_00000001": [(WNIDS["strawberry"], (0, 0, 19, 14))],
        "ILSVRC2012_val_00000002": [(WNIDS["harp"], (2, 3, 30, 20)), (WNIDS["harp"], (0, 0, 4, 4))],
        "ILSVRC2012_val_00000003": [(WNIDS["strawberry"], (5, 5, 9, 9))],
        "ILSVRC2012_val_00000004": [("n01440764", (0, 0, 10, 10))],  # tench: no concept
    }
    rows = ["ImageId,PredictionString"]
    for k, (image_id, objs) in enumerate(vals.items()):
        jpeg(base / "Data" / "CLS-LOC" / "val" / f"{image_id}.JPEG", (40, 30), (30, 30 * k, 200))
        rows.append(f"{image_id}," + " ".join(f"{w} {x0} {y0} {x1} {y1}" for w, (x0, y0, x1, y1) in objs) + " ")
        if val in ("xml", "both"):
            voc_xml(base / "Annotations" / "CLS-LOC" / "val" / f"{image_id}.xml", (40, 30), objs, "val")
    if val in ("csv", "both"):
        (root / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    return base


@pytest.fixture
def imagenet_spec(specs):
    return specs.dataset(
        "imagenet-mini",
        {"format": "imagenet", "layout": "CLS-LOC", "label_rule": "image_class"},
        [("strawberry", "strawberry", WNIDS["strawberry"]), ("harp", "harp", WNIDS["harp"])],
        {"train_images": 3, "test_images": 50, "seed": 0},
    )


# --------------------------------------------------------------------------------------------- DreamBooth

DB_SUBJECTS = {"cat2": 5, "duck_toy": 4}


def write_dreambooth(root: Path) -> tuple[Path, dict]:
    boxes = {}
    for s, (subject, n) in enumerate(DB_SUBJECTS.items()):
        for i in range(n):
            jpeg(root / "dataset" / subject / f"{i:02d}.jpg", (48, 40), (60 * s, 40 * i, 100))
            boxes[f"{subject}/{i:02d}.jpg"] = [[2 + i, 3, 30, 35.5]]
    (root / "dataset" / "prompts_and_classes.txt").write_text("cat2,cat\nduck_toy,toy\n")
    path = root / "boxes.json"
    path.write_text(json.dumps(boxes))
    return path, boxes


@pytest.fixture
def dreambooth_spec(specs):
    return specs.dataset(
        "dreambooth-mini",
        {"format": "dreambooth", "label_rule": "subject_folder", "boxes": "file"},
        [("cat2", "cat", "cat2", "cat"), ("duck_toy", "toy", "duck_toy", "duck")],
        {"train_images": 8, "test_images": 2, "holdout": 2, "seed": 0},
    )
