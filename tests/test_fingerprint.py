"""Code fingerprints in result keys (vwbench.fingerprint): an edit that could change a number changes the groups
it belongs to, and only those; the CLI and reports belong to none."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from vwbench import fingerprint

GEN, DET, CLS = ("model:generation:stable_diffusion,hf_clip", "model:detection:owlv2", "model:classification:open_clip")
HF_CLS, TINY_DET = "model:classification:hf_clip", "model:detection:owlv2:tiny:owlv2"
MICRO_GEN = "model:generation:stable_diffusion,open_clip:micro:sd,micro:clip-evaluator"
GROUPS = ("learn", "data", "transfer", GEN, DET, CLS, HF_CLS, TINY_DET, MICRO_GEN)
ALL_MODELS = {GEN, DET, CLS, HF_CLS, TINY_DET, MICRO_GEN}


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


@pytest.mark.parametrize(
    "rel, groups",
    [
        ("cli.py", set()),
        ("commands/run.py", set()),
        ("report/render.py", set()),
        ("store.py", set()),
        ("spec/types.py", set()),
        ("spec/library.py", set()),
        ("learn.py", {"learn"}),
        ("data/synthetic.py", {"data"}),
        ("data/micro/world.py", {"data", MICRO_GEN}),
        ("transfer/base.py", {"transfer"}),
        ("models/space.py", {"transfer"} | ALL_MODELS),
        ("models/detection.py", {DET, TINY_DET}),
        # the hf_clip evaluator's family file imports the classification adapter (the kind it also serves)
        ("models/generation.py", {GEN, MICRO_GEN}),
        # open_clip's family and models/micro/clip.py encode text with the classification module's encode_text
        ("models/classification.py", {CLS, HF_CLS, GEN, MICRO_GEN}),
        ("models/micro/sd.py", {MICRO_GEN}),
        ("models/base.py", ALL_MODELS),
        ("models/initialize.py", ALL_MODELS),
        ("models/metrics.py", ALL_MODELS),  # a new helper module
        ("models/families/__init__.py", ALL_MODELS),
        ("models/families/owlv2.py", {DET, TINY_DET}),
        ("models/families/hf_clip.py", {GEN, HF_CLS}),  # the generation evaluator and the classifier
        ("models/families/open_clip.py", {CLS, MICRO_GEN}),
        ("models/configs/tiny-owlv2.json", {TINY_DET}),
        ("models/configs/tiny-sd.json", set()),  # no group here has tiny:sd
        # the metrics: every task model's results depend on the metrics its spec names
        ("metrics/classification.py", ALL_MODELS),
        ("metrics/__init__.py", ALL_MODELS),
    ],
)
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
    (folder / "helpers.py").write_text("SCALE = 2.0\n")  # a module the entry may import
    second = fingerprint.method_code(load_method(folder), folder)
    assert second != first
    (folder / "method.py").write_text((folder / "method.py").read_text().replace("lam: float = 0.0", "lam: float = 0"))
    assert fingerprint.method_code(load_method(folder), folder) not in (first, second)


def test_a_submitted_vector_is_keyed_by_its_bytes_not_its_sum():
    v = torch.tensor([[1.0, 2.0, 3.0]])
    assert fingerprint.tensor_digest(v) == fingerprint.tensor_digest(v.clone())
    assert fingerprint.tensor_digest(v) != fingerprint.tensor_digest(torch.tensor([[3.0, 2.0, 1.0]]))
    assert fingerprint.tensor_digest(v) != fingerprint.tensor_digest(v.reshape(3, 1))
