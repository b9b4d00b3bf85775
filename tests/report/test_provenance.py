"""The provenance block and scores.jsonl, from stores filled by hand (no models): only runs that computed a shown
score count, the newest of them gives the top-level facts, and nothing depends on the clock of the build."""

from __future__ import annotations

import json

from vwbench.report import build_leaderboard, validate_doc
from vwbench.report import provenance as prov
from vwbench.store import Store


def put(store, scores, run_id=None):
    for s in scores:
        store.put_score(store.key("score", trial=s.trial, eval_task=s.eval_task, method=s.method), s, run_id)


def test_scores_without_runs(tmp_path, make_scores):
    with Store(tmp_path / "s") as store:
        put(store, make_scores(deltas=(None,)))
        doc = build_leaderboard(store, "tiny", tmp_path / "lb")
    p = doc["provenance"]
    assert p["runs"] == [] and p["date"] is None and p["vwbench_version"] is None and p["models"] is None
    assert p["scores_without_run"] == doc["n_scores"] and p["seeds"] == [0]
    assert p["methods"] == [{"label": "linear_transfer", "name": "linear_transfer", "params": None, "submission": None}]
    validate_doc(doc)


def test_only_runs_behind_the_shown_scores_count(tmp_path, make_scores):
    scores = make_scores(deltas=(None,))
    half = len(scores) // 2
    with Store(tmp_path / "s") as store:
        info = [{"label": "linear_transfer", "name": "linear_transfer", "params": {}, "submission": None}]
        first = store.begin_run(
            {
                "suite": "tiny",
                "device": "cpu",
                "method_info": info,
                "seeds": [0],
                "models": {"tiny-generation": {"id": "tiny:sd", "revision": None, "kind": "generation"}},
            }
        )
        put(store, scores[:half], first)
        second = store.begin_run(
            {"suite": "tiny", "device": "cuda", "method_info": info, "seeds": [0], "filters": {"limit": 1}}
        )
        put(store, scores[half:], second)
        store.begin_run({"suite": "tiny", "device": "mps"})  # a later run that computed nothing shown
        doc = build_leaderboard(store, "tiny", tmp_path / "a")
        again = build_leaderboard(store, "tiny", tmp_path / "b")
    p = doc["provenance"]
    assert [r["run_id"] for r in p["runs"]] == [first, second]
    assert [r["n_scores"] for r in p["runs"]] == [half, len(scores) - half]
    assert p["runs"][1]["filters"] == {"limit": 1} and p["runs"][0]["filters"] is None
    assert p["device"] == "cuda"  # the newest run behind the numbers
    assert p["date"] == prov.iso_date(next(r["started"] for r in Store(tmp_path / "s").runs() if r["run_id"] == second))
    assert p["methods"] == info and p["scores_without_run"] == 0
    assert doc == again
    # one run was filtered, one was not: the whole-store leaderboard is not flagged
    assert "filtered" not in (tmp_path / "a" / "leaderboard.md").read_text().split("\n## ")[0]
    for f in ("results.json", "scores.jsonl"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_jsonl_has_every_kept_score_in_a_fixed_order(tmp_path, make_scores):
    scores = make_scores()
    with Store(tmp_path / "s") as store:
        put(store, scores[::-1])  # stored in reverse: the file's order is its own
        doc = build_leaderboard(store, "tiny", tmp_path / "lb")
    lines = [json.loads(x) for x in (tmp_path / "lb" / "scores.jsonl").read_text().splitlines()]
    assert len(lines) == doc["n_scores"] == len(scores)
    order = [
        (
            x["dataset"],
            x["concept"],
            x["anchor"],
            x["train_task"],
            x["delta"] is not None,
            x["delta"] or 0.0,
            x["seed"],
            x["eval_task"],
            x["method"],
        )
        for x in lines
    ]
    assert order == sorted(order)
    by_id = {
        (s.trial.concept, s.trial.anchor, s.trial.train_task, s.trial.delta, s.eval_task, s.method): s.value
        for s in scores
    }
    assert all(
        by_id[(x["concept"], x["anchor"], x["train_task"], x["delta"], x["eval_task"], x["method"])] == x["value"]
        for x in lines
    )
    assert lines[0]["extra"] == {"n_images": 8} and lines[0]["run_id"] is None
