"""COCO 2017 on disk."""

from __future__ import annotations

import json
from pathlib import Path

from vwbench.data.formats import FORMATS
from vwbench.data.formats import base as shared
from vwbench.data.formats.base import BadImage, Candidate, Reader
from vwbench.errors import VWBenchError


@FORMATS.register("coco")
class CocoReader(Reader):
    """COCO 2017: `annotations/instances_{train,val}2017.json`, `train2017/`, `val2017/`.

    A concept's `source_id` is its COCO category id. The image's label is the class of its shared.largest non-crowd box.
    """

    def __init__(self, spec, root):
        src = spec.source
        self.train_split = str(src.get("train_split", "train2017"))
        self.test_split = str(src.get("test_split", "val2017"))
        super().__init__(spec, root)

    def locate(self) -> Path:
        for base in (self.given_root, self.given_root / "coco", self.given_root / "COCO"):
            if (base / "annotations").is_dir() or any((base / s).is_dir() for s in (self.train_split, self.test_split)):
                return base
        raise shared.wrong_root(
            self.given_root,
            "COCO 2017",
            f"annotations/instances_{self.train_split}.json and {self.train_split}/, {self.test_split}/ image folders",
        )

    def annotation_file(self, split: str) -> Path:
        return self.root / "annotations" / f"instances_{split}.json"

    def candidates(self, split, on_bad=shared.raise_bad):
        name = self.train_split if split == "train" else self.test_split
        ann_file = self.annotation_file(name)
        if not ann_file.is_file():
            raise VWBenchError(
                f"{ann_file}: annotation file not found (COCO needs annotations/instances_"
                f"{self.train_split}.json and instances_{self.test_split}.json from "
                "annotations_trainval2017.zip)"
            )
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
                on_bad(
                    BadImage(
                        f"{ann_file}: annotation {objs[0].get('id')} names image id {image_id}, "
                        "which is not in the file's image list"
                    )
                )
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
            file = image_dir / im["file_name"]
            size = (int(im["width"]), int(im["height"])) if im.get("width") and im.get("height") else None
            shared.file_by_largest(
                out,
                lambda c: by_cat.get(int(c)),
                file,
                self.root,
                boxes,
                classes,
                str(ann_file),
                size,
                {"image_id": image_id},
            )
        return out
