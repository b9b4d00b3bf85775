"""Dataset manifests: which images of a real dataset each concept trains and tests on, fixed once.

`prepare_manifest` reads a dataset in its own on-disk format (`vwbench.data.formats`), chooses each concept's
train images (`split.train_images`, sampled with `split.seed` from the training split) and test images (up to
`split.test_images` from the validation split; DreamBooth: `split.holdout` held-out images, PROTOCOL.md 14.8),
checks each chosen image (decodes it fully, checks its boxes) and writes JSON lines: a header, then one line per
image with its path (relative to the header's root), sha256, size, label, boxes (absolute `xyxy` on the image as
`load_image` returns it, EXIF orientation applied), box labels (concept ids, null for other classes) and source
classes. Every line is validated against `vwbench/schemas/manifest.schema.json`; the file is written atomically.

`load_manifest` turns a manifest back into the `ConceptDataset` every task consumes, verifying each image's hash;
`load_dataset` dispatches through the format registry: rendered formats are drawn, others read from manifests.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import jsonschema

from vwbench import atomic
from vwbench.data import formats
from vwbench.data.formats.base import BadImage, Candidate
from vwbench.data.images import file_sha256, inspect_image, load_image, orient_boxes
from vwbench.data.types import ConceptDataset, Example
from vwbench.errors import VWBenchError
from vwbench.spec import DatasetSpec, schema

MANIFEST_VERSION = 1
BOX_TOLERANCE = 1.0  # boxes may overhang the image by this many pixels (rounding in official files); clipped
BoxFn = Callable[..., list]  # box_fn(image, query) -> [[x0, y0, x1, y1], ...] (optionally with scores, see below)


def _validator():
    return jsonschema.Draft202012Validator(schema("manifest"))


def _check_line(validator, doc: dict, where: str) -> None:
    errors = list(validator.iter_errors(doc))
    if errors:
        err = errors[0]
        if err.context:  # a oneOf failure: report the branch that matches the line's kind
            kind = doc.get("kind") if isinstance(doc, dict) else None
            branch = 0 if kind == "header" else 1
            sub = [e for e in err.context if e.relative_schema_path and e.relative_schema_path[0] == branch]
            err = min(sub or err.context, key=lambda e: len(list(e.absolute_path)))
        field = ".".join(str(p) for p in err.absolute_path) or "<line>"
        raise VWBenchError(f"{where}: {field}: {err.message}")


def _rng(spec: DatasetSpec, concept_id: str, split: str) -> random.Random:
    # seeded by names, not positions: adding a concept to a spec does not change the others' images
    return random.Random(f"vwbench:{spec.name}:{concept_id}:{split}:{int(spec.split['seed'])}")


def _r(v: float) -> float:
    v = round(float(v), 3)
    return int(v) if v == int(v) else v


class Preparer:
    """Checks chosen candidates and turns them into manifest records."""

    def __init__(self, spec: DatasetSpec, box_fn: BoxFn | None, on_bad: Callable[[BadImage], None]):
        self.spec, self.box_fn, self.on_bad = spec, box_fn, on_bad
        self.concept_ids = {str(c.source_id): c.id for c in spec.concepts}
        self.names = {c.id: c.name for c in spec.concepts}

    def check(self, cand: Candidate, split: str) -> dict:
        """The manifest record of a candidate; BadImage if the image or its boxes are unusable."""
        if not cand.file.is_file():
            raise BadImage(f"{cand.source}: names image {cand.file}, which does not exist")
        try:
            info = inspect_image(cand.file)
        except VWBenchError as exc:
            raise BadImage(str(exc)) from None
        width, height = info.size
        scores = None
        if cand.boxes is None:  # derived from the image by a detector
            if self.box_fn is None:
                raise VWBenchError(f"dataset {self.spec.name!r} has no boxes: pass a boxes file or `--boxes owlv2`")
            query = self.names[cand.label]
            found = self.box_fn(load_image(cand.file), query)
            boxes, scores = _split_scores(found)
            if not boxes:
                raise BadImage(f"{cand.file}: the box detector found no {query!r}")
            boxes = [[min(max(v, 0.0), lim) for v, lim in zip(b, (width, height, width, height))] for b in boxes]
            classes = [str(self.spec.concept(cand.label).source_id)] * len(boxes)
        else:
            boxes, classes = [list(b) for b in cand.boxes], list(cand.box_classes)
            if not boxes:
                raise BadImage(f"{cand.source}: no boxes for {cand.key}")
            if not cand.oriented:
                raw = info.raw_size
                if cand.size is not None and tuple(cand.size) != raw:
                    if info.orientation in (5, 6, 7, 8) and tuple(cand.size) == info.size:
                        pass  # annotated on the image as displayed: nothing to turn
                    else:
                        raise BadImage(
                            f"{cand.source}: says {cand.file.name} is {cand.size[0]}x{cand.size[1]} "
                            f"but the image is {raw[0]}x{raw[1]}"
                        )
                elif info.orientation != 1:
                    boxes = orient_boxes(boxes, raw, info.orientation)
        checked = []
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            if not (x1 > x0 and y1 > y0):
                raise BadImage(f"{cand.source}: box {i} of {cand.key} has zero area ({[x0, y0, x1, y1]})")
            t = BOX_TOLERANCE
            if x0 < -t or y0 < -t or x1 > width + t or y1 > height + t:
                raise BadImage(
                    f"{cand.source}: box {i} of {cand.key} ({[_r(v) for v in (x0, y0, x1, y1)]}) lies "
                    f"outside the {width}x{height} image"
                )
            box = [
                _r(min(max(x0, 0), width)),
                _r(min(max(y0, 0), height)),
                _r(min(max(x1, 0), width)),
                _r(min(max(y1, 0), height)),
            ]
            if not (box[2] > box[0] and box[3] > box[1]):
                raise BadImage(f"{cand.source}: box {i} of {cand.key} has zero area inside the image ({box})")
            checked.append(box)
        record = {
            "kind": "image",
            "concept": cand.label,
            "split": split,
            "path": cand.key,
            "sha256": file_sha256(cand.file),
            "width": width,
            "height": height,
            "label": cand.label,
            "boxes": checked,
            "box_labels": [self.concept_ids.get(c) for c in classes],
            "box_classes": classes,
            "annotation": cand.source,
        }
        if scores is not None:
            record["box_scores"] = [_r(s) for s in scores]
        return record

    def choose(self, pool: list[Candidate], n: int, rng: random.Random, split: str) -> list[dict]:
        """Shuffle `pool` (sorted first, so the order on disk does not matter) and keep the first n usable."""
        order = sorted(pool, key=lambda c: c.key)
        rng.shuffle(order)
        chosen = []
        for cand in order:
            if len(chosen) == n:
                break
            try:
                chosen.append(self.check(cand, split))
            except BadImage as exc:
                self.on_bad(exc)
        return chosen


def _split_scores(found) -> tuple[list[list[float]], list[float] | None]:
    """A box function returns boxes, or (boxes, scores)."""
    if isinstance(found, tuple) and len(found) == 2:
        boxes, scores = found
        return [list(map(float, b)) for b in boxes], [float(s) for s in scores]
    return [list(map(float, b)) for b in found], None


def prepare_manifest(
    spec: DatasetSpec,
    root: str | Path,
    out: str | Path | None = None,
    *,
    skip_bad: bool = False,
    boxes_file: str | Path | None = None,
    box_fn: BoxFn | None = None,
    box_info: dict | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Choose, check and record the images of every concept of `spec`; write the manifest to `out` atomically.

    Returns {"path", "header", "records", "skipped": [messages]}. With `skip_bad`, unusable images are skipped
    (and counted) instead of stopping at the first one. `box_fn(image, query)` derives DreamBooth boxes.
    """
    fmt = formats.get(spec)
    if fmt.rendered:
        raise VWBenchError(f"dataset {spec.name!r} is synthetic and needs no manifest (it is rendered on the fly)")
    reader = fmt.open(spec, root, boxes_file)
    if reader.needs_boxes and boxes_file is None and box_fn is None:
        raise VWBenchError(
            f"dataset {spec.name!r} ships no boxes: pass --boxes FILE (a JSON boxes file) or --boxes owlv2"
        )
    skipped: list[str] = []

    def on_bad(exc: BadImage) -> None:
        if not skip_bad:
            raise exc
        skipped.append(str(exc))

    say = progress or (lambda msg: None)
    prep = Preparer(spec, box_fn, on_bad)
    split = spec.split
    records: list[dict] = []
    counts: dict[str, dict[str, int]] = {}
    if reader.pooled:
        holdout = int(split.get("holdout", 2))
        pools = reader.candidates("train", on_bad)
        for c in spec.concepts:
            say(f"{c.id}: checking {len(pools[c.id])} images")
            usable = prep.choose(pools[c.id], len(pools[c.id]), _rng(spec, c.id, "all"), "train")
            if len(usable) < holdout + 1:
                raise VWBenchError(
                    _too_few(
                        reader.root / str(c.source_id),
                        c.id,
                        len(usable),
                        holdout + 1,
                        "images (held-out ones plus at least one to train on)",
                        spec,
                        skipped,
                    )
                )
            test, train = usable[:holdout], usable[holdout : holdout + int(split["train_images"])]
            for r in test:
                r["split"] = "test"
            records += sorted(train, key=lambda r: r["path"]) + sorted(test, key=lambda r: r["path"])
            counts[c.id] = {"train": len(train), "test": len(test)}
    else:
        train_pools = reader.candidates("train", on_bad)
        test_pools = reader.candidates("test", on_bad)
        for c in spec.concepts:
            say(f"{c.id}: {len(train_pools.get(c.id, []))} train / {len(test_pools.get(c.id, []))} test candidates")
            n_train, n_test = int(split["train_images"]), int(split["test_images"])
            train = prep.choose(train_pools.get(c.id, []), n_train, _rng(spec, c.id, "train"), "train")
            if len(train) < n_train:
                raise VWBenchError(
                    _too_few(
                        reader.root,
                        c.id,
                        len(train),
                        n_train,
                        f"training images in split {reader.train_split!r}",
                        spec,
                        skipped,
                    )
                )
            test = prep.choose(test_pools.get(c.id, []), n_test, _rng(spec, c.id, "test"), "test")
            if not test:
                raise VWBenchError(
                    _too_few(reader.root, c.id, 0, 1, f"test images in split {reader.test_split!r}", spec, skipped)
                )
            records += train + test
            counts[c.id] = {"train": len(train), "test": len(test)}
    if boxes_file is not None:
        boxes = {"source": "file", "file": str(Path(boxes_file).resolve()), "sha256": file_sha256(boxes_file)}
    elif box_fn is not None:
        boxes = {"source": "function", **(box_info or {})}
    else:
        boxes = {"source": "annotations"}
    from vwbench import __version__

    header = {
        "kind": "header",
        "manifest_version": MANIFEST_VERSION,
        "dataset": spec.name,
        "format": spec.source["format"],
        "root": str(reader.root),
        "split": dict(split),
        "label_rule": spec.source["label_rule"],
        "concepts": [{"id": c.id, "source_id": c.source_id} for c in spec.concepts],
        "boxes": boxes,
        "source": reader.provenance(),
        "counts": counts,
        "skipped": len(skipped),
        "vwbench_version": __version__,
    }
    validator = _validator()
    lines = []
    for i, doc in enumerate([header, *records]):
        _check_line(validator, doc, f"manifest line {i + 1}")
        lines.append(json.dumps(doc, sort_keys=False, separators=(",", ":")))
    result = {"path": None, "header": header, "records": records, "skipped": skipped}
    if out is not None:
        result["path"] = str(atomic.write_text(Path(out), "\n".join(lines) + "\n", fsync=True))
    return result


