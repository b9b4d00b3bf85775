"""What a run of a suite will cost, in seconds and before anything is downloaded: the words it learns, the
transfer fits and the scores it computes (counted by the study's own code; against --store, only what is left),
what is missing (models not in the Hugging Face cache, unpinned models, manifests not prepared) with the command
that fixes each, and per task the peak GPU memory at the suite's K (concepts_per_batch) and batch and the projected
GPU-hours. Memory and speed are measured when benchmarks/results/gpu_check.json (benchmarks/gpu_check.py) has the
task, estimated otherwise; each number says which and from what. No model is loaded."""

from __future__ import annotations

HELP = "count a suite's words, fits and scores, list what is missing, project memory and GPU-hours"


def add_arguments(p):
    from vwbench.commands import filters
    from vwbench.commands.run import DEFAULT_SUITE

    p.add_argument("--suite", default=DEFAULT_SUITE, help=f"suite name or suite YAML file (default: {DEFAULT_SUITE})")
    p.add_argument(
        "--method", action="append", metavar="M", help="transfer method, as for run (default: linear_transfer)"
    )
    filters.add_arguments(p)
    p.add_argument("--seed", action="append", metavar="S", help="trial seed (repeatable), as for run")
    p.add_argument("--steps", type=int, help="override the suite's training steps")
    p.add_argument("--data", action="append", default=[], metavar="NAME=PATH", help="prepared manifest of a dataset")
    p.add_argument("--no-controls", action="store_true", help="leave out the controls, as for run")
    p.add_argument("--no-deltas", action="store_true", help="leave out the δ-ball experiment, as for run")
    p.add_argument("--safety-checker", action="store_true", help="plan a run with --safety-checker")
    p.add_argument("--store", metavar="DIR", help="count only what this existing store does not hold yet")
    p.add_argument("--lock", metavar="FILE", help="lock file (default: the suite's, if one was written)")
    p.add_argument(
        "--gpu-check",
        metavar="FILE",
        help="gpu_check.py results (default: benchmarks/results/gpu_check.json, when it exists)",
    )
    p.add_argument("--tflops", type=float, default=None, help="sustained TFLOP/s the estimates assume (default 300)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")


def run(args) -> int:
    import json
    from pathlib import Path

    from vwbench import hub, plan
    from vwbench.commands.filters import from_args, integer
    from vwbench.commands.run import parse_data
    from vwbench.errors import VWBenchError
    from vwbench.spec import SpecLibrary
    from vwbench.study import StudyOptions

    if args.steps is not None and args.steps <= 0:
        raise VWBenchError(f"--steps must be positive, got {args.steps}")
    if args.tflops is not None and args.tflops <= 0:
        raise VWBenchError(f"--tflops must be positive, got {args.tflops:g}")
    suite = SpecLibrary(args.specs).suite(args.suite)
    select = from_args(args)
    select.check(suite)
    lock = hub.find_lock(suite, args.lock)
    options = StudyOptions(
        methods=args.method or ["linear_transfer"],
        deltas=() if args.no_deltas else None,
        data=parse_data(args.data),
        steps=args.steps,
        select=select,
        seeds=tuple(integer("--seed", x) for x in args.seed) if args.seed else None,
        controls=not args.no_controls,
        lock=lock,
        safety_checker=args.safety_checker,
    )
    store = None
    if args.store:
        from vwbench.store import Store

        if not Path(args.store).is_dir():
            raise VWBenchError(f"--store {args.store}: no such store")
        store = Store(args.store, readonly=True)
    try:
        doc = plan.make_plan(
            suite,
            options,
            args.suite,
            lock=lock,
            store=store,
            gpu_check=args.gpu_check,
            tflops=args.tflops or plan.DEFAULT_TFLOPS,
        )
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(render(doc))
    return 0


def _h(x) -> str:
    return "n/a" if x is None else f"{x:,.1f}"


def render(doc: dict) -> str:
    left = f" not yet in {doc['against_store']}" if doc["against_store"] else ""
    lines = [
        f"plan for {doc['suite']} ({doc['path']})",
        (
            f"  {doc['words']:,} words to learn ({doc['steps']:,} steps each), {doc['fits']:,} transfer fits, "
            f"{doc['scores']:,} scores{left}"
        ),
    ]
    lines.append("per task (words and scores by the task a word is learned in; evaluations by the model scoring):")
    for name, t in doc["tasks"].items():
        mem = "n/a" if t["memory_gib"] is None else f"{t['memory_gib']:,.1f} GiB"
        hours = t["gpu_hours"] or {}
        lines.append(
            f"  {name}: {t.get('words', 0):,} words, {t.get('fits', 0):,} fits, {t.get('scores', 0):,} "
            f"scores, {t.get('evaluations', 0):,} evaluations"
        )
        lines.append(
            f"    peak memory {mem} at K={t['concepts_per_batch']} x batch {t['batch_size']}; GPU-hours "
            f"{_h(hours.get('learn'))} learning + {_h(hours.get('evaluate'))} evaluation = "
            f"{_h(hours.get('total'))} [{t['source']}]"
        )
        lines.append(f"    basis: {t['basis']}")
    lines.append(
        f"total GPU-hours: {_h(doc['gpu_hours_total'])}"
        + ("" if doc["gpu_check"] else " (no benchmarks/results/gpu_check.json: estimates)")
    )
    if doc["missing"]:
        lines.append("missing:")
        for m in doc["missing"]:
            lines.append(f"  - {m['what']}\n      fix: {m['fix']}")
    else:
        lines.append("missing: nothing")
    return "\n".join(lines)
