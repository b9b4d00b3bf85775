"""`vwbench data prepare` / `vwbench data check` end to end, including OWLv2-derived DreamBooth boxes."""

from __future__ import annotations

import json

from vwdata_fixtures import write_dreambooth, write_imagenet

from vwbench.cli import main
from vwbench.data.manifest import load_manifest, read_manifest


def test_prepare_and_check_end_to_end(specs, voc_spec, voc_root, tmp_path, capsys, monkeypatch):
    out = tmp_path / "m" / "voc.jsonl"
    assert (
        main(["--specs", str(specs.root), "data", "prepare", "voc-mini", "--root", str(voc_root), "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert f"wrote {out}: voc-mini, 2 concepts, 4 train and 3 test images" in printed
    assert "note: fewer than 5 test images for cat (2), dog (1)" in printed
    header, records = read_manifest(out)
    assert header["format"] == "voc" and len(records) == 7
    assert main(["--specs", str(specs.root), "data", "check", "voc-mini", str(out)]) == 0
    assert "all hashes match" in capsys.readouterr().out
    # the dataset moved: check with --root
    moved = tmp_path / "moved"
    voc_root.rename(moved)
    assert main(["--specs", str(specs.root), "data", "check", "voc-mini", str(out)]) == 2
    assert "image listed in" in capsys.readouterr().err
    monkeypatch.setenv("VWBENCH_SPECS", str(specs.root))
    assert main(["data", "check", "voc-mini", str(out), "--root", str(moved / "VOCdevkit" / "VOC2012")]) == 0


def test_prepare_default_out_and_imagenet(specs, imagenet_spec, tmp_path, capsys, monkeypatch):
    write_imagenet(tmp_path / "in", val="both")
    monkeypatch.chdir(tmp_path)
    assert main(["--specs", str(specs.root), "data", "prepare", "imagenet-mini", "--root", str(tmp_path / "in")]) == 0
    data = load_manifest(tmp_path / "data" / "imagenet-mini.jsonl", imagenet_spec)
    assert [len(data.train[c]) for c in data.concepts] == [3, 3]
    assert [len(data.test[c]) for c in data.concepts] == [2, 1]


def test_boxes_option_is_for_dreambooth_only(specs, voc_spec, voc_root, tmp_path, capsys):
    assert (
        main(
            [
                "--specs",
                str(specs.root),
                "data",
                "prepare",
                "voc-mini",
                "--root",
                str(voc_root),
                "--boxes",
                str(tmp_path / "b.json"),
                "--out",
                str(tmp_path / "o.jsonl"),
            ]
        )
        == 2
    )
    assert "--boxes applies to DreamBooth only" in capsys.readouterr().err


def test_dreambooth_boxes_from_tiny_owlv2(specs, dreambooth_spec, tmp_path, capsys):
    write_dreambooth(tmp_path / "db")
    out = tmp_path / "db.jsonl"
    assert (
        main(
            [
                "--specs",
                str(specs.root),
                "data",
                "prepare",
                "dreambooth-mini",
                "--root",
                str(tmp_path / "db"),
                "--out",
                str(out),
                "--boxes",
                "owlv2",
                "--detection-task",
                "tiny-detection",
                "--owl-threshold",
                "0",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    header, records = read_manifest(out)
    assert header["boxes"] == {
        "source": "owlv2",
        "task": "tiny-detection",
        "model": "tiny:owlv2",
        "revision": None,
        "query": "concept name",
        "threshold": 0.0,
        "max_boxes": 1,
        "checked_by_hand": False,
    }
    assert header["counts"] == {"cat2": {"train": 3, "test": 2}, "duck_toy": {"train": 2, "test": 2}}
    for r in records:
        assert len(r["boxes"]) == 1 and len(r["box_scores"]) == 1 and r["box_labels"] == [r["concept"]]
        x0, y0, x1, y1 = r["boxes"][0]
        assert 0 <= x0 < x1 <= r["width"] and 0 <= y0 < y1 <= r["height"]
    assert json.loads(out.read_text().splitlines()[1])["kind"] == "image"
