"""The mini suite of the tiny zoo that the run tests share (tests/study, tests/commands), written into a private copy
of the spec root. A uniquely named helper module: the conftest files of those folders import its fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SPECS = Path(__file__).resolve().parents[1] / "vwbench" / "specs"
MINI = """
name: mini
tasks: [tiny-generation, tiny-detection, tiny-classification]
datasets: [tiny-objects]
anchors: own
deltas: [0.5]
train: {steps: 2, lr: 0.05, batch_size: 4, seed: 0, concepts_per_batch: 9}
controls: []                   # tests/study/test_controls.py runs them
"""


def spec_root(root: Path, **suites: str) -> Path:
    """A copy of the shipped spec root at `root` with extra suites {name: YAML text}."""
    shutil.copytree(SPECS, root, dirs_exist_ok=True)
    for name, text in suites.items():
        (root / "suites" / f"{name}.yaml").write_text(text)
    return root


@pytest.fixture(scope="module")
def specs(tmp_path_factory) -> Path:
    """The spec root with the mini suite (3 concepts, own anchors, one δ, 2 steps, no controls)."""
    return spec_root(tmp_path_factory.mktemp("specs"), mini=MINI)


@pytest.fixture
def make_specs():
    return spec_root
