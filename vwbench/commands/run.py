"""Run a suite end to end: learn every trial's word (or reuse it from the store), fit the transfer maps between
every ordered pair of task models, score every word in-domain and transferred, and write the leaderboards.

With no --suite it runs the offline default suite on the CPU (with --embeddings: the suite the submission
names). When the suite lists δ levels, the constrained experiment (δ-ball PGD from each anchor) runs too.
A killed run resumes where it stopped. The leaderboard goes into the store, STORE/leaderboard/SUITE/, unless
--out says where; the committed golden files under leaderboards/ change only with an explicit --out."""

from __future__ import annotations

import time

from vwbench.commands import filters

HELP = "learn, transfer and score a whole suite; write its leaderboards"
DEFAULT_SUITE = "micro"


def add_common(p, default_deltas: str = "suite"):
    p.add_argument(
        "--suite",
        help="suite name, or a suite YAML file (a path ending in .yaml/.yml or with a /; its "
        f"tasks, datasets and extends come from the spec root) (default: {DEFAULT_SUITE}, "
        "offline; with --embeddings, the submission's suite)",
    )
    p.add_argument(
        "--method",
        action="append",
        metavar="M",
        help="transfer method: a registered name (see `vwbench list methods`) or a method submission "
        "folder, optionally with parameters NAME:KEY=VALUE[,KEY=VALUE] (e.g. ridge:lam=0.1; "
        "values true/false, none, numbers or text; tables label it ridge(lam=0.1)); repeat for "
        "several (default: linear_transfer)",
    )
    filters.add_device_argument(p)
    p.add_argument("--store", metavar="DIR", help="results store (default: vwbench-runs/<suite>)")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="leaderboard folder (default: STORE/leaderboard/<suite>/, inside the "
        "store; give --out leaderboards/<suite> to rebuild a golden file)",
    )
    filters.add_data_argument(p)
    p.add_argument("--steps", type=int, help="override the suite's training steps")
    p.add_argument("--lr", type=float, help="override the suite's learning rate (Adam)")
    p.add_argument("--batch-size", type=int, metavar="N", help="override the suite's images per training step")

    filters.add_arguments(
        p,
        tasks_help="task name or kind (repeatable; default: all): words are learned in these "
        "task models and scored in them (in-domain and transferred between them)",
    )
    p.add_argument(
        "--seed",
        action="append",
        metavar="S",
        help="trial seed (repeatable: every selected trial once per seed; default: the suite's seed)",
    )
    p.add_argument(
        "--overwrite",
        choices=["never", "always", "only-missing"],
        default="never",
        help="reuse stored results (never), recompute all (always), or recompute missing files",
    )
    p.add_argument(
        "--no-controls",
        action="store_true",
        help="skip the suite's controls (the untrained anchor word, nearest_token, constant, random_map; "
        "docs/metrics.md): faster, but the corrected ratios and significance marks need them",
    )
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where the work runs: in this process (local), or as Ray actors on a Ray cluster or a local "
        'Ray (ray; needs `pip install "vwbench[ray]"`; docs/ray.md); the same keys and tables',
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="with --executor ray: a running cluster (auto, HOST:PORT or ray://HOST:10001; default: "
        "$RAY_ADDRESS, else a local Ray started for the run)",
    )
    p.add_argument(
        "--ray-workers",
        action="append",
        metavar="[TASK=]N",
        help="with --executor ray: actors per task model (default 1); TASK=N for one task name or kind, "
        "repeatable (e.g. generation=6)",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (one bar over the run with an ETA; units: a training step of one word, a fit or a score)",
    )
    p.add_argument(
        "--lock",
        metavar="FILE",
        help="lock file pinning and verifying the hub models (default: "
        "the suite's, if `vwbench models lock` wrote one; docs/gpu.md)",
    )
    p.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="run hub models whose revision is a branch (e.g. main) and no lock pins; the run records the "
        "commit it resolved",
    )
    p.add_argument(
        "--safety-checker",
        action="store_true",
        help="screen generated images with the generation task's safety_checker; flagged images are "
        "counted in each score's extra (safety_flags), scores are unchanged (off by default)",
    )


def add_arguments(p):
    add_common(p)
    p.add_argument(
        "--embeddings", metavar="DIR", help="an embeddings submission: score its vectors instead of learning"
    )
    p.add_argument("--no-deltas", action="store_true", help="skip the δ-ball experiment even if the suite lists δ")
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N: every N-th trial of each dataset and task, "
        "with its scores and the fits they use, into its own store "
        "(default: vwbench-runs/<suite>.shard-I-of-N); combine the N "
        "stores with `vwbench store merge` (docs/learning.md)",
    )


def parse_data(items: list[str]) -> dict:
    from vwbench.errors import VWBenchError

    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise VWBenchError(f"--data expects NAME=PATH, got {item!r}")
        out[name] = path
    return out


