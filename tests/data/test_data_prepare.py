"""Manifests of tiny fixture datasets in each real format: chosen images, labels, boxes, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from vwdata_fixtures import COCO_TRAIN, WNIDS, jpeg, voc_xml, write_dreambooth, write_imagenet, write_voc

from vwbench.data.images import inspect_image, load_image, orient_boxes
from vwbench.data.manifest import load_dataset, load_manifest, prepare_manifest, read_manifest
from vwbench.errors import VWBenchError


def by_path(records):
    return {r["path"]: r for r in records}


def paths(records, concept, split):
    return sorted(r["path"] for r in records if r["concept"] == concept and r["split"] == split)


# --------------------------------------------------------------------------------------------- COCO


def test_coco_manifest(coco_root, coco_spec, tmp_path):
    out = tmp_path / "coco.jsonl"
    res = prepare_manifest(coco_spec, coco_root, out)
    header, records = read_manifest(out)
    assert header["dataset"] == "coco-mini" and header["root"] == str(coco_root.resolve())
    assert header["counts"] == {"cat": {"train": 3, "test": 3}, "dog": {"train": 3, "test": 2}}
    assert header["boxes"] == {"source": "annotations"} and header["skipped"] == 0
    assert records == res["records"]
    # test images: every validation image labelled by its largest non-crowd box, up to test_images
    assert paths(records, "cat", "test") == [f"val2017/000000000{i}.jpg" for i in (101, 102, 103)]
    assert paths(records, "dog", "test") == ["val2017/000000000111.jpg", "val2017/000000000112.jpg"]
    # train images: 3 of the cat-labelled (1-5) and dog-labelled (11-14) training images
    cats = {f"train2017/{f}" for f in list(COCO_TRAIN)[:5]}
    dogs = {f"train2017/{f}" for f in list(COCO_TRAIN)[5:9]}
    assert len(set(paths(records, "cat", "train"))) == 3 and set(paths(records, "cat", "train")) <= cats
    assert len(set(paths(records, "dog", "train"))) == 3 and set(paths(records, "dog", "train")) <= dogs
    r = by_path(records)
    # xywh -> xyxy, other concepts' boxes labelled, crowd boxes dropped
    assert r["val2017/000000000101.jpg"]["boxes"] == [[4, 3, 24, 23], [30, 1, 39, 10]]
    assert r["val2017/000000000101.jpg"]["box_labels"] == ["cat", "dog"]
    assert r["val2017/000000000102.jpg"]["label"] == "cat"  # 12x11 cat beats 10x12 dog
    assert r["val2017/000000000102.jpg"]["box_labels"] == ["dog", "cat"]
    assert r["val2017/000000000111.jpg"]["box_labels"] == ["dog", None]  # person is no concept
    assert r["val2017/000000000111.jpg"]["box_classes"] == ["18", "1"]
    assert r["val2017/000000000112.jpg"]["boxes"] == [[5, 5, 15, 15]]  # the crowd box is gone
    assert (r["val2017/000000000103.jpg"]["width"], r["val2017/000000000103.jpg"]["height"]) == (40, 30)


def test_coco_deterministic_and_seeded(coco_root, coco_spec, specs, tmp_path):
    a = prepare_manifest(coco_spec, coco_root, tmp_path / "a.jsonl")
    b = prepare_manifest(coco_spec, coco_root, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    picks = set()
    for seed in range(6):
        spec = specs.dataset(
            "coco-mini",
            {"format": "coco", "label_rule": "largest_box"},
            [("cat", "cat", 17), ("dog", "dog", 18)],
            {"train_images": 3, "test_images": 4, "seed": seed},
        )
        picks.add(tuple(paths(prepare_manifest(spec, coco_root)["records"], "cat", "train")))
    assert len(picks) > 1  # the seed chooses the training images
    assert a["records"] == b["records"]


def test_load_manifest_and_dataset(coco_root, coco_spec, tmp_path):
    out = tmp_path / "coco.jsonl"
    prepare_manifest(coco_spec, coco_root, out)
    data = load_dataset(coco_spec, out)
    assert data.concepts == ["cat", "dog"] and data.names == {"cat": "cat", "dog": "dog"}
    assert [len(data.train[c]) for c in data.concepts] == [3, 3]
    ex = next(e for e in data.test["cat"] if e.path.endswith("000000000101.jpg"))
    assert ex.label == "cat" and ex.boxes == [(4, 3, 24, 23), (30, 1, 39, 10)] and ex.box_labels == ["cat", "dog"]
    assert ex.target_boxes("dog") == [(30, 1, 39, 10)]
    assert Path(ex.path).is_file() and len(ex.sha256) == 64 and ex.image().size == (40, 30)
    assert data.provenance["manifest"] == str(out) and data.provenance["format"] == "coco"


def test_changed_image_is_detected(coco_root, coco_spec, tmp_path):
    out = tmp_path / "coco.jsonl"
    prepare_manifest(coco_spec, coco_root, out)
    jpeg(coco_root / "val2017" / "000000000103.jpg", (40, 30), (1, 2, 3))
    with pytest.raises(VWBenchError, match=r"000000000103\.jpg: image changed since the manifest was prepared"):
        load_manifest(out, coco_spec)
    load_manifest(out, coco_spec, verify=False)


def test_manifest_must_match_spec(coco_root, coco_spec, specs, tmp_path):
    out = tmp_path / "coco.jsonl"
    prepare_manifest(coco_spec, coco_root, out)
    other = specs.dataset(
        "coco-mini",
        {"format": "coco", "label_rule": "largest_box"},
        [("cat", "cat", 17), ("dog", "dog", 18)],
        {"train_images": 2, "test_images": 4, "seed": 0},
    )
    with pytest.raises(VWBenchError, match="prepared with split .* rerun `vwbench data prepare coco-mini"):
        load_manifest(out, other)
    lines = out.read_text().splitlines()
    bad = json.loads(lines[1])
    bad["boxes"] = [[1, 2, 3]]
    (tmp_path / "bad.jsonl").write_text("\n".join([lines[0], json.dumps(bad)]) + "\n")
    with pytest.raises(VWBenchError, match=r"bad\.jsonl: line 2: boxes\.0"):
        load_manifest(tmp_path / "bad.jsonl", coco_spec)


def test_load_dataset_dispatch(coco_spec, tmp_path):
    from vwbench.spec import SpecLibrary

    tiny = SpecLibrary().dataset("tiny-objects")
    assert load_dataset(tiny).provenance["format"] == "synthetic"
    with pytest.raises(
        VWBenchError, match="needs a prepared manifest; prepare it first: `vwbench data prepare coco-mini"
    ):
        load_dataset(coco_spec)
    with pytest.raises(
        VWBenchError, match="nope.jsonl: manifest of dataset 'coco-mini' not found.*vwbench data prepare"
    ):
        load_dataset(coco_spec, tmp_path / "nope.jsonl")


# --------------------------------------------------------------------------------------------- VOC


def test_voc_manifest(voc_root, voc_spec, tmp_path):
    records = prepare_manifest(voc_spec, voc_root, tmp_path / "voc.jsonl")["records"]
    assert paths(records, "cat", "test") == ["JPEGImages/2008_000101.jpg", "JPEGImages/2008_000102.jpg"]
    assert paths(records, "dog", "test") == ["JPEGImages/2008_000111.jpg"]
    assert set(paths(records, "cat", "train")) <= {f"JPEGImages/2008_00000{i}.jpg" for i in (1, 2, 3)}
    assert set(paths(records, "dog", "train")) <= {f"JPEGImages/2008_0000{i}.jpg" for i in (11, 12, 13)}
    r = by_path(records)
    # 1-based inclusive pixel indices -> continuous xyxy: (xmin - 1, ymin - 1, xmax, ymax)
    assert r["JPEGImages/2008_000101.jpg"]["boxes"] == [[0, 0, 10, 10], [10, 10, 40, 30]]
    assert r["JPEGImages/2008_000101.jpg"]["box_labels"] == ["dog", "cat"]
    assert r["JPEGImages/2008_000111.jpg"]["boxes"] == [[1, 2, 21, 20], [0, 0, 4, 4]]  # difficult kept
    assert r["JPEGImages/2008_000111.jpg"]["label"] == "dog"


def test_voc2007_layout(tmp_path, specs):
    write_voc(tmp_path / "v7", year=2007)
    spec = specs.dataset(
        "voc07",
        {"format": "voc", "label_rule": "largest_box", "year": 2007},
        [("cat", "cat", "cat")],
        {"train_images": 1, "test_images": 5, "seed": 0},
    )
    records = prepare_manifest(spec, tmp_path / "v7" / "VOCdevkit")["records"]
    assert paths(records, "cat", "test") == ["JPEGImages/2008_000101.jpg", "JPEGImages/2008_000102.jpg"]
    wrong = specs.dataset(
        "voc12",
        {"format": "voc", "label_rule": "largest_box", "year": 2012},
        [("cat", "cat", "cat")],
        {"train_images": 1, "test_images": 5, "seed": 0},
    )
    with pytest.raises(VWBenchError, match="has VOC2007 but dataset spec 'voc12' wants VOC2012"):
        prepare_manifest(wrong, tmp_path / "v7")


# --------------------------------------------------------------------------------------------- ImageNet


@pytest.mark.parametrize("val", ["csv", "xml"])
def test_imagenet_clsloc(tmp_path, imagenet_spec, val):
    write_imagenet(tmp_path / "in", val=val)
    res = prepare_manifest(imagenet_spec, tmp_path / "in", tmp_path / "in.jsonl")
    records, header = res["records"], res["header"]
    s, h = WNIDS["strawberry"], WNIDS["harp"]
    assert header["root"] == str((tmp_path / "in" / "ILSVRC").resolve())
    assert header["source"]["layout"] == "CLS-LOC"
    assert header["source"]["test_labels"].endswith("LOC_val_solution.csv" if val == "csv" else "val")
    assert paths(records, "strawberry", "test") == [f"Data/CLS-LOC/val/ILSVRC2012_val_0000000{i}.JPEG" for i in (1, 3)]
    assert paths(records, "harp", "test") == ["Data/CLS-LOC/val/ILSVRC2012_val_00000002.JPEG"]
    # only training images with box XMLs (1-4, not 5) are candidates
    for concept, wnid in (("strawberry", s), ("harp", h)):
        chosen = paths(records, concept, "train")
        assert len(chosen) == 3
        assert set(chosen) <= {f"Data/CLS-LOC/train/{wnid}/{wnid}_{i}.JPEG" for i in range(1, 5)}
    r = by_path(records)
    # 0-based inclusive pixel indices -> continuous xyxy: (xmin, ymin, xmax + 1, ymax + 1)
    assert r["Data/CLS-LOC/val/ILSVRC2012_val_00000002.JPEG"]["boxes"] == [[2, 3, 31, 21], [0, 0, 5, 5]]
    assert r["Data/CLS-LOC/val/ILSVRC2012_val_00000002.JPEG"]["box_labels"] == ["harp", "harp"]
    for path in paths(records, "strawberry", "train"):
        i = int(path.rsplit("_", 1)[1].split(".")[0])
        assert r[path]["boxes"] == [[0, 0, 10 + i, 10]] and r[path]["box_classes"] == [s]


def test_imagenet_val_in_class_folders(tmp_path, imagenet_spec):
    base = write_imagenet(tmp_path / "in", val="csv")
    val = base / "Data" / "CLS-LOC" / "val"
    (val / WNIDS["harp"]).mkdir()
    (val / "ILSVRC2012_val_00000002.JPEG").rename(val / WNIDS["harp"] / "ILSVRC2012_val_00000002.JPEG")
    records = prepare_manifest(imagenet_spec, base)["records"]
    assert paths(records, "harp", "test") == [f"Data/CLS-LOC/val/{WNIDS['harp']}/ILSVRC2012_val_00000002.JPEG"]


def test_imagenet_det(tmp_path, specs):
    base = tmp_path / "in" / "ILSVRC"
    s, h = WNIDS["strawberry"], WNIDS["harp"]
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            rel = f"ILSVRC2013_train/{s}/{s}_{i}" if split == "train" else f"ILSVRC2012_val_0000000{i}"
            jpeg(base / "Data" / "DET" / split / f"{rel}.JPEG", (32, 24))
            voc_xml(
                base / "Annotations" / "DET" / split / f"{rel}.xml",
                (32, 24),
                [(h, (0, 0, 3, 3)), (s, (1, 1, 20 + i, 15))],
            )
    spec = specs.dataset(
        "in-det",
        {"format": "imagenet", "layout": "DET", "label_rule": "largest_box"},
        [("strawberry", "strawberry", s), ("harp", "harp", h)],
        {"train_images": 2, "test_images": 5, "seed": 0},
    )
    with pytest.raises(VWBenchError, match="concept 'harp' has 0 usable training images"):
        prepare_manifest(spec, tmp_path / "in")
    spec = specs.dataset(
        "in-det",
        {"format": "imagenet", "layout": "DET", "label_rule": "largest_box"},
        [("strawberry", "strawberry", s)],
        {"train_images": 2, "test_images": 5, "seed": 0},
    )
    records = prepare_manifest(spec, tmp_path / "in")["records"]
    assert paths(records, "strawberry", "test") == [f"Data/DET/val/ILSVRC2012_val_0000000{i}.JPEG" for i in (0, 1)]
    rec = by_path(records)["Data/DET/val/ILSVRC2012_val_00000001.JPEG"]
    assert rec["boxes"] == [[0, 0, 4, 4], [1, 1, 22, 16]] and rec["box_labels"] == [None, "strawberry"]


# --------------------------------------------------------------------------------------------- DreamBooth


def test_dreambooth_boxes_file(tmp_path, dreambooth_spec):
    boxes_file, boxes = write_dreambooth(tmp_path / "db")
    res = prepare_manifest(dreambooth_spec, tmp_path / "db", tmp_path / "db.jsonl", boxes_file=boxes_file)
    records, header = res["records"], res["header"]
    assert header["counts"] == {"cat2": {"train": 3, "test": 2}, "duck_toy": {"train": 2, "test": 2}}
    assert header["boxes"]["source"] == "file" and len(header["boxes"]["sha256"]) == 64
    assert header["root"] == str((tmp_path / "db" / "dataset").resolve())
    for subject, n in (("cat2", 5), ("duck_toy", 4)):
        train, test = paths(records, subject, "train"), paths(records, subject, "test")
        assert len(test) == 2 and not set(train) & set(test)
        assert sorted(train + test) == [f"{subject}/{i:02d}.jpg" for i in range(n)]
    for r in records:
        assert r["boxes"] == [[round(b, 3) for b in boxes[r["path"]][0]]] and r["box_labels"] == [r["concept"]]
    again = prepare_manifest(dreambooth_spec, tmp_path / "db", boxes_file=boxes_file)["records"]
    assert again == records
    data = load_manifest(tmp_path / "db.jsonl", dreambooth_spec)
    assert len(data.train["cat2"]) == 3 and len(data.test["duck_toy"]) == 2


def test_dreambooth_box_fn(tmp_path, dreambooth_spec):
    write_dreambooth(tmp_path / "db")
    queries = []

    def box_fn(image, query):
        queries.append(query)
        return [[1, 1, image.size[0] - 1, image.size[1] + 0.5]]

    res = prepare_manifest(dreambooth_spec, tmp_path / "db", box_fn=box_fn, box_info={"source": "owlv2", "model": "x"})
    assert set(queries) == {"cat", "toy"} and res["header"]["boxes"] == {"source": "owlv2", "model": "x"}
    assert all(r["boxes"] == [[1, 1, 47, 40]] for r in res["records"])  # clipped to the 48x40 image
    with pytest.raises(VWBenchError, match="ships no boxes: pass --boxes FILE"):
        prepare_manifest(dreambooth_spec, tmp_path / "db")


# --------------------------------------------------------------------------------------------- EXIF


def test_exif_orientation_boxes(tmp_path):
    """A box drawn on the stored pixels lands on the same object in the image as load_image returns it."""
    raw = Image.new("RGB", (40, 20), (0, 0, 0))
    raw.paste((255, 255, 255), (4, 2, 12, 8))  # object at xyxy [4, 2, 12, 8] of the stored pixels
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}.png"
        raw.save(path, exif=exif.tobytes())
        info = inspect_image(path)
        assert info.raw_size == (40, 20) and info.orientation == orientation
        shown = load_image(path)
        assert shown.size == info.size
        bbox = shown.convert("L").point(lambda v: 255 if v > 128 else 0).getbbox()
        assert orient_boxes([[4, 2, 12, 8]], info.raw_size, orientation) == [list(bbox)], orientation


def test_exif_rotated_coco_image(coco_root, coco_spec, tmp_path):
    """COCO boxes are on the stored pixels; the manifest's are on the image as loaded."""
    jpeg(coco_root / "val2017" / "000000000103.jpg", (40, 30), orientation=6)
    rec = by_path(prepare_manifest(coco_spec, coco_root)["records"])["val2017/000000000103.jpg"]
    assert (rec["width"], rec["height"]) == (30, 40)
    assert rec["boxes"] == [[4, 1, 29, 31]]  # [1, 1, 31, 26] rotated 90 degrees clockwise in a 40x30 image
