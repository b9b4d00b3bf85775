"""`vwbench check`: a run against a golden results.json, pass and fail cases, from a store or a results file."""

from __future__ import annotations

import json

import pytest

from vwbench import cli
from vwbench.errors import VWBenchError
from vwbench.records import Score, Trial
from vwbench.regression import compare
from vwbench.report import build_leaderboard
from vwbench.store import Store


def cell(mean, lo, hi, n=10):
    return {"mean": mean, "ci": [lo, hi], "n": n}


def test_compare_rules():
    golden = {"a": cell(0.5, 0.4, 0.6), "b": cell(0.5, 0.4, 0.6), "c": cell(0.5, 0.5, 0.5, n=1)}
    same = compare(golden, dict(golden))
    assert same.ok and same.compared == 3 and not same.findings
    r = compare(
        golden,
        {"a": cell(0.45, 0, 1), "b": cell(0.7, 0, 1), "c": cell(0.5, 0.5, 0.5), "d": cell(1, 1, 1)},
        tolerance=0.02,
    )
    kinds = {f.cell: f.kind for f in r.findings}
    assert kinds == {"a": "regression", "b": "improvement", "d": "new"} and not r.ok
    # "either": inside the CI but beyond the tolerance moves; "both" needs both
    assert compare(golden, {**golden, "a": cell(0.45, 0, 1)}, tolerance=0.02, rule="both").ok
    assert not compare(golden, {**golden, "a": cell(0.35, 0, 1)}, tolerance=0.02, rule="both").ok
    # n = 1 cell: its CI is the value; within the tolerance it never moves, under either rule
    assert compare(golden, {**golden, "c": cell(0.49, 0.49, 0.49)}, tolerance=0.02, rule="both").ok
    assert compare(golden, {**golden, "c": cell(0.49, 0.49, 0.49)}, tolerance=0.02).ok
    assert not compare(golden, {**golden, "c": cell(0.49, 0.49, 0.49)}).ok  # tolerance 0: any change
    missing = compare(golden, {"a": golden["a"]})
    assert [f.kind for f in missing.findings] == ["missing", "missing"]
    assert compare(golden, {"a": golden["a"]}, allow_missing=True).ok
    with pytest.raises(VWBenchError):
        compare(golden, golden, rule="sometimes")


def test_tolerance_is_slack_under_every_rule():
    """A cell within the tolerance of the golden mean never moves; the CI is widened by the tolerance."""
    degenerate = {"x": cell(1.0, 1.0, 1.0, n=3)}
    for rule in ("either", "both"):
        assert compare(degenerate, {"x": cell(0.99, 0.99, 0.99)}, tolerance=0.05, rule=rule).ok
        assert compare(degenerate, {"x": cell(0.95, 0.9, 1.0)}, tolerance=0.05, rule=rule).ok  # at the edge
        r = compare(degenerate, {"x": cell(0.94, 0.9, 1.0)}, tolerance=0.05, rule=rule)
        assert [f.kind for f in r.findings] == ["regression"]
    wide = {"x": cell(0.5, 0.3, 0.7)}
    # beyond the tolerance: "either" moves, "both" only outside [0.3 - 0.05, 0.7 + 0.05]
    assert [f.kind for f in compare(wide, {"x": cell(0.4, 0, 1)}, tolerance=0.05).findings] == ["regression"]
    assert compare(wide, {"x": cell(0.26, 0, 1)}, tolerance=0.05, rule="both").ok
    assert compare(wide, {"x": cell(0.75, 0, 1)}, tolerance=0.05, rule="both").ok
    assert [f.kind for f in compare(wide, {"x": cell(0.24, 0, 1)}, tolerance=0.05, rule="both").findings] == [
        "regression"
    ]
    assert [f.kind for f in compare(wide, {"x": cell(0.76, 0, 1)}, tolerance=0.05, rule="both").findings] == [
        "improvement"
    ]


