"""PASCAL VOC 2007/2012 on disk."""

from __future__ import annotations

from pathlib import Path

from vwbench.data.formats import FORMATS
from vwbench.data.formats import base as shared
from vwbench.data.formats.base import BadImage, Candidate, Reader
from vwbench.errors import VWBenchError


@FORMATS.register("voc")
class VocReader(Reader):
    """PASCAL VOC 2007/2012: `VOCdevkit/VOC<year>/{Annotations,JPEGImages,ImageSets/Main}`.

    A concept's `source_id` is the VOC class name. The label is the class of the shared.largest box (difficult included).
    """

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
                    raise VWBenchError(
                        f"{r}: a {r.name} folder, but dataset spec {self.spec.name!r} wants VOC{self.year}"
                    )
                return base
        others = sorted(p.name for p in [*r.glob("VOC20*"), *r.glob("VOCdevkit/VOC20*")])
        if others:
            raise VWBenchError(f"{r}: has {', '.join(others)} but dataset spec {self.spec.name!r} wants VOC{self.year}")
        raise shared.wrong_root(
            r, "PASCAL VOC", f"VOCdevkit/VOC{self.year}/ with Annotations/, JPEGImages/ and ImageSets/Main/"
        )

    def candidates(self, split, on_bad=shared.raise_bad):
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
                size, objects = shared.parse_voc_xml(xml, one_based=True)
                if not objects:
                    continue
            except BadImage as exc:
                on_bad(exc)
                continue
            boxes = [b for _, b, _ in objects]
            classes = [n for n, _, _ in objects]
            file = self.root / "JPEGImages" / f"{image_id}.jpg"
            shared.file_by_largest(
                out,
                by_name.get,
                file,
                self.root,
                boxes,
                classes,
                str(xml),
                size,
                {"difficult": [f["difficult"] for _, _, f in objects]},
            )
        return out
