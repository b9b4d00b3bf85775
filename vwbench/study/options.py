"""What a study run is asked to do (StudyOptions), what it reports (StudySummary), and how its options name
its variant, its methods and what changed since a stored result."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from vwbench.errors import VWBenchError
from vwbench.spec import SuiteSpec


@dataclass
class StudyOptions:
    methods: list = field(default_factory=lambda: ["linear_transfer"])  # names, submission paths or instances
    unconstrained: bool = True
    deltas: tuple[float, ...] | None = None  # None: the suite's deltas
    device: str = "cpu"
    data: dict = field(default_factory=dict)  # dataset name -> manifest path (overrides the suite)
    progress: bool = True
    steps: int | None = None  # override the suite's training steps (= overrides["steps"])
    embeddings: object = None  # an embeddings submission: its vectors replace learning
    controls: bool = True  # score the suite's controls (docs/metrics.md) beside the methods
    select: object = None  # a vwbench.selection.Selection: only these trials (None: all)
    seeds: tuple[int, ...] | None = None  # trial seeds, each a full set of trials (None: the suite's)
    overrides: dict = field(default_factory=dict)  # TrainConfig field -> value; see `resolve_overrides`
    shard: tuple[int, int] | None = None  # (I, N): only the I-th of N disjoint parts of the trials
    executor: object = None  # where the work runs (vwbench.executors; None: locally)
    lock: object = None  # a lock file (path or read dict): pins and verifies hub models
    allow_unpinned: bool = False  # run hub models whose revision is a branch (recorded as resolved)
    safety_checker: bool = False  # screen generated images with the task's safety checker
    learn_only: bool = False  # no transfer: each word scored in-domain, beside its anchor's
    # own embedding (every trial, δ too): `vwbench learn`


@dataclass
class StudySummary:
    run_id: str
    computed: dict = field(default_factory=lambda: defaultdict(int))
    reused: dict = field(default_factory=lambda: defaultdict(int))
    failures: list[str] = field(default_factory=list)
    stage_seconds: dict = field(default_factory=lambda: defaultdict(float))
    fits: list[dict] = field(default_factory=list)
    replaced: dict = field(default_factory=lambda: defaultdict(int))  # stored under older code/settings
    changes: list[str] = field(default_factory=list)  # what differs from those results
    backoffs: list[dict] = field(default_factory=list)  # out-of-memory retries (learn_chunk)

    def replaced_note(self) -> str:
        """One line on stored results that older code or settings produced and this run recomputed ('' if none)."""
        if not self.replaced:
            return ""
        counts = ", ".join(f"{v} {k}" for k, v in self.replaced.items())
        why = "; ".join(self.changes) or "their keys differ"
        return f"{counts} in the store came from older code or settings and were recomputed (what changed: {why})"


def method_label(method) -> str:
    """A method's name in records and tables: with its non-default parameters, e.g. `ridge(lam=0.1)`."""
    from vwbench.method_spec import label

    return label(method)


def method_id(method, source=None) -> dict:
    """What a transfer method's fits and scores depend on: name, parameters and code (`fingerprint.method_code`);
    for a submission folder (`source`), also its manifest's version and parameters and all its Python files."""
    from vwbench import fingerprint

    out = {"name": method_label(method), "params": getattr(method, "params", {})}
    folder = None
    if isinstance(source, (str, os.PathLike)):
        from vwbench.submissions import MANIFEST, read_manifest

        p = Path(source)
        if (p / MANIFEST).is_file() or (p.name == MANIFEST and p.is_file()):
            sub = read_manifest(p)
            folder = sub.path
            out["version"] = sub.manifest.get("version")
            out["parameters"] = sub.manifest.get("parameters") or {}
    out["code"] = fingerprint.method_code(method, folder)
    return out


# TrainConfig fields a run may override; a run with any override is its own variant of the suite
OVERRIDABLE = ("steps", "lr", "batch_size", "seed")


def resolve_overrides(suite: SuiteSpec, options: StudyOptions) -> dict:
    """The overrides of the suite's training settings a run asks for (`options.overrides`, plus the older
    `options.steps`), checked; settings equal to the suite's own are dropped. One-line VWBenchError when two
    disagree, a field cannot be overridden, a value is not positive, or nothing is trained (--embeddings)."""
    overrides = dict(options.overrides or {})
    if options.steps is not None:
        if overrides.get("steps", options.steps) != options.steps:
            raise VWBenchError(f"conflicting overrides: steps={options.steps} and steps={overrides['steps']}")
        overrides["steps"] = options.steps
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise VWBenchError(f"cannot override {', '.join(unknown)} (overridable: {', '.join(OVERRIDABLE)})")
    out = {}
    for name in OVERRIDABLE:
        if overrides.get(name) is None:
            continue
        value, suite_value = overrides[name], getattr(suite.train, name)
        kind = float if name == "lr" else int
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise VWBenchError(f"override {name}={value!r}: expected {'a number' if kind is float else 'an integer'}")
        value = kind(value)
        if value < 0 or (value == 0 and name != "seed"):
            raise VWBenchError(f"override {name}={value!r}: must be {'>= 0' if name == 'seed' else 'positive'}")
        if value != suite_value:
            out[name] = value
    if out and options.embeddings:
        raise VWBenchError(
            f"{', '.join(f'{k}={v:g}' for k, v in out.items())} cannot apply to an embeddings "
            "submission: its vectors are scored, not trained"
        )
    return out


def variant_name(suite_name: str, overrides: dict) -> str:
    """`suite@steps=5,lr=0.01`: the name a run with overrides files its results under, apart from the suite's."""
    if not overrides:
        return suite_name
    return suite_name + "@" + ",".join(f"{k}={overrides[k]:g}" for k in OVERRIDABLE if k in overrides)


def describe_change(change: str) -> str:
    """`methods.m.code` -> `code of method m`, and the like; other paths stay as they are."""
    path = change.partition(" ")[0]
    parts = path.split(".")
    named = {"methods": "method", "models": "task model", "datasets": "dataset"}
    if len(parts) == 3 and parts[0] in named and parts[2] in ("code", "weights", "manifest_sha256"):
        what = {"manifest_sha256": "manifest"}.get(parts[2], parts[2])
        return f"{what} of {named[parts[0]]} {parts[1]}"
    if parts[0] == "code" and len(parts) == 2:
        return f"{'learner' if parts[1] == 'learn' else parts[1]} code"
    return change


def changes(old, new, path: str = "") -> list[str]:
    """Dotted paths where two dependency records differ (only keys both have), with short values shown."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [c for k in sorted(set(old) & set(new)) for c in changes(old[k], new[k], f"{path}.{k}" if path else k)]
    if old == new:
        return []
    short = all(
        isinstance(v, (int, float, bool, type(None))) or (isinstance(v, str) and len(v) <= 24) for v in (old, new)
    )
    return [f"{path} {old!r} -> {new!r}" if short else path]