def test_check_cli_tolerance_passes_a_degenerate_ci(tmp_path, capsys):
    store = Store(tmp_path / "store")
    trial = Trial("tiny", "tiny-objects", "c0", "a0", "generation")
    store.put_score("k", Score(trial, "generation", "in_domain", "generation_accuracy", 1.0, {}))
    build_leaderboard(store, "tiny", tmp_path / "gold")
    golden = tmp_path / "gold" / "results.json"
    cells = json.loads(golden.read_text())["cells"]
    (cid,) = cells
    assert cells[cid]["mean"] == 1.0 and cells[cid]["ci"] == [1.0, 1.0]  # one score: a point CI
    store.put_score("k", Score(trial, "generation", "in_domain", "generation_accuracy", 0.99, {}))
    store.close()
    args = ["check", "--against", str(golden), "--store", str(tmp_path / "store")]
    assert cli.main(args) == 1
    assert f"REGRESSION  {cid}" in capsys.readouterr().out
    assert cli.main([*args, "--tolerance", "0.05"]) == 0
    assert "ok" in capsys.readouterr().out


@pytest.fixture
def golden(tmp_path, make_scores, fill_store):
    store = fill_store(Store(tmp_path / "golden-store"), make_scores(deltas=(None,)))
    build_leaderboard(store, "tiny", tmp_path / "leaderboards" / "tiny")
    return tmp_path / "leaderboards" / "tiny" / "results.json"


def test_check_cli_passes_on_same_run(tmp_path, golden, capsys):
    assert cli.main(["check", "--against", str(golden), "--store", str(tmp_path / "golden-store")]) == 0
    assert "ok" in capsys.readouterr().out
    assert cli.main(["check", "--against", str(golden), "--results", str(golden)]) == 0


def test_check_cli_names_every_regressed_cell(tmp_path, golden, make_scores, fill_store, capsys):
    scores = make_scores(deltas=(None,))
    worse = [
        Score(s.trial, s.eval_task, s.method, s.metric, s.value - 0.3)
        if (s.trial.train_task, s.eval_task) in {("generation", "detection"), ("detection", "detection")}
        else Score(s.trial, s.eval_task, s.method, s.metric, s.value + 0.3)
        if (s.trial.train_task, s.eval_task) == ("classification", "generation")
        else s
        for s in scores
    ]
    fill_store(Store(tmp_path / "run"), worse)
    code = cli.main(["check", "--against", str(golden), "--store", str(tmp_path / "run"), "--tolerance", "0.05"])
    out = capsys.readouterr().out
    assert code == 1
    assert "REGRESSION  matrix/tiny-objects/generation->detection/linear_transfer" in out
    assert "REGRESSION  matrix/tiny-objects/detection->detection/in_domain" in out
    assert "IMPROVEMENT matrix/tiny-objects/classification->generation/linear_transfer" in out
    assert out.count("REGRESSION") == 2 and "2 failing" in out


def test_check_cli_improvement_only_passes(tmp_path, golden, make_scores, fill_store, capsys):
    better = [Score(s.trial, s.eval_task, s.method, s.metric, s.value + 0.2) for s in make_scores(deltas=(None,))]
    fill_store(Store(tmp_path / "run"), better)
    assert cli.main(["check", "--against", str(golden), "--store", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().out.count("IMPROVEMENT") == 9


def test_check_cli_missing_cells_and_bad_golden(tmp_path, golden, make_scores, fill_store, capsys):
    fill_store(Store(tmp_path / "run"), [s for s in make_scores(deltas=(None,)) if s.eval_task != "classification"])
    assert cli.main(["check", "--against", str(golden), "--store", str(tmp_path / "run")]) == 1
    assert capsys.readouterr().out.count("MISSING") == 3
    assert cli.main(["check", "--against", str(golden), "--store", str(tmp_path / "run"), "--allow-missing"]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cells": {}}))
    assert cli.main(["check", "--against", str(bad), "--store", str(tmp_path / "run")]) == 2
    assert "bad.json" in capsys.readouterr().err
    bad.write_text("{not json")
    assert cli.main(["check", "--against", str(bad)]) == 2
    assert cli.main(["check", "--against", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err
