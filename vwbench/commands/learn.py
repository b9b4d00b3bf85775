"""Learn new words only: train the selected trials of a suite (default: all tasks, datasets, concepts and the
suite's anchors, unconstrained unless --delta), save each vector as a diffusers-loadable safetensors file
(`DIR/<task>/<dataset>/<concept>__<anchor>[__d<δ>].safetensors`) and print loss and in-domain metric before
(the anchor's own embedding) and after training. Every input is checked before anything is trained or written.

It is the study loop (vwbench.study) with `learn_only`: no transfer, each word scored in the task model that
learned it beside its anchor. The words go through a temporary store, or `--store DIR` to keep (and reuse) them."""

from __future__ import annotations

import contextlib

from vwbench.commands import filters

HELP = "learn words of a suite and save them as embedding files"
DEFAULT_SUITE = "micro"


def add_arguments(p):
    p.add_argument("--suite", default=DEFAULT_SUITE, help=f"suite name or file (default: {DEFAULT_SUITE}, offline)")

    filters.add_arguments(p, limit=False)
    p.add_argument(
        "--anchor", action="append", metavar="A", help="anchor word (repeatable; default: the suite's anchor policy)"
    )
    p.add_argument("--delta", type=float, metavar="X", help="train in the δ-ball of radius X·d_nn(anchor)")
    p.add_argument("--steps", type=int, metavar="N", help="override the suite's training steps")
    filters.add_device_argument(p)
    filters.add_data_argument(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: vwbench-runs/<suite>/learned)")
    p.add_argument(
        "--store",
        metavar="DIR",
        help="keep the words and scores in this store and reuse what it holds "
        "(default: a temporary store, removed afterwards)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--lock", metavar="FILE", help="lock file of the suite's hub models (default: the suite's, if any)")
    p.add_argument("--allow-unpinned", action="store_true", help="use hub models whose revision is a branch")


def _fmt(x: float) -> str:
    return f"{x:g}"


def out_path(root, task: str, trial):
    """Where a trial's vector is written."""
    from pathlib import Path

    delta = "" if trial.delta is None else f"__d{_fmt(trial.delta)}"
    return Path(root) / task / trial.dataset / f"{trial.concept}__{trial.anchor}{delta}.safetensors"


def plan(args):
    """Validate every input and return (suite, StudyOptions, out dir): the suite with `--anchor` as its anchor
    policy, the options of a learn-only study. Raises VWBenchError on the first bad input; trains, loads models
    and writes nothing."""
    import dataclasses
    import math
    from pathlib import Path

    from vwbench import hub
    from vwbench.commands.filters import from_args
    from vwbench.commands.run import parse_data
    from vwbench.errors import VWBenchError
    from vwbench.models.factory import resolve_device
    from vwbench.spec import SpecLibrary
    from vwbench.study import StudyOptions
    from vwbench.tokenizer import single_token_id

    if args.steps is not None and args.steps <= 0:
        raise VWBenchError(f"--steps must be positive, got {args.steps}")
    if args.delta is not None and not (math.isfinite(args.delta) and args.delta > 0):
        raise VWBenchError(f"--delta must be a positive number, got {args.delta:g}")
    suite = SpecLibrary(args.specs).suite(args.suite)
    lock = hub.find_lock(suite, getattr(args, "lock", None))
    hub.prepare(suite, lock, getattr(args, "allow_unpinned", False))  # as `run`: refused when unpinned
    resolve_device(args.device)
    data_paths = parse_data(args.data)
    select = from_args(args)
    select.check(suite)  # one shared reading of --task/--dataset/--concept (vwbench/selection.py)
    for name in data_paths:
        if name not in {d.name for d in suite.datasets}:
            raise VWBenchError(
                f"--data names unknown dataset {name!r} (known: {', '.join(d.name for d in suite.datasets)})"
            )
    if args.anchor:
        datasets = select.dataset_specs(suite)
        known = sorted({a for d in datasets for a in d.anchors})
        for a in args.anchor:
            if a not in known:
                raise VWBenchError(
                    f"unknown anchor {a!r} for datasets {', '.join(d.name for d in datasets)} "
                    f"(known: {', '.join(known)})"
                )
            try:
                single_token_id(a)
            except ValueError as exc:
                raise VWBenchError(str(exc)) from None
        # the words are the anchor policy, in the datasets that hold one of them
        suite = dataclasses.replace(suite, anchors=tuple(args.anchor))
        select = dataclasses.replace(
            select, datasets=tuple(d.name for d in datasets if any(a in d.anchors for a in args.anchor))
        )
    out = Path(args.out) if args.out else Path("vwbench-runs") / suite.name / "learned"
    if out.exists() and not out.is_dir():
        raise VWBenchError(f"--out {out} exists and is not a folder")
    options = StudyOptions(
        methods=[],
        learn_only=True,
        unconstrained=args.delta is None,
        deltas=() if args.delta is None else (args.delta,),
        device=args.device,
        data=data_paths,
        progress=not args.no_progress,
        steps=args.steps,
        select=select,
        lock=lock,
        allow_unpinned=getattr(args, "allow_unpinned", False),
    )
    return suite, options, out


