"""Words trained per second: the batched learner (K words, cached features) and the naive textual-inversion loop."""

from __future__ import annotations

import dataclasses

import pytest

from vwbench import bench
from vwbench.learn import learn

TASKS = ["generation", "detection", "classification"]


def _setup(suite, dataset, kind, steps):
    ds, data = dataset
    cfg = dataclasses.replace(suite.train, steps=steps, num_vectors=1)
    return ds, data, cfg, bench.bench_trials(suite.name, ds, kind, max(1, cfg.concepts_per_batch), cfg.seed)


@pytest.mark.parametrize("kind", TASKS)
def test_fast_learner(benchmark, kind, suite, dataset, task_model, steps):
    """prepare (feature cache rebuilt) + learn() on K words in one batch."""
    model = task_model(kind)
    _, data, cfg, trials = _setup(suite, dataset, kind, steps)

    def run():
        model._cache.pop(data.name, None)
        model.prepare(data)
        return list(
            learn(model, data, trials, dataclasses.replace(cfg, concepts_per_batch=len(trials)), progress=False)
        )

    benchmark.group = f"learner-{kind}"
    benchmark.extra_info.update(words=len(trials), steps=steps)
    results = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert len(results) == len(trials)


@pytest.mark.parametrize("kind", TASKS)
def test_naive_loop(benchmark, kind, suite, dataset, task_model, steps):
    """One word, frozen encoders every step, Adam over the whole embedding table."""
    model = task_model(kind)
    _, data, cfg, trials = _setup(suite, dataset, kind, steps)
    benchmark.group = f"learner-{kind}"
    benchmark.extra_info.update(words=1, steps=steps)
    _, losses = benchmark.pedantic(
        bench.naive_learn, args=(model, data, trials[0], cfg), rounds=3, iterations=1, warmup_rounds=1
    )
    assert len(losses) == steps