def _too_few(where, concept_id, have, need, what, spec, skipped) -> str:
    msg = (
        f"{where}: concept {concept_id!r} has {have} usable {what}, but dataset spec {spec.name!r} "
        f"({spec.path or 'in memory'}) needs {need}"
    )
    if skipped:
        msg += f" ({len(skipped)} bad images were skipped)"
    return msg


# ------------------------------------------------------------------------------------------ loading


def read_manifest(path: str | Path) -> tuple[dict, list[dict]]:
    """The validated header and image records of a manifest file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise VWBenchError(f"{path}: manifest not found") from None
    validator = _validator()
    header, records = None, []
    for no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise VWBenchError(f"{path}: line {no}: not valid JSON ({exc})") from None
        _check_line(validator, doc, f"{path}: line {no}")
        if doc["kind"] == "header":
            if header is not None:
                raise VWBenchError(f"{path}: line {no}: a second header")
            header = doc
        elif header is None:
            raise VWBenchError(f"{path}: line {no}: an image line before the header")
        else:
            records.append(doc)
    if header is None:
        raise VWBenchError(f"{path}: empty manifest (no header line)")
    return header, records


def load_manifest(
    path: str | Path, spec: DatasetSpec, *, root: str | Path | None = None, verify: bool = True
) -> ConceptDataset:
    """The `ConceptDataset` of a prepared manifest. Checks that it was prepared for `spec` (name, split, concepts)
    and, with `verify`, that every image still has the sha256 it had then. `root` overrides the header's root
    (a dataset moved to another folder)."""
    path = Path(path)
    header, records = read_manifest(path)
    redo = f"rerun `vwbench data prepare {spec.name} --root PATH --out {path}`"
    if header["dataset"] != spec.name:
        raise VWBenchError(f"{path}: a manifest of dataset {header['dataset']!r}, not {spec.name!r}")
    if header["split"] != dict(spec.split):
        raise VWBenchError(
            f"{path}: prepared with split {header['split']}, but the spec now says {dict(spec.split)}; {redo}"
        )
    want = [{"id": c.id, "source_id": c.source_id} for c in spec.concepts]
    if header["concepts"] != want:
        raise VWBenchError(
            f"{path}: prepared for concepts {[c['id'] for c in header['concepts']]} "
            f"({header['concepts']}), but the spec now has {want}; {redo}"
        )
    base = Path(root) if root is not None else Path(header["root"])
    train: dict[str, list[Example]] = {c.id: [] for c in spec.concepts}
    test: dict[str, list[Example]] = {c.id: [] for c in spec.concepts}
    for r in records:
        if r["concept"] not in train:
            raise VWBenchError(
                f"{path}: image {r['path']} is of concept {r['concept']!r}, not in dataset {spec.name!r}"
            )
        file = base / r["path"]
        if verify:
            if not file.is_file():
                raise VWBenchError(
                    f"{file}: image listed in {path} not found (dataset moved? pass its root, or {redo})"
                )
            digest = file_sha256(file)
            if digest != r["sha256"]:
                raise VWBenchError(
                    f"{file}: image changed since the manifest was prepared (sha256 {digest[:12]}... "
                    f"!= {r['sha256'][:12]}... in {path}); restore it or {redo}"
                )
        if len(r["boxes"]) != len(r["box_labels"]):
            raise VWBenchError(f"{path}: image {r['path']}: {len(r['boxes'])} boxes but {len(r['box_labels'])} labels")
        ex = Example(
            key=f"{spec.name}/{r['path']}",
            label=r["label"],
            boxes=[tuple(b) for b in r["boxes"]],
            box_labels=list(r["box_labels"]),
            path=str(file),
            sha256=r["sha256"],
        )
        (train if r["split"] == "train" else test)[r["concept"]].append(ex)
    for split_name, split in (("train", train), ("test", test)):
        empty = [c for c, exs in split.items() if not exs]
        if empty:
            raise VWBenchError(f"{path}: no {split_name} images for concepts {empty}; {redo}")
    provenance = {k: v for k, v in header.items() if k not in ("kind",)}
    provenance.update(manifest=str(path), manifest_sha256=file_sha256(path), root=str(base))
    return ConceptDataset.of(spec, train, test, provenance)


def load_dataset(spec: DatasetSpec, manifest_path: str | Path | None = None, **kw) -> ConceptDataset:
    """Rendered formats (synthetic, micro) are drawn now; on-disk ones come from their prepared manifest."""
    fmt = formats.get(spec)
    if fmt.rendered:
        return fmt.load(spec)
    hint = (
        f"prepare it first: `vwbench data prepare {spec.name} --root PATH/TO/{spec.name.upper()}"
        f" --out {manifest_path or f'data/{spec.name}.jsonl'}` (see docs/datasets.md)"
    )
    if manifest_path is None:
        raise VWBenchError(f"dataset {spec.name!r} needs a prepared manifest; {hint}")
    if not Path(manifest_path).is_file():
        raise VWBenchError(f"{manifest_path}: manifest of dataset {spec.name!r} not found; {hint}")
    return load_manifest(manifest_path, spec, **kw)
