"""pytest-benchmark suite on the tiny zoo: `python -m pytest benchmarks --benchmark-only` (see BENCHMARKS.md).

Not collected by the default `python -m pytest` run (pyproject's testpaths is `tests`). The project's addopts
pass `--benchmark-disable` so that the test suite never times anything; this folder turns timing back on.
Environment: VWBENCH_BENCH_THREADS (torch threads, default 1, as `vwbench bench` on CPU), VWBENCH_BENCH_STEPS
(learner steps, default 20),
VWBENCH_BENCH_SUITE (default tiny), VWBENCH_BENCH_TRANSFER_SHAPE (default 49408x1024x768).
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # offline, as the tests

import torch

# one thread: the tiny models' ops are too small to gain from more, and on a machine shared with other jobs more
# OpenMP threads thrash (tiny models up to 15x, LAPACK's SVD up to 40x slower here)
torch.set_num_threads(int(os.environ.get("VWBENCH_BENCH_THREADS", "1")))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.option.benchmark_enable = True  # undo addopts' --benchmark-disable, which --benchmark-only refuses


@pytest.fixture(scope="session")
def steps() -> int:
    return int(os.environ.get("VWBENCH_BENCH_STEPS", "20"))


@pytest.fixture(scope="session")
def suite():
    from vwbench.spec import SpecLibrary

    return SpecLibrary().suite(os.environ.get("VWBENCH_BENCH_SUITE", "tiny"))


@pytest.fixture(scope="session")
def dataset(suite):
    """(dataset spec, loaded data): the suite's first dataset, as `vwbench bench` uses."""
    from vwbench.data.manifest import load_dataset

    ds = suite.datasets[0]
    return ds, load_dataset(ds, suite.data.get(ds.name))


@pytest.fixture(scope="session")
def task_model(suite):
    """task kind -> its built adapter (one build per session)."""
    from vwbench.models.factory import build_task_model

    built = {}

    def get(kind):
        if kind not in built:
            built[kind] = build_task_model(suite.task(kind), "cpu")
        return built[kind]

    return get
