"""Shared test fixtures. Tests run offline: no hub downloads (PROTOCOL.md section 15)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported: never wait on the network

REPO = Path(__file__).resolve().parent.parent
TASKS_DIR = REPO / "vwbench" / "specs"


# Tiny task models and data shared by every test module (built once per session: seconds on CPU).


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


@pytest.fixture
def spec_copy(tmp_path) -> Path:
    """A private copy of the shipped spec root (vwbench/specs/), safe to mutate."""
    root = tmp_path / "specs"
    shutil.copytree(TASKS_DIR, root)
    return root


# One intra-op thread: the tiny models' ops are too small to gain from more, and on a loaded 2-core machine
# oversubscribed threads made them up to 100x slower. It also keeps float results independent of core count.
import torch

torch.set_num_threads(1)
