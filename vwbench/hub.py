"""Hub model references that survive the hub: withdrawn ids, pinned revisions, and lock files.

A lock file (`vwbench models lock`) records, for every hub model of a suite, the commit its revision resolved to
and the sha256 and size of every weight file of that snapshot. Loading verifies the cached files against it.
Resolution goes through huggingface_hub: the local cache (`models--org--name/refs/<branch>`,
`snapshots/<commit>/...`), or the hub's file metadata when it can be reached. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

from vwbench import atomic
from vwbench.errors import VWBenchError
from vwbench.withdrawn import WITHDRAWN, check_not_withdrawn, withdrawn_message  # noqa: F401 - re-exported

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
LOCK_VERSION = 1
LOCK_DIR = "vwbench-locks"
_COMMIT = re.compile(r"[0-9a-f]{40}")


class LockMismatch(VWBenchError):
    """Cached weight files that differ from (or are missing against) a suite's lock file."""


def is_pinned(revision: str | None) -> bool:
    return isinstance(revision, str) and bool(_COMMIT.fullmatch(revision))


def is_hub(ref) -> bool:
    """A model read from the Hugging Face hub (not shipped with vwbench, not a local folder)."""
    return not ref.is_builtin and not Path(ref.id).is_dir()


def task_refs(task) -> list[tuple[str, object]]:
    """[(role, ModelRef)] of every model a task loads: its model, its evaluator, its safety checker when on."""
    from vwbench.spec import ModelRef

    out = [("model", task.model)]
    if task.evaluator:
        out.append(("evaluator", ModelRef(**task.evaluator["model"])))
    if getattr(task, "safety", False) and task.safety_checker:
        out.append(("safety_checker", ModelRef(task.safety_checker["id"], task.safety_checker.get("revision"))))
    return out


def hub_refs(suite, tasks=None) -> list[tuple[str, str, object]]:
    """[(task name, role, ModelRef)] of every hub model the suite (or only `tasks`) loads."""
    return [(t.name, role, ref) for t in (tasks or suite.tasks) for role, ref in task_refs(t) if is_hub(ref)]


# ------------------------------------------------------------------------------------------ the cache


def cache_root() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def cached_snapshot(model_id: str, revision: str | None) -> Path | None:
    """The cached snapshot folder of `model_id` at `revision` (a branch, tag or commit), or None when the
    cache does not hold it. Never touches the network."""
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(model_id, revision=revision or "main", cache_dir=str(cache_root()), local_files_only=True)
        )
    except Exception:  # noqa: BLE001 - huggingface_hub raises LocalEntryNotFoundError, ValueError, OSError
        return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weight_files(snapshot: Path) -> dict[str, Path]:
    """{relative path: file} of the weight files of a cached snapshot (symlinks into blobs/ followed)."""
    return {
        f.relative_to(snapshot).as_posix(): f
        for f in sorted(snapshot.rglob("*"))
        if f.suffix in WEIGHT_SUFFIXES and f.is_file()
    }


def _entry_from_cache(model_id: str, revision: str | None) -> dict | None:
    snapshot = cached_snapshot(model_id, revision)
    if snapshot is None:
        return None
    files = {}
    for rel, f in weight_files(snapshot).items():
        digest = sha256_file(f)
        blob = Path(os.readlink(f)).name if f.is_symlink() else None
        if blob and re.fullmatch(r"[0-9a-f]{64}", blob) and blob != digest:  # the cache names LFS blobs by sha256
            raise LockMismatch(
                f"cached file {rel} of {model_id}@{snapshot.name} is corrupt: its content's sha256 "
                f"is {digest[:12]}…, the hub's is {blob[:12]}… (delete it and download again)"
            )
        files[rel] = {"sha256": digest, "size": f.stat().st_size}
    return {"revision": snapshot.name, "files": files, "source": "cache"}


def _entry_from_hub(model_id: str, revision: str | None) -> dict:
    from huggingface_hub import HfApi

    info = HfApi().model_info(model_id, revision=revision or "main", files_metadata=True)
    files = {
        s.rfilename: {"sha256": s.lfs.sha256, "size": s.lfs.size}
        for s in info.siblings or []
        if s.rfilename.endswith(WEIGHT_SUFFIXES) and getattr(s, "lfs", None)
    }
    return {"revision": info.sha, "files": files, "source": "hub"}