def make_executor(args):
    """The executor --executor names (local unless ray), with its options checked."""
    from vwbench.errors import VWBenchError
    from vwbench.executors import make

    name = getattr(args, "executor", "local") or "local"
    if name != "ray":
        if getattr(args, "ray_address", None) or getattr(args, "ray_workers", None):
            raise VWBenchError("--ray-address and --ray-workers need --executor ray")
        return make(name)
    workers: dict = {}
    for item in args.ray_workers or []:
        task, sep, n = item.rpartition("=")
        if not n.isdigit() or int(n) < 1 or (sep and not task):
            raise VWBenchError(f"--ray-workers expects N or TASK=N with N >= 1, got {item!r}")
        workers[task or "*"] = int(n)
    return make("ray", address=args.ray_address, workers=workers or None)


def execute(args, unconstrained: bool, deltas) -> int:
    from pathlib import Path

    from vwbench.commands.leaderboard import default_out, write_tables
    from vwbench.errors import VWBenchError
    from vwbench.report import FILES, format_matrix
    from vwbench.spec import SpecLibrary
    from vwbench.store import Store, default_root
    from vwbench.study import Study, StudyOptions, method_label

    for flag, value in (("--steps", args.steps), ("--lr", args.lr), ("--batch-size", args.batch_size)):
        if value is not None and not value > 0:  # NaN too
            raise VWBenchError(f"{flag} must be positive, got {value:g}")
    from vwbench.commands.filters import from_args, integer

    select = from_args(args)
    seeds = tuple(integer("--seed", x) for x in args.seed) if args.seed else None
    started = time.perf_counter()
    lib = SpecLibrary(args.specs)
    submission = None
    if getattr(args, "embeddings", None):
        # checked in full, against the suite, before any store exists
        from vwbench.submissions import check_suite, manifest_suite, validate

        submission = validate(args.embeddings, specs=lib.root)
        if submission.kind != "embeddings":
            raise VWBenchError(f"--embeddings {args.embeddings}: a {submission.kind} submission; pass it with --method")
        suite = lib.suite(args.suite or manifest_suite(submission) or DEFAULT_SUITE)
        check_suite(submission, suite)
    else:
        suite = lib.suite(args.suite or DEFAULT_SUITE)
    select.check(suite)  # before the store is opened: a typo creates nothing
    from vwbench import hub

    lock = hub.find_lock(suite, args.lock)
    hub.prepare(suite, lock, args.allow_unpinned, args.safety_checker)  # withdrawn or unpinned: nothing written
    parse_data(args.data)
    executor = make_executor(args)
    from vwbench.shard import check_shard

    shard = check_shard(getattr(args, "shard", None))
    store_name = suite.name + (f".shard-{shard[0]}-of-{shard[1]}" if shard else "")
    store = Store(Path(args.store) if args.store else default_root(store_name), overwrite=args.overwrite)
    options = StudyOptions(
        methods=args.method or ["linear_transfer"],
        unconstrained=unconstrained,
        deltas=deltas,
        device=args.device,
        data=parse_data(args.data),
        progress=not args.no_progress,
        steps=args.steps,
        overrides={k: v for k, v in (("lr", args.lr), ("batch_size", args.batch_size)) if v is not None},
        embeddings=submission,
        select=select,
        seeds=seeds,
        controls=not args.no_controls,
        shard=shard,
        executor=executor,
        lock=lock,
        allow_unpinned=args.allow_unpinned,
        safety_checker=args.safety_checker,
    )
    with store, executor:
        study = Study(suite, store, options)
        summary = study.run()
        workers = executor.report()
        out = Path(args.out) if args.out else default_out(store.root, study.name)
        write_tables(store, study.name, out, select=select.bind(suite) if select.active else None)
        scores = store.scores(study.name)
    print()
    if select.active:
        scores = [s for s in scores if select.bind(suite).admits(s)]
    if unconstrained:
        for ds in select.dataset_specs(suite):
            for method in study.methods:
                print(format_matrix(scores, ds.name, method_label(method)))
                print()
    computed = ", ".join(f"{v} {k}" for k, v in summary.computed.items()) or "nothing"
    reused = ", ".join(f"{v} {k}" for k, v in summary.reused.items()) or "nothing"
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in summary.stage_seconds.items())
    print(f"computed {computed}; reused {reused} from {store.root}")
    if summary.replaced:
        print(summary.replaced_note())
    print(f"stages: {stages}; total {time.perf_counter() - started:.1f}s")
    for line in workers:
        print(line)
    print(
        f"leaderboard: {out}/{{{', '.join(FILES.values())}}}"
        + ("" if args.out else " (in the store; --out DIR puts it elsewhere)")
    )
    if shard:
        print(
            f"shard {shard[0]}/{shard[1]}: its leaderboard covers this shard only; merge all {shard[1]} stores with "
            "`vwbench store merge STORE... --into DIR`, then `vwbench leaderboard --store DIR`"
        )
    for f in summary.failures:
        print(f"failed: {f}")
    return 1 if summary.failures else 0


def run(args) -> int:
    return execute(args, unconstrained=True, deltas=() if args.no_deltas else None)
