"""Store round trips, keys, overwrite policies and bad input."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch
from safetensors.torch import load_file

from vwbench.errors import VWBenchError
from vwbench.records import Score, Trial
from vwbench.store import SCHEMA_VERSION, Store, default_root

TRIAL = Trial("tiny", "tiny-objects", "cube", "dog", "generation", 0.5, 3)
KEY_PARTS = {
    "model": {"id": "tiny:sd", "revision": "abc"},
    "dataset": {"name": "tiny-objects", "split": "train"},
    "concept": "cube",
    "anchor": "dog",
    "delta": 0.5,
    "seed": 3,
    "hparams": {"lr": 0.05, "steps": 30},
    "method": {"name": "linear_transfer", "params": {}},
    "version": "0.1.0",
}


def test_default_root():
    assert default_root("paper").as_posix() == "vwbench-runs/paper"


def test_key_stable_and_sensitive_to_each_part():
    k = Store.key("vector", **KEY_PARTS)
    assert len(k) == 20 and int(k, 16) >= 0
    # stable: order of parts and dict keys, tuple vs list, 1 vs 1.0 do not matter
    shuffled = dict(reversed(list(KEY_PARTS.items())))
    shuffled["hparams"] = {"steps": 30.0, "lr": 0.05}
    assert Store.key("vector", **shuffled) == k
    assert Store.key("vector", **{**KEY_PARTS, "dataset": {"split": "train", "name": "tiny-objects"}}) == k
    changed = {
        "model": {"id": "tiny:sd", "revision": "abd"},
        "dataset": {"name": "tiny-objects", "split": "val"},
        "concept": "cone",
        "anchor": "cat",
        "delta": 1.0,
        "seed": 4,
        "hparams": {"lr": 0.05, "steps": 31},
        "method": {"name": "procrustes", "params": {}},
        "version": "0.1.1",
    }
    keys = {k}
    for part, value in changed.items():
        keys.add(Store.key("vector", **{**KEY_PARTS, part: value}))
    keys.add(Store.key("score", **KEY_PARTS))
    keys.add(Store.key("vector", **{**KEY_PARTS, "delta": None}))
    assert len(keys) == len(changed) + 3
    # dataclasses key like their fields
    assert Store.key("v", trial=TRIAL) == Store.key("v", trial=TRIAL.__dict__.copy())
    with pytest.raises(TypeError):
        Store.key("v", thing=object())


def test_vector_round_trip(tmp_path):
    store = Store(tmp_path)
    key = store.key("vector", **KEY_PARTS)
    assert store.get_vector(key) is None
    vec = torch.randn(1, 16)
    path = store.put_vector(key, TRIAL, vec, {"loss_end": 0.25, "nearest_token": "dog</w>"})
    got, meta = store.get_vector(key)
    assert torch.equal(got, vec) and got.dtype == torch.float32
    assert meta["loss_end"] == 0.25 and meta["trial"]["concept"] == "cube" and meta["key"] == key
    # the file is a one-key safetensors file (diffusers load_textual_inversion format) with trial metadata
    tensors = load_file(path)
    assert list(tensors) == ["<cube>"]
    from safetensors import safe_open

    with safe_open(path, "pt") as fh:
        header = fh.metadata()
    assert json.loads(header["trial.delta"]) == 0.5 and json.loads(header["vwbench"])["trial"]["anchor"] == "dog"
    # a second Store object on the same root sees it
    assert torch.equal(Store(tmp_path).get_vector(key)[0], vec)
    assert store.verify() == []
    assert [k for k, _, _ in store.vectors("tiny")] == [key]


def test_vector_refuses_nan(tmp_path):
    with pytest.raises(VWBenchError, match="non-finite"):
        Store(tmp_path).put_vector("k", TRIAL, torch.tensor([[float("nan"), 1.0]]), {})


def test_score_fit_and_run_round_trip(tmp_path):
    store = Store(tmp_path)
    run = store.begin_run({"device": "cpu", "models": {"generation": "tiny:sd@abc"}, "seeds": [0]})
    score = Score(TRIAL, "detection", "linear_transfer", "ap50", 0.42, {"map": 0.3})
    store.put_score("s1", score, run)
    assert store.get_score("s1") == score
    assert store.get_score("nope") is None
    store.put_score("s1", score, run)  # replaced, not duplicated
    store.put_score("s2", Score(Trial("other", "d", "c", "a", "detection"), "detection", "in_domain", "ap50", 1.0))
    assert store.scores("tiny") == [score] and len(store.scores()) == 2
    assert store.suites() == ["other", "tiny"]
    store.put_fit("f1", {"pairs": 49406, "residual": 0.5})
    assert store.get_fit("f1") == {"pairs": 49406, "residual": 0.5} and store.get_fit("f2") is None
    store.end_run(run, {"learn": 1.5, "evaluate": 0.5}, "ok")
    (r,) = store.runs()
    assert r["status"] == "ok" and r["stage_times"] == {"learn": 1.5, "evaluate": 0.5}
    for field in ("vwbench_version", "git_commit", "python", "packages", "device", "models", "seeds"):
        assert field in r["meta"]
    assert {"torch", "diffusers", "transformers", "open_clip", "numpy"} <= set(r["meta"]["packages"])
    assert sqlite3.connect(tmp_path / "results.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_overwrite_policies(tmp_path):
    store = Store(tmp_path)
    store.put_vector("v", TRIAL, torch.ones(1, 4), {})
    store.put_score("s", Score(TRIAL, "generation", "in_domain", "generation_accuracy", 0.5))
    store.put_fit("f", {"a": 1})
    for policy in ("never", "only-missing"):
        s = Store(tmp_path, overwrite=policy)
        assert s.get_vector("v") is not None and s.get_score("s") is not None and s.get_fit("f") is not None
    again = Store(tmp_path, overwrite="always")
    assert again.get_vector("v") is None and again.get_score("s") is None and again.get_fit("f") is None
    again.put_vector("v", TRIAL, torch.zeros(1, 4), {})  # recomputed and replaced ...
    assert torch.equal(again.get_vector("v")[0], torch.zeros(1, 4))  # ... and then reused within the run
    assert torch.equal(Store(tmp_path).get_vector("v")[0], torch.zeros(1, 4))
    assert len(Store(tmp_path).vectors()) == 1
    assert len(list((tmp_path / "embeddings").glob("*.safetensors"))) == 1  # the replaced file is gone
    assert Store(tmp_path).verify() == []
    with pytest.raises(VWBenchError, match="overwrite policy"):
        Store(tmp_path, overwrite="sometimes")


@pytest.mark.parametrize("damage", ["missing", "truncated", "flipped"])
def test_missing_or_corrupt_embedding(tmp_path, damage):
    store = Store(tmp_path)
    path = store.put_vector("v", TRIAL, torch.ones(1, 8), {})
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:20])
    else:
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
    with pytest.raises(VWBenchError, match="only-missing") as err:
        Store(tmp_path, overwrite="never").get_vector("v")
    assert path.name in str(err.value) and TRIAL.label() in str(err.value)
    assert any(path.name in p for p in store.verify())
    fixer = Store(tmp_path, overwrite="only-missing")
    assert fixer.get_vector("v") is None  # recomputed ...
    fixer.put_vector("v", TRIAL, torch.ones(1, 8), {})
    assert torch.equal(Store(tmp_path).get_vector("v")[0], torch.ones(1, 8))


def test_corrupt_database_is_reported_not_deleted(tmp_path):
    db = tmp_path / "results.sqlite"
    db.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(VWBenchError, match="not a readable vwbench results database.*mv "):
        Store(tmp_path)
    assert db.read_bytes().startswith(b"this is not sqlite")


def test_foreign_sqlite_is_refused(tmp_path):
    sqlite3.connect(tmp_path / "results.sqlite").execute("CREATE TABLE x (a)")
    with pytest.raises(VWBenchError, match="not a vwbench store"):
        Store(tmp_path)


@pytest.mark.parametrize("version,match", [(SCHEMA_VERSION + 1, "newer vwbench"), (0, "cannot read")])
def test_incompatible_schema_version(tmp_path, version, match):
    Store(tmp_path).close()
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:
        conn.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(version),))
    with pytest.raises(VWBenchError, match=match):
        Store(tmp_path)


def test_missing_store_when_reading(tmp_path):
    with pytest.raises(VWBenchError, match="no vwbench store"):
        Store(tmp_path / "nothing", create=False)
    assert not (tmp_path / "nothing").exists()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(VWBenchError, match="is a file"):
        Store(tmp_path / "afile")


def test_the_split_store_keeps_its_names():
    """store.py is three modules (store_keys, store_vectors, store); what other modules import stays in vwbench.store."""
    from vwbench import store, store_keys, store_vectors

    assert store.canonical_json is store_keys.canonical_json and store.make_key is store_keys.make_key
    assert store.TRIAL_FIELDS is store_vectors.TRIAL_FIELDS and issubclass(store.Store, store_vectors.VectorRecords)
    assert store.SCHEMA_VERSION >= 1 and store.default_root("s").as_posix() == "vwbench-runs/s"
    assert store.canonical_json({"b": (1.0, 2), "a": None}, for_key=True) == '{"a":null,"b":[1,2]}'