def resolve(ref, offline: bool | None = None) -> dict:
    """The lock entry of one hub model: {requested, revision (40 hex), files {path: {sha256, size}}, source}.
    From the local cache when it holds the snapshot, else from the hub's metadata (nothing is downloaded)."""
    check_not_withdrawn(ref.id)
    entry = _entry_from_cache(ref.id, ref.revision)
    if entry is None:
        from huggingface_hub import constants

        if offline or (offline is None and constants.HF_HUB_OFFLINE):
            raise VWBenchError(
                f"model {ref.id}@{ref.revision or 'main'} is not in the Hugging Face cache "
                f"({cache_root()}) and the hub is off (HF_HUB_OFFLINE); download it first "
                f"(`hf download {ref.id} --revision {ref.revision or 'main'}`)"
            )
        try:
            entry = _entry_from_hub(ref.id, ref.revision)
        except Exception as exc:  # noqa: BLE001 - network, auth and not-found errors all end the lock
            raise VWBenchError(
                f"cannot resolve {ref.id}@{ref.revision or 'main'}: not in the Hugging Face cache "
                f"({cache_root()}) and the hub answered {type(exc).__name__}"
            ) from None
    if not entry["files"]:
        raise VWBenchError(f"model {ref.id}@{entry['revision']} has no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    return {"requested": ref.revision, **entry}


# ------------------------------------------------------------------------------------------ lock files


def default_lock_path(suite) -> Path:
    """Where a suite's lock file lives: beside a suite file of the user's (`my.yaml` -> `my.lock.json`); for the
    suites shipped inside the package, `./vwbench-locks/<suite>.lock.json` (the package may be read-only)."""
    path = Path(suite.path) if suite.path else None
    shipped = Path(__file__).resolve().parent / "specs"
    if path is not None and path.is_file() and shipped not in path.resolve().parents:
        return path.with_name(path.name.rsplit(".", 1)[0] + ".lock.json")
    return Path(LOCK_DIR) / f"{suite.name}.lock.json"


def make_lock(suite, offline: bool | None = None, progress=None) -> dict:
    """The lock document of a suite: every hub model resolved (revision and weight files' sha256)."""
    import huggingface_hub

    models: dict[str, dict] = {}
    for task, role, ref in hub_refs(suite):
        if ref.id in models:
            if models[ref.id]["requested"] != ref.revision:
                raise VWBenchError(
                    f"model {ref.id} appears with two revisions ({models[ref.id]['requested']} and "
                    f"{ref.revision}); a lock holds one"
                )
            models[ref.id]["used_by"].append(f"{task}.{role}")
            continue
        if progress:
            progress(f"resolving {ref.id}@{ref.revision or 'main'}")
        models[ref.id] = {**resolve(ref, offline), "used_by": [f"{task}.{role}"]}
    return {
        "lock_version": LOCK_VERSION,
        "suite": suite.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "huggingface_hub": huggingface_hub.__version__,
        "models": models,
    }


def write_lock(doc: dict, path: Path) -> None:
    atomic.write_json(path, doc)


def read_lock(path: str | Path) -> dict:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise VWBenchError(f"lock file {path} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VWBenchError(f"lock file {path} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("lock_version") != LOCK_VERSION or not isinstance(doc.get("models"), dict):
        raise VWBenchError(f"lock file {path} is not a vwbench lock (lock_version {LOCK_VERSION} with models)")
    for model_id, entry in doc["models"].items():
        if (
            not isinstance(entry, dict)
            or not is_pinned(entry.get("revision"))
            or not isinstance(entry.get("files"), dict)
        ):
            raise VWBenchError(f"lock file {path}: model {model_id} needs a 40-hex revision and its files")
    doc["path"] = str(path)
    return doc


def find_lock(suite, explicit: str | Path | None = None) -> dict | None:
    """The suite's lock: `explicit` (must exist), else the default path when that file exists, else None."""
    if explicit:
        return read_lock(explicit)
    path = default_lock_path(suite)
    return read_lock(path) if path.is_file() else None


def locked_revision(ref, lock: dict | None) -> str | None:
    """The commit a lock pins `ref` to (None when the lock does not cover it). A lock made for another
    revision than the spec asks for is an error."""
    entry = (lock or {}).get("models", {}).get(ref.id)
    if entry is None:
        return None
    if entry.get("requested") != ref.revision and entry["revision"] != ref.revision:
        raise LockMismatch(
            f"lock file {lock.get('path')} pins {ref.id} for revision {entry.get('requested')!r}, the "
            f"suite asks for {ref.revision!r}; run `vwbench models lock` again"
        )
    return entry["revision"]


def apply_lock(suite, lock: dict | None):
    """The suite with every hub model the lock covers at its locked commit (the same suite without a lock)."""
    import dataclasses

    if not lock:
        return suite

    def pin(ref):
        rev = locked_revision(ref, lock) if is_hub(ref) else None
        return ref if rev is None else dataclasses.replace(ref, revision=rev)

    tasks = []
    for t in suite.tasks:
        changes = {"model": pin(t.model)}
        if t.evaluator:
            from vwbench.spec import ModelRef

            ev = pin(ModelRef(**t.evaluator["model"]))
            changes["evaluator"] = {**t.evaluator, "model": {"id": ev.id, "revision": ev.revision}}
        if t.safety_checker:
            from vwbench.spec import ModelRef

            sc = pin(ModelRef(t.safety_checker["id"], t.safety_checker.get("revision")))
            changes["safety_checker"] = {**t.safety_checker, "revision": sc.revision}
        tasks.append(dataclasses.replace(t, **changes))
    return dataclasses.replace(suite, tasks=tuple(tasks))


def unpinned(suite, lock: dict | None = None, tasks=None) -> list[str]:
    """`task.role: id@revision` of each hub model whose revision is neither a commit nor pinned by the lock."""
    return [
        f"{t}.{role}: {ref.id}@{ref.revision}"
        for t, role, ref in hub_refs(suite, tasks)
        if not is_pinned(ref.revision) and locked_revision(ref, lock) is None
    ]


def check_pins(suite, lock: dict | None = None, allow_unpinned: bool = False, tasks=None) -> None:
    """Refuse (one line) a suite with withdrawn models, or with unpinned hub models unless `allow_unpinned`."""
    for t, role, ref in hub_refs(suite, tasks):
        check_not_withdrawn(ref.id)
    loose = unpinned(suite, lock, tasks)
    if loose and not allow_unpinned:
        raise VWBenchError(
            f"unpinned hub model{'s' if len(loose) > 1 else ''} ({'; '.join(loose)}): pin a 40-hex "
            "revision in the task spec, or run `vwbench models lock --suite "
            f"{suite.path or suite.name}` to pin them in a lock file, or pass --allow-unpinned"
        )


def verify(ref, lock: dict | None) -> dict | None:
    """Check the cached weight files of `ref` against its lock entry; one-line LockMismatch naming every file
    that differs or is missing. Returns what was checked ({revision, files, lock}) or None without an entry."""
    entry = (lock or {}).get("models", {}).get(ref.id)
    if entry is None:
        return None
    snapshot = cached_snapshot(ref.id, entry["revision"])
    if snapshot is None:
        raise LockMismatch(
            f"model {ref.id}@{entry['revision']} (lock {lock.get('path')}) is not in the Hugging Face "
            f"cache ({cache_root()})"
        )
    # a lock made from the cache lists what the snapshot held, so each file must be there; one made from the hub
    # lists every weight file of the repository, of which a loader downloads only those it needs
    required = entry.get("source") != "hub"
    missing, differ, present = [], [], 0
    for rel, want in sorted(entry["files"].items()):
        f = snapshot / rel
        if not f.is_file():
            if required:
                missing.append(rel)
            continue
        present += 1
        if f.stat().st_size != want.get("size", f.stat().st_size) or sha256_file(f) != want["sha256"]:
            differ.append(rel)
    if not present and not required:
        missing = sorted(entry["files"])
    if missing or differ:
        parts = ([f"differ: {', '.join(differ)}"] if differ else []) + (
            [f"missing: {', '.join(missing)}"] if missing else []
        )
        raise LockMismatch(
            f"cached files of {ref.id}@{entry['revision']} disagree with the lock {lock.get('path')} "
            f"({'; '.join(parts)}); download them again or run `vwbench models lock` if the change is "
            "intended"
        )
    return {"revision": entry["revision"], "files": present, "lock": lock.get("path")}


def enable_safety_checker(suite):
    """The suite with its generation task screening generated images with its declared safety checker."""
    import dataclasses

    gen = [t for t in suite.tasks if t.task == "generation"]
    if not gen:
        raise VWBenchError(f"--safety-checker: suite {suite.name!r} has no generation task")
    if not gen[0].safety_checker:
        raise VWBenchError(f"--safety-checker: task {gen[0].name!r} declares no safety_checker ({{id, revision}})")
    return dataclasses.replace(
        suite, tasks=tuple(dataclasses.replace(t, safety=True) if t is gen[0] else t for t in suite.tasks)
    )


def prepare(suite, lock=None, allow_unpinned: bool = False, safety_checker: bool = False):
    """(suite, lock) as a run uses them: the lock read (a path) or as given (a dict), the suite at its locked
    commits and with the safety checker on when asked; refused (one line) for withdrawn or unpinned models."""
    if isinstance(lock, (str, os.PathLike)):
        lock = read_lock(lock)
    suite = apply_lock(suite, lock)
    if safety_checker:
        suite = enable_safety_checker(suite)
    check_pins(suite, lock, allow_unpinned)
    return suite, lock


def verify_task(task, lock: dict | None) -> list[dict]:
    """Verify every hub model of a loaded task against the lock; what was checked, by role."""
    return [
        {"role": role, "id": ref.id, **got}
        for role, ref in task_refs(task)
        if is_hub(ref) and (got := verify(ref, lock)) is not None
    ]
