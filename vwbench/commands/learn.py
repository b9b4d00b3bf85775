"""Learn new words only: train the selected trials of a suite (default: all tasks, datasets, concepts and the
suite's anchors, unconstrained unless --delta), save each vector as a diffusers-loadable safetensors file
(`DIR/<task>/<dataset>/<concept>__<anchor>[__d<δ>].safetensors`) and print loss and in-domain metric before
(the anchor's own embedding) and after training. Every input is checked before anything is trained or written."""

from __future__ import annotations

HELP = "learn words of a suite and save them as embedding files"
DEFAULT_SUITE = "micro"


def add_arguments(p):
    p.add_argument("--suite", default=DEFAULT_SUITE, help=f"suite name or file (default: {DEFAULT_SUITE}, offline)")
    from vwbench.commands import filters

    filters.add_arguments(p, limit=False)
    p.add_argument("--anchor", action="append", metavar="A",
                   help="anchor word (repeatable; default: the suite's anchor policy)")
    p.add_argument("--delta", type=float, metavar="X", help="train in the δ-ball of radius X·d_nn(anchor)")
    p.add_argument("--steps", type=int, metavar="N", help="override the suite's training steps")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available, else cpu)")
    p.add_argument("--data", action="append", default=[], metavar="NAME=PATH",
                   help="prepared manifest of a dataset (overrides the suite's `data:`)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: vwbench-runs/<suite>/learned)")
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
    """Validate every input and return (suite, device, [(task, dataset spec, data, trials)], cfg, out dir).
    Raises VWBenchError on the first bad input; trains, loads models and writes nothing."""
    import dataclasses
    import math
    from pathlib import Path

    from vwbench.data.manifest import load_dataset
    from vwbench.errors import VWBenchError
    from vwbench.models.factory import resolve_device
    from vwbench.records import Trial
    from vwbench.spec import SpecLibrary
    from vwbench.tokenizer import single_token_id

    if args.steps is not None and args.steps <= 0:
        raise VWBenchError(f"--steps must be positive, got {args.steps}")
    if args.delta is not None and not (math.isfinite(args.delta) and args.delta > 0):
        raise VWBenchError(f"--delta must be a positive number, got {args.delta:g}")
    suite = SpecLibrary(args.specs).suite(args.suite)
    from vwbench import hub

    lock = hub.find_lock(suite, getattr(args, "lock", None))
    suite, lock = hub.prepare(suite, lock, getattr(args, "allow_unpinned", False))   # as `run`: refused when unpinned
    args._lock = lock
    device = resolve_device(args.device)
    from vwbench.commands.run import parse_data

    data_paths = parse_data(args.data)

    from vwbench.commands.filters import from_args

    select = from_args(args)
    select.check(suite)       # one shared reading of --task/--dataset/--concept (vwbench/selection.py)
    for name in data_paths:
        if name not in {d.name for d in suite.datasets}:
            raise VWBenchError(f"--data names unknown dataset {name!r} (known: {', '.join(d.name for d in suite.datasets)})")
    tasks = select.task_specs(suite)
    datasets = select.dataset_specs(suite)
    if args.anchor:
        known = sorted({a for d in datasets for a in d.anchors})
        for a in args.anchor:
            if a not in known:
                raise VWBenchError(f"unknown anchor {a!r} for datasets {', '.join(d.name for d in datasets)} "
                                   f"(known: {', '.join(known)})")
        for a in args.anchor:
            try:
                single_token_id(a)
            except ValueError as exc:
                raise VWBenchError(str(exc)) from None

    cfg = suite.train if args.steps is None else dataclasses.replace(suite.train, steps=args.steps)
    jobs = []
    loaded = {}
    for ds in datasets:
        concepts = select.concept_specs(ds)
        trials = []
        for c in concepts:
            anchors = ds.anchors_for(c, suite.anchors)
            if args.anchor:
                anchors = [a for a in args.anchor if a in ds.anchors]
            trials += [Trial(suite.name, ds.name, c.id, a, "", args.delta, cfg.seed) for a in anchors]
        if not trials:
            continue
        manifest = data_paths.get(ds.name) or suite.data.get(ds.name)
        loaded[ds.name] = load_dataset(ds, manifest)   # a missing manifest is an error before any training
        for task in tasks:
            jobs.append((task, ds, loaded[ds.name], [dataclasses.replace(t, train_task=task.task) for t in trials]))
    if not jobs:
        raise VWBenchError("the selection holds no trials (check --dataset, --concept and --anchor)")
    out = Path(args.out) if args.out else Path("vwbench-runs") / suite.name / "learned"
    if out.exists() and not out.is_dir():
        raise VWBenchError(f"--out {out} exists and is not a folder")
    return suite, device, jobs, cfg, out


