"""Code fingerprints in result keys (vwbench.fingerprint): an edit that could change a number changes the groups
it belongs to, and only those; the CLI and reports belong to none."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from vwbench import fingerprint

GROUPS = ("learn", "data", "transfer", "model:generation", "model:detection", "model:classification",
          "model:generation:micro:sd,micro:clip-evaluator")


@pytest.fixture
def package(tmp_path) -> Path:
    root = tmp_path / "vwbench"
    shutil.copytree(fingerprint.PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__", "weights"))
    return root


def digests(root: Path) -> dict:
    return {g: fingerprint.code(g, root) for g in GROUPS}


def changed_by(root: Path, rel: str, text: str = "\n# edited\n") -> set[str]:
    before = digests(root)
    path = root / rel
    path.write_text((path.read_text() if path.exists() else "") + text)
    after = digests(root)
    return {g for g in GROUPS if before[g] != after[g]}


def test_the_copy_has_the_same_fingerprints(package):
    assert digests(package) == {g: fingerprint.code(g) for g in GROUPS}


@pytest.mark.parametrize("rel, groups", [
    ("cli.py", set()),
    ("commands/run.py", set()),
    ("report/render.py", set()),
    ("store.py", set()),
    ("spec.py", set()),
    ("learn.py", {"learn"}),
    ("data/synthetic.py", {"data"}),
    ("data/micro/world.py", {"data", "model:generation:micro:sd,micro:clip-evaluator"}),
    ("transfer/base.py", {"transfer"}),
    ("models/space.py", {"transfer", "model:generation", "model:detection", "model:classification",
                           "model:generation:micro:sd,micro:clip-evaluator"}),
    ("models/detection.py", {"model:detection"}),
    ("models/generation.py", {"model:generation", "model:generation:micro:sd,micro:clip-evaluator"}),
    # models/micro/clip.py (the micro evaluator) encodes text with the classification adapter's encode_text
    ("models/classification.py", {"model:classification", "model:generation:micro:sd,micro:clip-evaluator"}),
    ("models/micro/sd.py", {"model:generation:micro:sd,micro:clip-evaluator"}),
    ("models/base.py", {"model:generation", "model:detection", "model:classification",
                        "model:generation:micro:sd,micro:clip-evaluator"}),
    ("models/metrics.py", {"model:generation", "model:detection", "model:classification",   # a new helper module
                           "model:generation:micro:sd,micro:clip-evaluator"}),
    # the metrics: every task model's results depend on the metrics its spec names
    ("metrics/classification.py", {"model:generation", "model:detection", "model:classification",
                                   "model:generation:micro:sd,micro:clip-evaluator"}),
    ("metrics/__init__.py", {"model:generation", "model:detection", "model:classification",
                             "model:generation:micro:sd,micro:clip-evaluator"}),
])
def test_an_edit_changes_exactly_its_groups(package, rel, groups):
    assert changed_by(package, rel) == groups


def test_method_code_covers_the_class_its_bases_and_a_submissions_files(tmp_path):
    from vwbench.submissions import load_method
    from vwbench.transfer import registry

    assert fingerprint.method_code(registry.get("linear_transfer")) != fingerprint.method_code(registry.get("ridge"))
    folder = tmp_path / "sub"
    shutil.copytree(Path(__file__).resolve().parents[1] / "submissions" / "example-method", folder)
    first = fingerprint.method_code(load_method(folder), folder)
    assert fingerprint.method_code(load_method(folder), folder) == first
    (folder / "helpers.py").write_text("SCALE = 2.0\n")          # a module the entry may import
    second = fingerprint.method_code(load_method(folder), folder)
    assert second != first
    (folder / "method.py").write_text((folder / "method.py").read_text().replace("lam: float = 0.0", "lam: float = 0"))
    assert fingerprint.method_code(load_method(folder), folder) not in (first, second)


def test_a_submitted_vector_is_keyed_by_its_bytes_not_its_sum():
    v = torch.tensor([[1.0, 2.0, 3.0]])
    assert fingerprint.tensor_digest(v) == fingerprint.tensor_digest(v.clone())
    assert fingerprint.tensor_digest(v) != fingerprint.tensor_digest(torch.tensor([[3.0, 2.0, 1.0]]))
    assert fingerprint.tensor_digest(v) != fingerprint.tensor_digest(v.reshape(3, 1))
