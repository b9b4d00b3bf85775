"""Fitting each built-in transfer method on a 49,408 x 1,024 -> 768 problem (SD 2.1 -> CLIP L/14 table sizes).

Random float32 tables over the real CLIP vocabulary stand in for the models' tables; the fit includes pairing
the shared tokens and the float64 cast, as in a study run. Goal for linear_transfer: <= 5 s on 2 cores.
Threads: VWBENCH_BENCH_THREADS (default 1; with 2 OpenMP threads on a machine busy with other jobs, LAPACK's
SVD and eigh, behind procrustes and cca, ran 10-40x slower)."""

from __future__ import annotations

import os

import pytest
import torch

from vwbench import bench
from vwbench.transfer import registry

SHAPE = tuple(int(x) for x in os.environ.get("VWBENCH_BENCH_TRANSFER_SHAPE", "49408x1024x768").split("x"))


@pytest.fixture(scope="module")
def spaces():
    return bench.random_spaces(*SHAPE)


@pytest.mark.parametrize("name", list(registry.BUILTINS))
def test_transfer_fit(benchmark, name, spaces):
    src, tgt = spaces
    method = registry.get(name)
    benchmark.group = "transfer-fit"
    benchmark.extra_info.update(shape="x".join(map(str, SHAPE)), threads=torch.get_num_threads())
    benchmark.pedantic(method.fit, args=(src, tgt), rounds=1, iterations=1)
    assert method(torch.randn(4, SHAPE[1])).shape == (4, SHAPE[2])
