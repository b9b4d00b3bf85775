"""The micro zoo: `vwbench zoo build micro` retrains the four micro models from their seeds, one thread each and
two at a time (the CLIPs come out byte-identical to the shipped ones; the shipped weights make this unnecessary), `vwbench zoo check micro` measures them on fresh renders
of the known world against the gates, and shows that the 40 micro concepts are new words."""

from __future__ import annotations

HELP = "build or check the micro-world models"


def add_arguments(p):
    p.add_argument("action", choices=["build", "check"])
    p.add_argument("zoo", choices=["micro"], help="which zoo (only `micro` is trained)")
    p.add_argument(
        "--only",
        action="append",
        metavar="MODEL",
        help="build: clip, clip-evaluator, owlv2 or sd (repeatable; default: all four)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="build: weights folder (default: the shipped vwbench/models/micro/weights)"
    )
    p.add_argument("--scale", type=float, default=1.0, help="build: multiply every step count (smoke tests)")
    p.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="build: models trained at once, one thread each (default 2; any value gives the same weights)",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=500,
        help="check: images per measurement (default 500; generation uses a fifth of it)",
    )
    p.add_argument("--no-newness", action="store_true", help="check: skip the learned-word vs known-word table")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args):
    import torch

    from vwbench.errors import VWBenchError

    torch.manual_seed(0)
    if args.action == "build":
        from pathlib import Path

        from vwbench.models.micro.store import zoo_dir
        from vwbench.tools.micro_build import MODELS, build

        bad = [m for m in args.only or [] if m not in MODELS]
        if bad:
            raise VWBenchError(f"unknown micro model {bad[0]!r} (models: {', '.join(MODELS)})")
        if args.scale <= 0:
            raise VWBenchError(f"--scale must be positive, got {args.scale:g}")
        if args.jobs < 1:
            raise VWBenchError(f"--jobs must be at least 1, got {args.jobs}")
        folder = Path(args.out) if args.out else zoo_dir()
        for rep in build(folder, args.only, args.scale, progress=not args.no_progress, jobs=args.jobs):
            print(" ".join(f"{k}={v}" for k, v in rep.items()), flush=True)
        print(f"weights written to {folder}")
        return 0
    return _check(args)


def _check(args):
    from tabulate import tabulate

    from vwbench.errors import VWBenchError
    from vwbench.spec import SpecLibrary
    from vwbench.tools import micro_check as check

    if args.samples < 10:
        raise VWBenchError(f"--samples must be at least 10, got {args.samples}")
    lib = SpecLibrary(args.specs)
    rows = check.check_clip(args.samples) + check.check_owlv2(max(10, args.samples // 5))
    rows += check.check_sd(max(10, args.samples // 5), lib) + check.check_prototypes(lib)
    rows += check.check_region_ceiling(lib)
    table = [
        [
            r.model,
            r.measure,
            f"{r.value:.3f}",
            f"{r.chance:.3f}",
            "" if r.gate is None else f"≥ {r.gate:.2f}",
            {True: "pass", False: "FAIL", None: ""}[r.passed],
            r.n,
            r.seconds,
        ]
        for r in rows
    ]
    print(tabulate(table, headers=["model", "measure", "value", "chance", "gate", "", "n", "s"]))
    ok = all(r.passed is not False for r in rows)
    if not args.no_newness:
        res = check.newness(lib, progress=not args.no_progress)
        print(
            f"\nAre the 40 concepts new words? Retrieval AP in the micro CLIP ({res[0]['n_test']} fresh renders per "
            "concept; chance 0.1) of the best prompt of known words (chosen on the training images) vs a word "
            "learned from the concept's own anchor; `10-way` is the study's classification metric (accuracy − "
            "false-positive rate against the other concepts' names) for the same two prompts:"
        )
        print(
            tabulate(
                [
                    [
                        r["dataset"],
                        r["concept"],
                        r["best_known_prompt"],
                        f"{r['known_ap']:.2f}",
                        f"{r['learned_ap']:.2f}",
                        f"{r['gap']:+.2f}",
                        f"{r['known_cls']:+.2f}",
                        f"{r['learned_cls']:+.2f}",
                    ]
                    for r in res
                ],
                headers=[
                    "dataset",
                    "concept",
                    "best known-word prompt",
                    "known AP",
                    "learned AP",
                    "gap",
                    "10-way known",
                    "10-way learned",
                ],
            )
        )
        verdict = check.newness_verdict(res)
        print(
            tabulate(
                [
                    [
                        name,
                        f"{v['known_ap']:.2f}",
                        f"{v['learned_ap']:.2f}",
                        f"{v['gap']:+.2f}",
                        ", ".join(v["reached_by_known_words"]) or "none",
                        ", ".join(v["reached_by_neither"]) or "none",
                        "pass" if v["passed"] else "FAIL",
                    ]
                    for name, v in verdict.items()
                ],
                headers=[
                    "dataset",
                    "known AP",
                    "learned AP",
                    f"gap (≥ {check.NEWNESS_MARGIN})",
                    f"reached by known words (AP ≥ {check.NEWNESS_REACHED_AP})",
                    f"gap < {check.NEWNESS_CONCEPT_MARGIN}, reached by neither",
                    "",
                ],
            )
        )
        ok = ok and all(v["passed"] for v in verdict.values())
    print("zoo check micro:", "all gates pass" if ok else "FAILED")
    return 0 if ok else 1