@contextlib.contextmanager
def _store(path):
    """The store a learn run writes through: `path`, else a temporary one, removed afterwards."""
    import tempfile

    from vwbench.store import Store

    if path:
        with Store(path) as store:
            yield store
        return
    with tempfile.TemporaryDirectory(prefix="vwbench-learn-") as tmp, Store(tmp) as store:  # closed, then removed
        yield store


def run(args) -> int:
    import time

    from tabulate import tabulate

    from vwbench.export import save_embedding
    from vwbench.study import Study

    started = time.perf_counter()
    suite, options, out = plan(args)
    rows, improved, total = [], 0, 0
    with _store(args.store) as store:
        study = Study(suite, store, options)
        summary = study.run()
        for ds in study.select.dataset_specs(study.suite):
            ds_id = study.depends["datasets"][ds.name]
            for task in study.tasks:
                for t in study.trials(ds, task):
                    key = study.vector_key(t, task, ds_id)
                    vector, meta = store.get_vector(key)
                    after = store.get_score(study.score_key(key, task, "in_domain", None))
                    before = store.get_score(study.score_key(study.anchor_key(t, task), task, "anchor", None))
                    mb, ma = before.value, after.value
                    save_embedding(
                        out_path(out, task.name, t),
                        vector,
                        f"<{t.concept}>",
                        {
                            "suite": suite.name,
                            "task": task.name,
                            "task_kind": task.task,
                            "model_id": task.model.id,
                            "revision": task.model.revision or "",
                            "dataset": t.dataset,
                            "concept": t.concept,
                            "anchor": t.anchor,
                            "delta": t.delta,
                            "seed": t.seed,
                            "steps": study.train.steps,
                            "lr": study.train.lr,
                            "loss_start": meta["loss_start"],
                            "loss_end": meta["loss_end"],
                            "metric": after.metric,
                            "metric_before": mb,
                            "metric_after": ma,
                            "nearest_token": meta["nearest_token"],
                            "anchor_distance": meta["anchor_distance"],
                        },
                    )
                    total += 1
                    improved += ma > mb
                    rows.append(
                        (
                            task.name,
                            t.dataset,
                            t.concept,
                            t.anchor,
                            "-" if t.delta is None else _fmt(t.delta),
                            f"{meta['loss_start']:.4f}",
                            f"{meta['loss_end']:.4f}",
                            after.metric,
                            f"{mb:.3f}",
                            f"{ma:.3f}",
                            f"{meta['anchor_distance']:.3f}",
                        )
                    )
    for f in summary.failures:
        print(f"failed: {f}")
    print(
        tabulate(
            rows,
            headers=[
                "task",
                "dataset",
                "concept",
                "anchor",
                "δ",
                "loss before",
                "loss after",
                "metric",
                "before",
                "after",
                "‖v−a‖/d_nn",
            ],
        )
    )
    print(
        f"\n{improved}/{total} trials improved their in-domain metric over the anchor; "
        f"vectors in {out} ({time.perf_counter() - started:.1f}s)"
    )
    return 1 if summary.failures else 0
