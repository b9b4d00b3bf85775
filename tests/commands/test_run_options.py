"""`vwbench run` / `probe` options through the real CLI: --task/--dataset/--concept/--limit filters, --seed,
--method NAME:KEY=VALUE, the provenance block and scores.jsonl beside results.json, the one progress bar."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from vwbench.cli import main

REPO = Path(__file__).resolve().parents[2]
# the two cheap task models: filtered runs below never load the generation model
CHEAP = ["--task", "tiny-detection", "--task", "classification"]
FIRST, SECOND = "red_square", "blue_circle"  # tiny-objects' concepts in spec order


def cli(specs, *args) -> int:
    return main(["--specs", str(specs), *args])


def rows(store: Path, sql: str) -> list:
    with sqlite3.connect(store / "results.sqlite") as db:
        return db.execute(sql).fetchall()


def test_filtered_run_learns_and_scores_only_the_selection_and_says_so(specs, tmp_path, capsys):
    store, out = tmp_path / "store", tmp_path / "lb"
    base = ["run", "--suite", "mini", "--store", str(store), "--no-deltas", "--no-progress", *CHEAP]
    assert cli(specs, *base, "--limit", "1", "--out", str(out)) == 0
    text = capsys.readouterr().out
    # 1 concept x 1 anchor x 2 tasks; in-domain twice and det<->cls transferred
    assert rows(store, "SELECT concept, train_task FROM vectors ORDER BY train_task") == [
        (FIRST, "classification"),
        (FIRST, "detection"),
    ]
    assert sorted(rows(store, "SELECT train_task, eval_task FROM scores")) == [
        ("classification", "classification"),
        ("classification", "detection"),
        ("detection", "classification"),
        ("detection", "detection"),
    ]
    assert "computed 2 vectors, 4 scores" in text and "gen" not in text.split("computed")[0].split("evaluated")[1]
    doc = json.loads((out / "results.json").read_text())
    assert doc["filters"] == {"task": ["tiny-detection", "classification"], "limit": 1} and doc["n_scores"] == 4
    md = (out / "leaderboard.md").read_text()
    assert "Filtered run (--task tiny-detection --task classification --limit 1): only the selected trials" in md
    lines = (out / "scores.jsonl").read_text().splitlines()
    assert len(lines) == 4 and {json.loads(x)["concept"] for x in lines} == {FIRST}
    assert doc["provenance"]["runs"][0]["filters"] == doc["filters"]

    # a rebuild of the whole store is not filtered, but says that every run behind it was
    assert cli(specs, "leaderboard", "--suite", "mini", "--store", str(store), "--out", str(tmp_path / "all")) == 0
    capsys.readouterr()
    whole = json.loads((tmp_path / "all" / "results.json").read_text())
    assert whole["filters"] is None
    assert (
        "Every run of this suite recorded in the store was filtered"
        in (tmp_path / "all" / "leaderboard.md").read_text()
    )

    # the same store serves a wider selection: the first concept's results are reused, not recomputed
    assert cli(specs, *base, "--limit", "2", "--out", str(tmp_path / "lb2")) == 0
    text = capsys.readouterr().out
    assert "computed 2 vectors, 4 scores; reused 2 vectors, 4 scores" in text
    assert json.loads((tmp_path / "lb2" / "results.json").read_text())["n_scores"] == 8
    assert {c for (c,) in rows(store, "SELECT DISTINCT concept FROM vectors")} == {FIRST, SECOND}

    # --dataset and --concept select too
    assert cli(specs, *base, "--dataset", "tiny-objects", "--concept", SECOND, "--out", str(tmp_path / "lb3")) == 0
    assert "computed nothing; reused 2 vectors, 4 scores" in capsys.readouterr().out
    lines = (tmp_path / "lb3" / "scores.jsonl").read_text().splitlines()
    assert {json.loads(x)["concept"] for x in lines} == {SECOND}


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--limit", "0"], "--limit expects a positive integer, got '0'"),
        (["--limit", "two"], "--limit expects a positive integer, got 'two'"),
        (["--seed", "x"], "--seed expects an integer, got 'x'"),
        (["--seed", "1.5"], "--seed expects an integer, got '1.5'"),
        (["--concept", "purple_cow"], "unknown concept 'purple_cow'"),
        (["--task", "segmentation"], "unknown task 'segmentation'"),
        (["--dataset", "tiny-scenes"], "unknown dataset 'tiny-scenes'"),
        (["--method", "ridge:alpha=0.1"], "accepted: lam"),
        (["--method", "ridge:lam"], "'lam' is not KEY=VALUE"),
        (["--method", "nope:x=1"], "unknown transfer method 'nope'"),
    ],
)
@pytest.mark.parametrize("command", ["run", "probe"])
def test_bad_options_are_one_line_errors(specs, tmp_path, capsys, command, argv, message):
    store = tmp_path / "store"
    rc = cli(specs, command, "--suite", "mini", "--store", str(store), "--no-progress", *argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not (store / "results.sqlite").exists() or rows(store, "SELECT COUNT(*) FROM scores") == [(0,)]


def test_seeds_method_parameters_provenance_and_byte_identical_rebuilds(specs, tmp_path, capsys):
    from vwbench.store import Store

    store, out = tmp_path / "store", tmp_path / "lb"
    argv = [
        "run",
        "--suite",
        "mini",
        "--store",
        str(store),
        "--out",
        str(out),
        "--no-deltas",
        "--no-progress",
        *CHEAP,
        "--limit",
        "1",
        "--seed",
        "0",
        "--seed",
        "5",
        "--method",
        "ridge",
        "--method",
        "ridge:lam=0.1",
    ]
    assert cli(specs, *argv) == 0
    text = capsys.readouterr().out
    assert "(ridge; mean" in text and "(ridge(lam=0.1); mean" in text
    # every trial once per seed; each parametrization has its own scores
    assert rows(store, "SELECT seed, COUNT(*) FROM vectors GROUP BY seed") == [(0, 2), (5, 2)]
    assert dict(rows(store, "SELECT method, COUNT(*) FROM scores GROUP BY method")) == {
        "in_domain": 4,
        "ridge": 4,
        "ridge(lam=0.1)": 4,
    }
    doc = json.loads((out / "results.json").read_text())
    assert doc["methods"] == ["ridge", "ridge(lam=0.1)"]
    assert doc["cells"]["matrix/tiny-objects/detection->classification/ridge(lam=0.1)"]["n"] == 2  # two seeds

    p = doc["provenance"]
    with Store(store, create=False) as st:
        (run,) = st.runs()
    env = run["meta"]
    assert p["vwbench_version"] == env["vwbench_version"] == "0.1.0" and p["git_commit"] == env["git_commit"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p["date"])
    assert p["packages"]["torch"] and p["python"] and p["device"] == "cpu" and p["seeds"] == [0, 5]
    assert p["models"] == {
        "tiny-classification": {"id": "tiny:open_clip", "revision": None, "task": "classification"},
        "tiny-detection": {"id": "tiny:owlv2", "revision": None, "task": "detection"},
    }
    assert p["train"]["steps"] == 2 and p["train"]["lr"] == 0.05
    assert p["methods"] == [
        {"label": "ridge", "name": "ridge", "params": {"lam": 1.0}, "submission": None},
        {"label": "ridge(lam=0.1)", "name": "ridge", "params": {"lam": 0.1}, "submission": None},
    ]
    assert [(r["run_id"], r["status"], r["seeds"], r["n_scores"]) for r in p["runs"]] == [
        (run["run_id"], "ok", [0, 5], 12)
    ]

    lines = [json.loads(x) for x in (out / "scores.jsonl").read_text().splitlines()]
    assert len(lines) == doc["n_scores"] == 12
    assert set(lines[0]) == {
        "suite",
        "dataset",
        "concept",
        "anchor",
        "train_task",
        "delta",
        "seed",
        "eval_task",
        "method",
        "metric",
        "value",
        "extra",
        "run_id",
    }
    assert {x["run_id"] for x in lines} == {run["run_id"]} and {x["seed"] for x in lines} == {0, 5}

    # rerunning reuses everything and rewrites the same bytes; so do two rebuilds from the store
    before = {f: (out / f).read_bytes() for f in ("results.json", "scores.jsonl", "leaderboard.md")}
    assert cli(specs, *argv) == 0
    assert "computed nothing" in capsys.readouterr().out
    assert {f: (out / f).read_bytes() for f in before} == before
    for name in ("a", "b"):
        assert cli(specs, "leaderboard", "--suite", "mini", "--store", str(store), "--out", str(tmp_path / name)) == 0
    for f in ("results.json", "scores.jsonl", "leaderboard.md", "leaderboard.html"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_one_progress_bar_over_the_whole_run(specs, tmp_path, capsys):
    argv = [
        "run",
        "--suite",
        "mini",
        "--store",
        str(tmp_path / "store"),
        "--out",
        str(tmp_path / "lb"),
        "--no-deltas",
        *CHEAP,
        "--limit",
        "1",
    ]
    assert cli(specs, *argv) == 0
    err = capsys.readouterr().err
    # 2 words x 2 steps + 2 fits (det->cls, cls->det) + 4 scores
    assert "vwbench mini" in err and "10/10" in err and "100%" in err
    assert "words]" not in err  # the learner's own per-chunk bar is folded into the run's bar
    assert cli(specs, *argv, "--overwrite", "always", "--no-progress") == 0
    assert "vwbench mini" not in capsys.readouterr().err


def test_probe_takes_the_same_filters_and_seeds(specs, tmp_path, capsys):
    store = tmp_path / "store"
    assert (
        cli(
            specs,
            "probe",
            "--suite",
            "mini",
            "--deltas",
            "0.5",
            "--store",
            str(store),
            "--out",
            str(tmp_path / "lb"),
            "--no-progress",
            "--task",
            "classification",
            "--concept",
            SECOND,
            "--seed",
            "3",
        )
        == 0
    )
    capsys.readouterr()
    assert rows(store, "SELECT concept, train_task, delta, seed FROM vectors") == [(SECOND, "classification", 0.5, 3)]
    assert rows(store, "SELECT eval_task, method FROM scores") == [("classification", "in_domain")]
    doc = json.loads((tmp_path / "lb" / "results.json").read_text())
    assert doc["filters"] == {"task": ["classification"], "concept": [SECOND]} and doc["provenance"]["seeds"] == [3]