def _evaluate(model, vectors, trials, data, k_max: int) -> list[float]:
    from vwbench.tokenizer import single_token_id

    values = []
    for i in range(0, len(trials), k_max):
        chunk = trials[i : i + k_max]
        res = model.evaluate(vectors[i : i + k_max].to(model.device), [single_token_id(t.anchor) for t in chunk],
                             [t.concept for t in chunk], data)
        values += [float(r["value"]) for r in res]
    return values


def run(args) -> int:
    import time

    import torch
    from tabulate import tabulate

    from vwbench.export import save_embedding
    from vwbench.learn import learn
    from vwbench.models.factory import build_task_model
    from vwbench.tokenizer import single_token_id

    started = time.perf_counter()
    suite, device, jobs, cfg, out = plan(args)
    k_max = max(1, cfg.concepts_per_batch)
    rows, improved, total, models = [], 0, 0, {}
    for task, ds, data, trials in jobs:
        if task.name not in models:
            models.clear()   # one frozen model in memory at a time
            models[task.name] = build_task_model(task, device)
            from vwbench.hub import verify_task

            verify_task(task, args._lock)             # cached weights against the lock, before any use
        model = models[task.name]
        from vwbench.spec import effective_train

        results = list(learn(model, data, trials, effective_train(suite, task, cfg), progress=not args.no_progress))
        table = model.token_embeddings()
        before = table[[single_token_id(t.anchor) for t in trials]][:, None].repeat(1, cfg.num_vectors, 1)
        after = torch.stack([r.vector for r in results])
        m_before = _evaluate(model, before, trials, data, k_max)
        m_after = _evaluate(model, after, trials, data, k_max)
        for r, mb, ma in zip(results, m_before, m_after):
            t = r.trial
            path = out_path(out, task.name, t)
            save_embedding(path, r.vector, f"<{t.concept}>", {
                "suite": suite.name, "task": task.name, "task_kind": task.task, "model_id": task.model.id,
                "revision": task.model.revision or "", "dataset": t.dataset, "concept": t.concept,
                "anchor": t.anchor, "delta": t.delta, "seed": t.seed, "steps": cfg.steps, "lr": cfg.lr,
                "loss_start": r.loss_start, "loss_end": r.loss_end, "metric": model.metric_name,
                "metric_before": mb, "metric_after": ma, "nearest_token": r.nearest_token,
                "anchor_distance": r.anchor_distance,
            })
            total += 1
            improved += ma > mb
            rows.append((task.name, t.dataset, t.concept, t.anchor, "-" if t.delta is None else _fmt(t.delta),
                         f"{r.loss_start:.4f}", f"{r.loss_end:.4f}", model.metric_name, f"{mb:.3f}", f"{ma:.3f}",
                         f"{r.anchor_distance:.3f}"))
    print(tabulate(rows, headers=["task", "dataset", "concept", "anchor", "δ", "loss before", "loss after",
                                  "metric", "before", "after", "‖v−a‖/d_nn"]))
    print(f"\n{improved}/{total} trials improved their in-domain metric over the anchor; "
          f"vectors in {out} ({time.perf_counter() - started:.1f}s)")
    return 0
