"""The Python API behind `vwbench.run(...)` (docs/api.md): what `vwbench run` does, as a function.

Imported only when `vwbench.run` is first used (vwbench/__init__.py resolves names lazily), so `import vwbench`
and `vwbench --help` stay fast.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


def run(
    suite: str = "micro",
    methods: Sequence = ("linear_transfer",),
    *,
    store: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    specs: str | os.PathLike | None = None,
    device: str | None = None,
    tasks: Sequence[str] = (),
    datasets: Sequence[str] = (),
    concepts: Sequence[str] = (),
    limit: int | None = None,
    seeds: Sequence[int] | None = None,
    steps: int | None = None,
    unconstrained: bool = True,
    deltas: Sequence[float] | None = None,
    data: dict | None = None,
    embeddings: str | os.PathLike | None = None,
    overwrite: str = "never",
    progress: bool = True,
    lock: str | os.PathLike | None = None,
    allow_unpinned: bool = False,
    safety_checker: bool = False,
) -> dict:
    """Learn, transfer and score a suite (or the selected part of it); return its results.json document.

    suite        a suite name from the spec folder (`specs`, default $VWBENCH_SPECS or the checkout's tasks/)
                 or a suite file
    methods      transfer methods: registered names, `name:key=value,...` specs (`"ridge:lam=0.1"`), method
                 submission folders, or method instances
    store        the results store (default `vwbench-runs/<suite>`); results are reused from it
    out          write the leaderboard (Markdown, HTML, results.json, scores.jsonl, plots) into this folder;
                 None writes nothing and returns the same document (without plots)
    tasks, datasets, concepts, limit
                 the filters of `vwbench run --task/--dataset/--concept/--limit` (limit: at most this many
                 concepts per dataset, the first in spec order); the result is labelled filtered
    seeds        trial seeds (default: the suite's); every selected trial runs once per seed
    steps        override the suite's training steps
    unconstrained, deltas
                 run the unconstrained experiment; δ levels of the constrained one (None: the suite's, (): none)
    data         {dataset name: prepared manifest path}
    embeddings   an embeddings submission folder whose vectors are scored instead of learning
    overwrite    never | always | only-missing (as `--overwrite`)
    progress     show the run's progress bar
    lock, allow_unpinned, safety_checker
                 as `vwbench run --lock/--allow-unpinned/--safety-checker` (docs/gpu.md); lock None: the suite's
                 lock file when `vwbench models lock` wrote one

    Bad input raises `vwbench.errors.VWBenchError`. Methods that fail are reported on stderr and in
    `doc["provenance"]`'s run status ("partial"); the others' results are returned.
    """
    from pathlib import Path

    from vwbench.errors import VWBenchError
    from vwbench.hub import find_lock, prepare
    from vwbench.report import build_leaderboard, leaderboard_doc
    from vwbench.report import provenance as prov
    from vwbench.report.aggregate import latest_scores
    from vwbench.selection import Selection
    from vwbench.spec import SpecLibrary
    from vwbench.store import Store, default_root
    from vwbench.study import Study, StudyOptions

    if isinstance(methods, str) or not isinstance(methods, Sequence):
        methods = [methods]
    if not methods:
        raise VWBenchError("vwbench.run: give at least one transfer method")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0):
        raise VWBenchError(f"vwbench.run: steps must be a positive integer, got {steps!r}")
    select = Selection(tuple(tasks), tuple(datasets), tuple(concepts), limit)
    spec = SpecLibrary(specs).suite(suite)
    select.check(spec)
    lock = find_lock(spec, lock)
    prepare(spec, lock, allow_unpinned, safety_checker)  # withdrawn or unpinned models: no store is created
    options = StudyOptions(
        methods=list(methods),
        unconstrained=unconstrained,
        deltas=None if deltas is None else tuple(float(d) for d in deltas),
        device=device,
        data=dict(data or {}),
        progress=progress,
        steps=steps,
        embeddings=embeddings,
        select=select,
        seeds=None if seeds is None else tuple(seeds),
        lock=lock,
        allow_unpinned=allow_unpinned,
        safety_checker=safety_checker,
    )
    bound = select.bind(spec) if select.active else None
    with Store(Path(store) if store is not None else default_root(spec.name), overwrite=overwrite) as st:
        study = Study(spec, st, options)
        study.run()
        if out is not None:
            return build_leaderboard(st, study.name, Path(out), select=bound)
        scores = prov.selected_scores(st, study.name, bound)
        if not scores:
            raise VWBenchError(f"the run of suite {study.name!r} left no scores in {st.root}")
        kept, _ = latest_scores(scores)
        return leaderboard_doc(
            scores,
            study.name,
            provenance=prov.provenance(st, study.name, kept),
            filters=bound.as_dict() if bound is not None else None,
        )
