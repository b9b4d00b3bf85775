"""Pin and verify a suite's hub models. `lock` resolves every hub model's revision to its commit and records the
sha256 and size of each weight file of that snapshot in a lock file: beside a suite file of yours
(`my-suite.yaml` -> `my-suite.lock.json`), or `./vwbench-locks/<suite>.lock.json` for the suites shipped with
vwbench. `run`, `probe` and `verify` find it there (or take --lock FILE); a run then loads each model at its locked
commit and refuses cached files that differ. Resolution reads the local Hugging Face cache, else the hub's file
metadata (no weights are downloaded); HF_HUB_OFFLINE=1 or --offline keeps it to the cache."""

from __future__ import annotations

HELP = "pin a suite's hub models in a lock file (lock) or check the cache against it (verify)"


def add_arguments(p):
    p.add_argument("action", choices=["lock", "verify"])
    p.add_argument("--suite", required=True, help="suite name or suite YAML file")
    p.add_argument(
        "--lock",
        metavar="FILE",
        help="lock file to write (lock) or read (verify) (default: beside "
        "the suite file, or ./vwbench-locks/<suite>.lock.json)",
    )
    p.add_argument("--offline", action="store_true", help="lock: resolve from the local cache only")


def run(args) -> int:
    from pathlib import Path

    from vwbench import hub
    from vwbench.errors import VWBenchError
    from vwbench.spec import SpecLibrary

    suite = SpecLibrary(args.specs).suite(args.suite)
    if not hub.hub_refs(_with_checker(suite)):
        raise VWBenchError(f"suite {suite.name!r} has no hub models to {args.action}")
    if args.action == "lock":
        path = Path(args.lock) if args.lock else hub.default_lock_path(suite)
        doc = hub.make_lock(
            _with_checker(suite), offline=args.offline or None, progress=lambda msg: print(msg, flush=True)
        )
        hub.write_lock(doc, path)
        for model_id, e in doc["models"].items():
            size = sum(f["size"] for f in e["files"].values()) / 2**30
            print(
                f"{model_id}@{e['requested']} -> {e['revision']} ({len(e['files'])} weight files, {size:.2f} GiB, "
                f"from the {e['source']})"
            )
        print(f"lock: {path}")
        return 0
    lock = hub.find_lock(suite, args.lock)
    if lock is None:
        raise VWBenchError(
            f"no lock file for suite {suite.name!r} at {hub.default_lock_path(suite)} "
            f"(write one with `vwbench models lock --suite {args.suite}`, or pass --lock FILE)"
        )
    locked = hub.apply_lock(_with_checker(suite), lock)
    for _, _, ref in _unique(hub.hub_refs(locked)):
        got = hub.verify(ref, lock)
        print(f"{ref.id}@{ref.revision}: " + ("not in the lock" if got is None else f"{got['files']} files ok"))
    print(f"lock: {lock['path']}")
    return 0


def _has_checker(suite) -> bool:
    return any(t.task == "generation" and t.safety_checker for t in suite.tasks)


def _with_checker(suite):
    """The suite with its safety checker on, so a lock covers it too (a run may turn it on)."""
    from vwbench import hub

    return hub.enable_safety_checker(suite) if _has_checker(suite) else suite


def _unique(refs):
    seen, out = set(), []
    for r in refs:
        if r[2].id not in seen:
            seen.add(r[2].id)
            out.append(r)
    return out
