"""Tiny task models and data shared by the model tests (built once per session: seconds on CPU)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_suite():
    from vwbench.spec import SpecLibrary

    return SpecLibrary().suite("tiny")


@pytest.fixture(scope="session")
def objects(tiny_suite):
    from vwbench.data.synthetic import synthetic_dataset

    return synthetic_dataset(tiny_suite.dataset("tiny-objects"))


@pytest.fixture(scope="session")
def tiny_models(tiny_suite):
    """Lazily built adapters by task kind: tiny_models('detection')."""
    from vwbench.models.factory import build_task_model

    built = {}

    def get(kind: str):
        if kind not in built:
            built[kind] = build_task_model(tiny_suite.task(kind), "cpu")
        return built[kind]

    return get


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """On the shared 2-core machine OpenMP threads oversubscribe and tiny ops slow down ~100x; one thread
    is faster for these toy models. Restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
