"""Speed benchmarks, measured in one process on the same models and data: for each task of the suite (first
dataset), words trained per second by the batched learner (K words per batch, cached frozen features) and by a
naive textual-inversion loop (one word per run, frozen encoders every step, Adam over the whole embedding table
with all rows but the placeholder restored), their ratio, and the time to score every trial of the dataset; then
the fit time of each built-in transfer method on a 49,408 x 1,024 -> 768 problem. BENCHMARKS.md has the details."""

from __future__ import annotations

from vwbench.commands import filters

HELP = "time the learner against a naive loop, evaluation and transfer fits"
DEFAULT_SUITE = "tiny"
DEFAULT_STEPS = 30
PARTS = ("generation", "detection", "classification", "transfer")


def add_arguments(p):
    p.add_argument("--suite", default=DEFAULT_SUITE, help=f"suite name or file (default: {DEFAULT_SUITE}, offline)")
    p.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"training steps of every timed run (default: {DEFAULT_STEPS})",
    )
    p.add_argument(
        "--concepts",
        type=int,
        metavar="K",
        help="words per batch of the fast path (default: the suite's concepts_per_batch)",
    )
    p.add_argument(
        "--naive-concepts",
        type=int,
        default=3,
        metavar="N",
        help="words the naive loop trains, one run each, to time it (default: 3, at most K)",
    )
    p.add_argument(
        "--only",
        metavar="LIST",
        help=f"comma-separated parts to run: task names or kinds of the suite, "
        f"or 'transfer' (default: {','.join(PARTS)})",
    )
    filters.add_device_argument(p)
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch intra-op threads (default: 1 on CPU, where more "
        "threads thrash on a machine shared with other jobs; torch's default on GPU)",
    )
    filters.add_data_argument(p)
    p.add_argument(
        "--transfer-shape",
        default="49408x1024x768",
        metavar="VxDxE",
        help="vocabulary x source width x target width of the transfer fits (default: 49408x1024x768)",
    )


def _shape(text: str) -> tuple[int, int, int]:
    from vwbench.errors import VWBenchError

    try:
        shape = tuple(int(x) for x in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) <= 0:
        raise VWBenchError(f"--transfer-shape expects three positive integers like 49408x1024x768, got {text!r}")
    return shape


def plan(args):
    """Check every input; returns (suite, tasks, run_transfer, shape, device). Loads no model."""
    from vwbench.errors import VWBenchError
    from vwbench.models.factory import resolve_device
    from vwbench.spec import SpecLibrary

    for flag, value in (
        ("--steps", args.steps),
        ("--concepts", args.concepts),
        ("--naive-concepts", args.naive_concepts),
        ("--threads", args.threads),
    ):
        if value is not None and value <= 0:
            raise VWBenchError(f"{flag} must be a positive integer, got {value}")
    shape = _shape(args.transfer_shape)
    suite = SpecLibrary(args.specs).suite(args.suite)
    tasks, run_transfer = list(suite.tasks), True
    if args.only is not None:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        known = [*dict.fromkeys([*(t.name for t in suite.tasks), *(t.task for t in suite.tasks), "transfer"])]
        bad = [w for w in wanted if w not in known]
        if bad or not wanted:
            raise VWBenchError(
                f"--only: unknown part {', '.join(map(repr, bad)) or repr(args.only)} (known: {', '.join(known)})"
            )
        tasks = [t for t in suite.tasks if t.name in wanted or t.task in wanted]
        run_transfer = "transfer" in wanted
    if not suite.datasets and tasks:
        raise VWBenchError(f"suite {suite.name!r} has no datasets to train on")
    return suite, tasks, run_transfer, shape, resolve_device(args.device)


def run(args) -> int:
    import sys
    import time

    import torch

    from vwbench import bench
    from vwbench.commands.run import parse_data
    from vwbench.data.manifest import load_dataset
    from vwbench.models.factory import build_task_model

    started = time.perf_counter()
    suite, tasks, run_transfer, shape, device = plan(args)
    data_paths = parse_data(args.data)
    default_threads = torch.get_num_threads()
    threads = args.threads or (1 if device.type == "cpu" else default_threads)
    k = args.concepts or max(1, suite.train.concepts_per_batch)
    rows = []
    try:
        torch.set_num_threads(threads)
        if tasks:
            ds = suite.datasets[0]
            data = load_dataset(ds, data_paths.get(ds.name) or suite.data.get(ds.name))
            for task in tasks:
                print(
                    f"bench: {task.name} on {ds.name} ({device}, {torch.get_num_threads()} threads)...", file=sys.stderr
                )
                model = build_task_model(task, device)
                rows.append(bench.bench_task(model, data, ds, suite, args.steps, k, args.naive_concepts))
                del model
            print(
                f"Learner: words trained per second at {args.steps} steps, suite {suite.name}, dataset {ds.name}, "
                f"{device}, {torch.get_num_threads()} threads\n"
            )
            print(bench.learner_table(rows))
        if run_transfer:
            print("bench: transfer fits...", file=sys.stderr)
            trows = bench.bench_transfer(shape=shape)
            print(
                ("\n" if rows else "") + "Transfer fits (random float32 tables, fit in float64; "
                f"{torch.get_num_threads()} threads)\n"
            )
            print(bench.transfer_table(trows))
    finally:
        torch.set_num_threads(default_threads)
    print(f"\n({time.perf_counter() - started:.1f}s)")
    return 0
