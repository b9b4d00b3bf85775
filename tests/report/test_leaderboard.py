"""Leaderboards from fake scores: byte-identical rebuilds, schema, bootstrap CIs, plots, the text matrix, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vwbench import cli
from vwbench.errors import VWBenchError
from vwbench.report import build_leaderboard, format_matrix, leaderboard_doc, validate_doc
from vwbench.report.aggregate import aggregate, bootstrap_ci, method_leaderboard
from vwbench.store import Store


@pytest.fixture(scope="module")
def built(tmp_path_factory, make_scores, fill_store):
    root = tmp_path_factory.mktemp("lb")
    store = fill_store(Store(root / "store"), make_scores(methods=("linear_transfer", "procrustes")))
    doc = build_leaderboard(store, "tiny", root / "a")
    build_leaderboard(Store(root / "store"), "tiny", root / "b")
    return root, doc


def test_rebuild_is_byte_identical(built):
    root, _ = built
    names = sorted(p.name for p in (root / "a").iterdir())
    # fake scores keep no pictures, so no image grids; the figures come as PNG and SVG
    assert names == [
        "delta-tiny-objects.png",
        "delta-tiny-objects.svg",
        "leaderboard.html",
        "leaderboard.md",
        "matrix-tiny-objects.png",
        "matrix-tiny-objects.svg",
        "report.html",
        "results.json",
        "scores.jsonl",
    ]
    for name in names:
        assert (root / "a" / name).read_bytes() == (root / "b" / name).read_bytes(), name


def test_json_validates_and_has_every_cell(built):
    root, doc = built
    on_disk = json.loads((root / "a" / "results.json").read_text())
    validate_doc(on_disk)
    assert on_disk == json.loads(json.dumps(doc))
    cells = on_disk["cells"]
    # 3 in-domain + 6 transfers x 2 methods, for the unconstrained matrix and each of 2 deltas
    assert len(cells) == 3 * 15
    c = cells["matrix/tiny-objects/classification->generation/linear_transfer"]
    assert c["n"] == 6 and c["metric"] == "generation_accuracy" and c["ci"][0] <= c["mean"] <= c["ci"][1]
    assert cells["delta/tiny-objects/detection->detection/in_domain/0.5"]["metric"] == "ap50"
    assert [r["method"] for r in on_disk["method_leaderboard"]] == sorted(
        on_disk["methods"],
        key=lambda m: -next(r["mean_ratio"] for r in on_disk["method_leaderboard"] if r["method"] == m),
    )
    assert on_disk["paper"] is None
    bad = dict(on_disk, cells={"oops": {}})
    with pytest.raises(VWBenchError, match="results.json"):
        validate_doc(bad)


def test_markdown_and_html_show_value_ci_and_n(built):
    root, _ = built
    md = (root / "a" / "leaderboard.md").read_text()
    assert "## Transfer matrix: tiny-objects, linear_transfer" in md and "## Method leaderboard" in md
    assert "n=6" in md and "](delta-tiny-objects.png)" in md
    html = (root / "a" / "leaderboard.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<table>" in html and 'src="delta-tiny-objects.png"' in html


def test_plot_is_a_png(built):
    root, _ = built
    with Image.open(root / "a" / "delta-tiny-objects.png") as im:
        assert im.format == "PNG" and im.size[0] > 600


def test_bootstrap_ci():
    rng = np.random.default_rng(0)
    assert bootstrap_ci([0.7]) == (0.7, 0.7, 0.7)  # n = 1: the value itself
    assert bootstrap_ci([0.3, 0.3, 0.3]) == (0.3, 0.3, 0.3)
    widths = []
    for n in (10, 100, 1000):
        x = rng.uniform(0, 1, n)
        mean, lo, hi = bootstrap_ci(x)
        assert mean == pytest.approx(x.mean()) and lo < mean < hi
        widths.append(hi - lo)
        # independent check: the normal-theory 95% interval has about the same width
        assert hi - lo == pytest.approx(2 * 1.96 * x.std(ddof=1) / np.sqrt(n), rel=0.3)
    assert widths[0] > widths[1] > widths[2]
    assert bootstrap_ci(rng.uniform(0, 1, 50)) != bootstrap_ci(rng.uniform(0, 1, 50))
    x = rng.uniform(0, 1, 40)
    assert bootstrap_ci(x) == bootstrap_ci(x)  # fixed seed


def test_method_ratio_definition(make_scores):
    from vwbench.records import Score

    def with_value(s, v):
        return Score(s.trial, s.eval_task, s.method, s.metric, v)

    scores = [
        with_value(s, 0.8 if s.method == "in_domain" else (0.4 if s.method == "good" else 0.2))
        for s in make_scores(deltas=(None,), methods=("good", "bad"))
    ]
    board = method_leaderboard(scores, aggregate(scores))
    # no anchor control and no chance among these scores: no corrected ratio, so the raw ratio ranks
    assert [(r["rank"], r["method"], r["mean_ratio"]) for r in board] == [(1, "good", 0.5), (2, "bad", 0.25)]
    assert board[0]["score"]["value"] is None and board[0]["corrected"] == {}
    d = board[0]["directions"]["cls->gen"]
    assert (d["ratio"], d["n"], d["datasets"]) == (0.5, 6, 1)
    assert board[0]["n"] == 36


def test_paper_reference_for_paper_suite(make_scores):
    scores = make_scores(suite="paper", datasets=("imagenet", "voc"), deltas=(None, 0.5), concepts=1, anchors=1)
    doc = leaderboard_doc(scores, "paper")
    validate_doc(doc)
    assert doc["paper"]["cells"]["matrix/voc/classification->generation/linear_transfer"]["mean"] == 0.84
    assert doc["paper"]["method_row"]["directions"]["cls->gen"]["n"] == 400
    assert leaderboard_doc(scores, "tiny")["paper"] is None


def test_paper_markdown_has_reference(tmp_path, make_scores, fill_store):
    scores = make_scores(suite="paper", datasets=("coco",), deltas=(None, 1.0), concepts=1, anchors=2)
    build_leaderboard(fill_store(Store(tmp_path / "s"), scores), "paper", tmp_path / "out")
    md = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "paper 0.570 [0.480, 0.660]" in md and "paper (linear_transfer)" in md


def test_format_matrix(make_scores):
    text = format_matrix(make_scores(), "tiny-objects")
    lines = text.splitlines()
    assert lines[0].startswith("tiny-objects (linear_transfer")
    assert [ln.split()[0] for ln in lines[3:]] == ["gen", "det", "cls"] and text.count("n=6") == 9
    assert "no unconstrained scores" in format_matrix(make_scores(), "elsewhere")


def test_leaderboard_cli(tmp_path, make_scores, fill_store, capsys):
    fill_store(Store(tmp_path / "store"), make_scores(deltas=(None,)))
    assert cli.main(["leaderboard", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "out")]) == 0
    assert "tiny:" in capsys.readouterr().out
    assert (tmp_path / "out" / "results.json").exists() and not list((tmp_path / "out").glob("delta-*.png"))
    assert (
        cli.main(["leaderboard", "--store", str(tmp_path / "store"), "--suite", "paper", "--out", str(tmp_path / "o2")])
        == 2
    )
    assert "no scores of suite 'paper'" in capsys.readouterr().err
    assert cli.main(["leaderboard", "--store", str(tmp_path / "none")]) == 2
    assert "no vwbench store" in capsys.readouterr().err
