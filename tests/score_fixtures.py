"""Fake Score records for the leaderboard, provenance and check tests (no models needed). A uniquely named helper
module: the conftest files of tests/report and tests/commands import its fixtures."""

from __future__ import annotations

import random

import pytest

from vwbench.records import Score, Trial

METRICS = {"generation": "generation_accuracy", "detection": "ap50", "classification": "accuracy"}
TASKS = list(METRICS)


def fake_scores(
    suite="tiny",
    datasets=("tiny-objects",),
    concepts=3,
    anchors=2,
    deltas=(None, 0.5, 1.0),
    methods=("linear_transfer",),
    seed=0,
    shift=0.0,
):
    """Every (trial, evaluated task, method) of a small suite with seeded values; `shift` moves every value."""
    rng = random.Random(seed)
    out = []
    for ds in datasets:
        for c in range(concepts):
            for a in range(anchors):
                for delta in deltas:
                    for train in TASKS:
                        trial = Trial(suite, ds, f"c{c}", f"a{a}", train, delta)
                        for ev in TASKS:
                            for m in ["in_domain"] if ev == train else list(methods):
                                base = 0.8 if ev == train else 0.3
                                v = min(1.0, max(0.0, base + rng.uniform(-0.15, 0.15) + shift))
                                out.append(Score(trial, ev, m, METRICS[ev], v, {"n_images": 8}))
    return out


def fill(store, scores):
    for s in scores:
        store.put_score(store.key("score", trial=s.trial, eval_task=s.eval_task, method=s.method), s)
    return store


@pytest.fixture(scope="session")
def make_scores():
    return fake_scores


@pytest.fixture(scope="session")
def fill_store():
    return fill
