"""The method leaderboard's corrected ratios and significance marks on constructed scores with known answers."""

from __future__ import annotations

import random

import numpy as np
import pytest

from vwbench.records import Score, Trial
from vwbench.report import leaderboard_doc, validate_doc
from vwbench.report.aggregate import aggregate, method_leaderboard

TASKS = ("generation", "detection", "classification")
CHANCE = 0.1


def scores(concepts=8, datasets=("d1", "d2"), seed=0, anchors=1):
    """In-domain 0.8, the untrained anchor 0.4, `half` carries half the in-domain gain over the anchor,
    `constant` sits at chance whatever the word, `random_map` at chance with noise."""
    rng = random.Random(seed)
    out = []
    for ds in datasets:
        for c in range(concepts):
            for a in range(anchors):
                home = {t: 0.8 + rng.uniform(-0.1, 0.1) for t in TASKS}
                anchor = {t: 0.4 + rng.uniform(-0.1, 0.1) for t in TASKS}
                for train in TASKS:
                    trial = Trial("s", ds, f"c{c}", f"a{a}", train)
                    extra = {"chance": CHANCE}
                    out.append(Score(trial, train, "in_domain", "m", home[train], extra))
                    out.append(Score(trial, train, "anchor", "m", anchor[train], extra))
                    for ev in TASKS:
                        if ev == train:
                            continue
                        half = anchor[ev] + 0.5 * (home[ev] - anchor[ev]) + rng.uniform(-0.02, 0.02)
                        out.append(Score(trial, ev, "half", "m", half, extra))
                        out.append(Score(trial, ev, "constant", "m", CHANCE + 0.02 * (c % 3 - 1), extra))
                        out.append(Score(trial, ev, "random_map", "m", CHANCE + rng.uniform(-0.05, 0.05), extra))
                        out.append(Score(trial, ev, "anchor+half", "m", anchor[ev], extra))
    return out


@pytest.fixture(scope="module")
def board():
    s = scores()
    return {r["method"]: r for r in method_leaderboard(s, aggregate(s))}, s


def test_corrected_ratio_matches_its_definition(board):
    rows, s = board
    by = {(x.method, x.trial.dataset, x.trial.concept, x.trial.train_task, x.eval_task): x.value for x in s}
    num = den = 0.0
    for ds in ("d1", "d2"):
        for c in range(8):
            t, home, anchor = (
                by[(m, ds, f"c{c}", tr, "detection")]
                for m, tr in (("half", "generation"), ("in_domain", "detection"), ("anchor", "detection"))
            )
            num, den = num + t - anchor, den + home - anchor
    entry = rows["half"]["directions"]["gen->det"]
    assert entry["corrected"]["anchor"]["value"] == pytest.approx(num / den, abs=1e-6)
    assert entry["corrected"]["anchor"]["value"] == pytest.approx(0.5, abs=0.05)
    lo, hi = entry["corrected"]["anchor"]["ci"]
    assert lo < num / den < hi and hi - lo < 0.2
    assert rows["half"]["score"]["value"] == pytest.approx(0.5, abs=0.05) and rows["half"]["score"]["defined"] == 6


def test_trivial_methods_score_zero_and_beat_nothing(board):
    rows, _ = board
    for name in ("constant", "random_map"):
        row = rows[name]
        assert row["control"] is True
        lo, hi = row["corrected"]["chance"]["ci"]
        assert lo <= 0 <= hi  # at chance: corrected ratio ≈ 0
        assert row["score"]["value"] < 0  # below the anchor word
        for entry in row["directions"].values():
            assert entry["versus"]["anchor"]["beats"] is False
            assert entry["versus"]["anchor"]["p_holm"] > 0.5
    half = rows["half"]
    for entry in half["directions"].values():
        assert all(entry["versus"][c]["beats"] for c in ("anchor", "constant", "random_map"))
    assert half["rank"] == 1 and {rows["constant"]["rank"], rows["random_map"]["rank"]} == {2, 3}
    assert "anchor+half" not in rows and "anchor" not in rows


def test_undefined_ratio_when_in_domain_does_not_beat_the_anchor():
    # learned words in generation score below their anchors (0.25 vs 0.4 ± 0.1): nothing to carry over
    s = [
        Score(
            x.trial,
            x.eval_task,
            x.method,
            x.metric,
            0.25 if (x.method, x.eval_task) == ("in_domain", "generation") else x.value,
            x.extra,
        )
        for x in scores(concepts=4)
    ]
    row = next(r for r in method_leaderboard(s, aggregate(s)) if r["method"] == "half")
    into_gen = row["directions"]["det->gen"]["corrected"]["anchor"]
    assert into_gen["value"] is None and into_gen["ci"] is None
    assert row["score"]["defined"] == 4 and row["directions_total"] == 6


def test_cells_flag_degenerate_intervals_and_carry_secondary_metrics():
    t = [Trial("s", "d", f"c{i}", "a", "classification") for i in range(3)]
    s = [
        Score(tr, "classification", "in_domain", "auroc", 1.0, {"metrics": {"accuracy": 0.5 + i / 10}, "chance": 0.5})
        for i, tr in enumerate(t)
    ]
    [cell] = aggregate(s).values()
    assert cell.degenerate and cell.as_dict()["degenerate"] is True and cell.clusters == 3
    d = cell.as_dict()
    assert d["chance"] == 0.5 and d["metrics"]["accuracy"]["mean"] == pytest.approx(0.6)


def test_results_json_validates_with_controls_and_per_concept():
    s = scores(concepts=3)
    s = [
        Score(
            x.trial,
            x.eval_task,
            x.method,
            x.metric,
            x.value,
            {**x.extra, "nearest_tokens": [x.trial.anchor + "</w>", "b</w>"] if x.method == "half" else ["z</w>"]},
        )
        for x in s
    ]
    doc = leaderboard_doc(s, "s")
    validate_doc(doc)
    snap = doc["per_concept"]["snap"]
    assert snap["half"]["gen->det"]["rate"] == 1.0 and snap["constant"]["gen->det"]["rate"] == 0.0
    row = doc["per_concept"]["trials"][0]
    assert row["anchor_score"] is not None and row["transfers"]["half"]["detection"]["snapped"] in (True, False)
    assert np.isfinite(doc["method_leaderboard"][0]["score"]["value"])
