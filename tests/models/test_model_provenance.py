"""Provenance of loaded models (issue #14): the revision a branch resolved to and the weights' hashes, read from
the local Hugging Face cache without any download; stored with runs and vectors (see tests/study/test_keys.py)."""

from __future__ import annotations

import os

from vwbench.models import zoo
from vwbench.spec import ModelRef

COMMIT = "0123456789abcdef0123456789abcdef01234567"
BLOB = "a" * 64


def fake_cache(root, repo_id: str):
    repo = root / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "blobs").mkdir()
    (repo / "blobs" / BLOB).write_bytes(b"weights")
    (repo / "blobs" / "b1").write_text("{}")
    snap = repo / "snapshots" / COMMIT
    (snap / "text").mkdir(parents=True)
    os.symlink(repo / "blobs" / BLOB, snap / "text" / "model.safetensors")
    os.symlink(repo / "blobs" / "b1", snap / "config.json")


def test_hub_provenance_resolves_a_branch_and_lists_weight_hashes(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    fake_cache(tmp_path, "org/model")
    got = zoo.hub_provenance(ModelRef("org/model", "main"))
    assert got == {"resolved_revision": COMMIT, "files_sha256": {"text/model.safetensors": BLOB}}
    # a pinned commit is its own resolution; a model not in the cache has no files to list
    assert zoo.hub_provenance(ModelRef("org/model", COMMIT))["resolved_revision"] == COMMIT
    assert zoo.hub_provenance(ModelRef("org/absent", "main")) == {"resolved_revision": None}
    folder = tmp_path / "local"
    folder.mkdir()
    assert zoo.hub_provenance(ModelRef(str(folder), None)) == {"resolved_revision": None, "folder": str(folder)}


def test_loaded_models_record_dtype_device_and_the_evaluator(tiny_suite):
    from vwbench.models.factory import build_task_model

    prov = build_task_model(tiny_suite.task("generation"), "cpu").loaded.provenance
    assert prov["id"] == "tiny:sd" and prov["dtype"] == "float32" and prov["device"] == "cpu"
    assert prov["evaluator"]["id"] == "tiny:clip-evaluator" and prov["evaluator"]["family"] == "hf_clip"
