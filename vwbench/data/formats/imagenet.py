"""ImageNet ILSVRC (CLS-LOC and DET) on disk."""

from __future__ import annotations

import csv
from pathlib import Path

from vwbench.data.formats import FORMATS
from vwbench.data.formats import base as shared
from vwbench.data.formats.base import BadImage, Candidate, Reader
from vwbench.errors import VWBenchError


@FORMATS.register("imagenet")
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
    hold several classes, so the label is the class of the shared.largest box.
    """

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
            raise VWBenchError(
                f"{r}: no Data/{self.layout} or Annotations/{self.layout} in the ILSVRC folder"
                + (f" (found only {other})" if any(r.glob(f"**/Data/{other}")) else "")
            )
        raise shared.wrong_root(
            r, "ImageNet ILSVRC", f"ILSVRC/Data/{self.layout}/ and ILSVRC/Annotations/{self.layout}/"
        )

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
                        xmin, ymin, xmax, ymax = (float(v) for v in parts[k + 1 : k + 5])
                        objs.append((parts[k], [xmin, ymin, xmax + 1, ymax + 1]))
                    out[row[0].strip()] = objs
        except ValueError as exc:
            raise VWBenchError(f"{path}: malformed ({exc})") from None
        return out

    def candidates(self, split, on_bad=shared.raise_bad):
        if self.layout == "DET":
            return self._det(split, on_bad)
        return self._clsloc_train(on_bad) if split == "train" else self._clsloc_val(on_bad)

    def _cand(self, file: Path, label: str, objs, source: str, size=None) -> Candidate:
        return Candidate(
            key=shared.relative_key(file, self.root),
            file=file,
            label=label,
            boxes=[b for _, b in objs],
            box_classes=[w for w, _ in objs],
            source=source,
            size=size,
        )

    def _clsloc_train(self, on_bad) -> dict[str, list[Candidate]]:
        data, ann = self.root / "Data" / "CLS-LOC" / "train", self.root / "Annotations" / "CLS-LOC" / "train"
        if not data.is_dir():
            raise VWBenchError(f"{data}: training image folder not found")
        csv_path = self._csv("LOC_train_solution.csv")
        if not ann.is_dir() and csv_path is None:
            raise VWBenchError(
                f"{ann}: training box annotations not found (unpack the CLS-LOC annotations, or put "
                "LOC_train_solution.csv next to the ILSVRC folder)"
            )
        rows = self.read_loc_csv(csv_path, set(self._wnids())) if not ann.is_dir() else None
        self._note("train", str(csv_path) if rows is not None else str(ann))
        out: dict[str, list[Candidate]] = {}
        for wnid, concept in self._wnids().items():
            folder = data / wnid
            if not folder.is_dir():
                raise VWBenchError(f"{folder}: no training images for synset {wnid} (concept {concept!r})")
            for file in sorted(p for p in folder.iterdir() if p.suffix.lower() in shared.IMAGE_EXTS):
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
                        size, parsed = shared.parse_voc_xml(xml, one_based=False)
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
            raise VWBenchError(
                f"{ann}: validation labels not found (need LOC_val_solution.csv next to the ILSVRC "
                "folder, or the CLS-LOC val XMLs)"
            )
        out: dict[str, list[Candidate]] = {}
        for image_id in sorted(records):
            objs, source, size = records[image_id]
            if not objs:
                continue
            label_wnid = objs[shared.largest([b for _, b in objs])][0]
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
            return shared.parse_voc_xml(xml, one_based=False)
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
            concept = wnids.get(objs[shared.largest([b for _, b in objs])][0])
            if concept is None:
                continue
            file = (data / xml.relative_to(ann)).with_suffix(".JPEG")
            out.setdefault(concept, []).append(self._cand(file, concept, objs, str(xml), size))
        return out
