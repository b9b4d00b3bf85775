"""DreamBooth on disk: folders of subject images; boxes from a file or a box function."""

from __future__ import annotations

import json
import os
from pathlib import Path

from vwbench.data.formats import FORMATS
from vwbench.data.formats import base as shared
from vwbench.data.formats.base import Candidate, Reader
from vwbench.errors import VWBenchError


@FORMATS.register("dreambooth")
class DreamBoothReader(Reader):
    """DreamBooth: a folder of subject sub-folders of images (`dataset/<subject>/NN.jpg` in google/dreambooth).

    A concept's `source_id` is its subject folder. No boxes ship with the dataset: they come from a boxes file
    (JSON `{"<subject>/<file>": [[x0, y0, x1, y1], ...]}`, absolute `xyxy` on the image as loaded, EXIF applied)
    or from a box function (the OWLv2 detector, queried with the concept's class name).
    """

    pooled = needs_boxes = True
    train_split = "all but the held-out images"
    test_split = "held-out images"

    def __init__(self, spec, root, boxes_file: str | Path | None = None):
        super().__init__(spec, root)
        self.boxes_file = Path(boxes_file) if boxes_file else None
        self.boxes: dict[str, list] | None = None
        if self.boxes_file is not None:
            self.boxes = self.read_boxes_file(self.boxes_file)

    @classmethod
    def open(cls, spec, root, boxes_file=None):
        return cls(spec, root, boxes_file)

    def locate(self) -> Path:
        subjects = [str(c.source_id) for c in self.spec.concepts]
        for base in (self.given_root / "dataset", self.given_root):
            if any((base / s).is_dir() for s in subjects):
                return base
        raise shared.wrong_root(
            self.given_root, "DreamBooth", f"subject folders such as {subjects[0]}/ (in dataset/ or at the root)"
        )

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
                isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b) for b in boxes
            )
            if not ok:
                raise VWBenchError(f"{path}: {key!r}: expected a list of [x0, y0, x1, y1] boxes, got {boxes!r}")
        return {k.replace(os.sep, "/"): v for k, v in doc.items()}

    def subject_images(self) -> dict[str, list[Candidate]]:
        out: dict[str, list[Candidate]] = {}
        for c in self.spec.concepts:
            folder = self.root / str(c.source_id)
            if not folder.is_dir():
                raise VWBenchError(f"{folder}: subject folder for concept {c.id!r} not found")
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in shared.IMAGE_EXTS)
            cands = []
            for file in files:
                key = shared.relative_key(file, self.root)
                boxes = None
                if self.boxes is not None:
                    boxes = self.boxes.get(key)
                    if boxes is None:
                        boxes = []  # reported as a bad image when it is checked
                cands.append(
                    Candidate(
                        key=key,
                        file=file,
                        label=c.id,
                        boxes=[[float(v) for v in b] for b in boxes] if boxes is not None else None,
                        box_classes=[str(c.source_id)] * len(boxes or []),
                        source=str(self.boxes_file) if self.boxes_file else str(folder),
                        oriented=True,
                    )
                )
            out[c.id] = cands
        return out

    def candidates(self, split, on_bad=shared.raise_bad):
        return self.subject_images()

    def provenance(self) -> dict:
        out = super().provenance()
        out["boxes_file"] = str(self.boxes_file) if self.boxes_file else None
        return out
