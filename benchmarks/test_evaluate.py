"""Scoring every trial of a dataset with model.evaluate (anchor embeddings as the words), per task."""

from __future__ import annotations

import pytest

from vwbench import bench
from vwbench.records import Trial
from vwbench.tokenizer import single_token_id

TASKS = ["generation", "detection", "classification"]


@pytest.mark.parametrize("kind", TASKS)
def test_evaluate_all_trials(benchmark, kind, suite, dataset, task_model):
    model = task_model(kind)
    ds, data = dataset
    trials = [
        Trial(suite.name, ds.name, c.id, a, kind, None, 0)
        for c in ds.concepts
        for a in ds.anchors_for(c, suite.anchors)
    ]
    k = max(1, suite.train.concepts_per_batch)
    model.prepare(data)  # evaluation reuses the cache the learner built; time the scoring alone

    benchmark.group = "evaluate"
    benchmark.extra_info.update(trials=len(trials))
    benchmark.pedantic(bench.time_evaluate, args=(model, data, trials, k), rounds=3, iterations=1, warmup_rounds=1)
    table = model.token_embeddings()
    ids = [single_token_id(t.anchor) for t in trials[:1]]
    assert len(model.evaluate(table[ids][:, None], ids, [trials[0].concept], data)) == 1
