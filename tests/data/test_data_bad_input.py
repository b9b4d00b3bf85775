"""Bad input gives one clear line naming the file, writes nothing, and `--skip-bad` skips and counts bad images."""

from __future__ import annotations

import json
import shutil

import pytest
from vwdata_fixtures import jpeg, voc_xml, write_dreambooth, write_imagenet

from vwbench.cli import main
from vwbench.data.manifest import prepare_manifest
from vwbench.errors import VWBenchError


def cli(specs, *args):
    return main(["--specs", str(specs.root), "data", "prepare", *map(str, args)])


def one_line_error(capsys, *needles):
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if "error" in line]
    assert len(errors) == 1 and lines[-1] == errors[0], lines  # progress lines, then the one error line
    err = errors[0]
    assert err.startswith("vwbench data: error: "), err
    for n in needles:
        assert n in err, err
    return err


def test_missing_root(specs, coco_spec, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert cli(specs, "coco-mini", "--root", tmp_path / "nowhere", "--out", out) == 2
    one_line_error(capsys, str(tmp_path / "nowhere"), "dataset root not found")
    assert not out.exists()


def test_root_of_the_wrong_dataset(specs, coco_spec, voc_spec, voc_root, coco_root, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert cli(specs, "coco-mini", "--root", voc_root, "--out", out) == 2
    one_line_error(capsys, str(voc_root), "not a COCO 2017 folder", "looks like a PASCAL VOC folder")
    assert cli(specs, "voc-mini", "--root", coco_root, "--out", out) == 2
    one_line_error(capsys, "not a PASCAL VOC folder", "looks like a COCO folder")
    assert not out.exists()


def test_imagenet_root_of_the_wrong_dataset(imagenet_spec, coco_root):
    with pytest.raises(VWBenchError, match="not an ImageNet ILSVRC folder.*looks like a COCO folder"):
        prepare_manifest(imagenet_spec, coco_root)


def test_missing_annotation_files(specs, coco_spec, coco_root, voc_spec, voc_root, imagenet_spec, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    (coco_root / "annotations" / "instances_val2017.json").unlink()
    assert cli(specs, "coco-mini", "--root", coco_root, "--out", out) == 2
    one_line_error(capsys, str(coco_root / "annotations" / "instances_val2017.json"), "annotation file not found")
    (voc_root / "VOCdevkit/VOC2012/ImageSets/Main/val.txt").unlink()
    assert cli(specs, "voc-mini", "--root", voc_root, "--out", out) == 2
    one_line_error(capsys, "ImageSets/Main/val.txt", "image set file not found")
    base = write_imagenet(tmp_path / "in", val="csv")
    (tmp_path / "in" / "LOC_val_solution.csv").unlink()
    with pytest.raises(VWBenchError, match="validation labels not found"):
        prepare_manifest(imagenet_spec, base)
    shutil.rmtree(base / "Annotations" / "CLS-LOC" / "train")
    with pytest.raises(VWBenchError, match="Annotations/CLS-LOC/train: training box annotations not found"):
        prepare_manifest(imagenet_spec, base)
    assert not out.exists()


def test_voc_listed_image_without_annotation(specs, voc_spec, voc_root, tmp_path, capsys):
    (voc_root / "VOCdevkit/VOC2012/Annotations/2008_000102.xml").unlink()
    out = tmp_path / "out.jsonl"
    assert cli(specs, "voc-mini", "--root", voc_root, "--out", out) == 2
    one_line_error(capsys, "Annotations/2008_000102.xml: annotation file not found")
    assert not out.exists()
    assert cli(specs, "voc-mini", "--root", voc_root, "--out", out, "--skip-bad") == 0
    assert "skipped 1 bad images" in capsys.readouterr().out


def test_annotation_names_a_missing_image(specs, coco_spec, coco_root, tmp_path, capsys):
    (coco_root / "val2017" / "000000000102.jpg").unlink()
    out = tmp_path / "out.jsonl"
    assert cli(specs, "coco-mini", "--root", coco_root, "--out", out) == 2
    one_line_error(capsys, "instances_val2017.json: names image", "000000000102.jpg, which does not exist")
    assert not out.exists()
    assert cli(specs, "coco-mini", "--root", coco_root, "--out", out, "--skip-bad") == 0
    printed = capsys.readouterr().out
    assert "skipped 1 bad images (--skip-bad)" in printed and "000000000102.jpg" in printed
    header = json.loads(out.read_text().splitlines()[0])
    assert header["skipped"] == 1 and header["counts"]["cat"] == {"train": 3, "test": 2}
    assert "000000000102" not in out.read_text()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_or_truncated_image(specs, coco_spec, coco_root, tmp_path, capsys, damage):
    path = coco_root / "val2017" / "000000000103.jpg"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a jpeg at all")
    out = tmp_path / "out.jsonl"
    assert cli(specs, "coco-mini", "--root", coco_root, "--out", out) == 2
    one_line_error(capsys, str(path), "corrupt or truncated image")
    assert not out.exists()
    assert cli(specs, "coco-mini", "--root", coco_root, "--out", out, "--skip-bad") == 0
    assert "skipped 1 bad images" in capsys.readouterr().out


def test_box_outside_the_image_or_zero_area(specs, voc_spec, voc_root, tmp_path, capsys):
    ann = voc_root / "VOCdevkit/VOC2012/Annotations"
    out = tmp_path / "out.jsonl"
    voc_xml(ann / "2008_000102.xml", (40, 30), [("cat", (5, 5, 60, 14))])
    assert cli(specs, "voc-mini", "--root", voc_root, "--out", out) == 2
    one_line_error(
        capsys, str(ann / "2008_000102.xml"), "box 0 of JPEGImages/2008_000102.jpg", "outside the 40x30 image"
    )
    voc_xml(ann / "2008_000102.xml", (40, 30), [("cat", (5, 5, 4, 14))])
    assert cli(specs, "voc-mini", "--root", voc_root, "--out", out) == 2
    one_line_error(capsys, str(ann / "2008_000102.xml"), "has zero area")
    assert not out.exists()
    assert cli(specs, "voc-mini", "--root", voc_root, "--out", out, "--skip-bad") == 0
    assert "2008_000102" not in out.read_text()


def test_box_overhang_within_a_pixel_is_clipped(voc_spec, voc_root):
    ann = voc_root / "VOCdevkit/VOC2012/Annotations"
    voc_xml(ann / "2008_000102.xml", (40, 30), [("cat", (0, 5, 40.6, 14))])
    rec = {r["path"]: r for r in prepare_manifest(voc_spec, voc_root)["records"]}["JPEGImages/2008_000102.jpg"]
    assert rec["boxes"] == [[0, 4, 40, 14]]


def test_annotated_size_must_match_the_image(coco_spec, coco_root):
    jpeg(coco_root / "val2017" / "000000000103.jpg", (20, 30))
    with pytest.raises(
        VWBenchError, match=r"instances_val2017.json: says 000000000103.jpg is 40x30 but the image is 20x30"
    ):
        prepare_manifest(coco_spec, coco_root)


def test_concept_with_too_few_images(specs, coco_root, tmp_path, capsys):
    specs.dataset(
        "coco-big",
        {"format": "coco", "label_rule": "largest_box"},
        [("cat", "cat", 17), ("dog", "dog", 18)],
        {"train_images": 5, "test_images": 4, "seed": 0},
    )
    out = tmp_path / "out.jsonl"
    assert cli(specs, "coco-big", "--root", coco_root, "--out", out) == 2
    one_line_error(
        capsys, "concept 'dog' has 4 usable training images in split 'train2017'", "dataset spec 'coco-big'", "needs 5"
    )
    assert not out.exists()


def test_dreambooth_bad_input(specs, dreambooth_spec, tmp_path, capsys):
    boxes_file, boxes = write_dreambooth(tmp_path / "db")
    out = tmp_path / "out.jsonl"
    del boxes["cat2/01.jpg"]
    boxes_file.write_text(json.dumps(boxes))
    assert cli(specs, "dreambooth-mini", "--root", tmp_path / "db", "--out", out, "--boxes", boxes_file) == 2
    one_line_error(capsys, str(boxes_file), "no boxes for cat2/01.jpg")
    # with the bad image skipped, duck_toy (4 images) still splits 2 + 2; cat2 keeps 4
    assert (
        cli(specs, "dreambooth-mini", "--root", tmp_path / "db", "--out", out, "--boxes", boxes_file, "--skip-bad") == 0
    )
    header = json.loads(out.read_text().splitlines()[0])
    assert header["counts"]["cat2"] == {"train": 2, "test": 2}
    out.unlink()
    for f in ("01.jpg", "02.jpg"):
        (tmp_path / "db" / "dataset" / "duck_toy" / f).unlink()
    assert (
        cli(specs, "dreambooth-mini", "--root", tmp_path / "db", "--out", out, "--boxes", boxes_file, "--skip-bad") == 2
    )
    one_line_error(capsys, "concept 'duck_toy' has 2 usable images", "needs 3")
    assert not out.exists()
    (tmp_path / "db" / "dataset" / "cat2").rename(tmp_path / "db" / "dataset" / "kitty")
    assert cli(specs, "dreambooth-mini", "--root", tmp_path / "db", "--out", out, "--boxes", boxes_file) == 2
    one_line_error(capsys, str(tmp_path / "db" / "dataset" / "cat2"), "subject folder for concept 'cat2' not found")
    boxes_file.write_text("{not json")
    assert cli(specs, "dreambooth-mini", "--root", tmp_path / "db", "--out", out, "--boxes", boxes_file) == 2
    one_line_error(capsys, str(boxes_file), "not valid JSON")


def test_existing_manifest_survives_a_failed_prepare(specs, coco_spec, coco_root, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert cli(specs, "coco-mini", "--root", coco_root, "--out", out) == 0
    before = out.read_bytes()
    (coco_root / "val2017" / "000000000101.jpg").write_bytes(b"\xff\xd8\xff")
    assert cli(specs, "coco-mini", "--root", coco_root, "--out", out) == 2
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
