"""Compare a run's cell means with a golden leaderboard (results.json) cell by cell.

A cell within --tolerance of its golden mean never moves. Beyond it, under --rule either (the default) it
moves; under --rule both it moves only when it also lies outside the golden 95% CI widened by the tolerance
on each side, [lo - tolerance, hi + tolerance]. Exits 1 naming every cell that moved down (a regression) or
is missing; improvements and new cells are reported but do not fail. The store is opened read-only: check
creates and changes nothing. See docs/ci.md for the exact rule and a GitHub Actions job."""

from __future__ import annotations

HELP = "fail when a run's results regress against a golden leaderboard JSON"


def add_arguments(p):
    p.add_argument(
        "--against", required=True, metavar="FILE", help="golden results, e.g. leaderboards/tiny/results.json"
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--store", metavar="DIR", help="store of the run to check, opened read-only (default: vwbench-runs/<suite>)"
    )
    src.add_argument("--results", metavar="FILE", help="a results.json of the run to check instead of a store")
    p.add_argument("--suite", help="suite to check (default: the golden file's suite)")
    p.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        metavar="X",
        help="slack for every rule: a cell whose mean is within X of the golden mean never moves, "
        "and the golden CI is widened by X on each side (absolute; default 0)",
    )
    p.add_argument(
        "--rule",
        choices=["either", "both"],
        default="either",
        help="either (default): a cell moves when |mean - golden| > tolerance, or it lies outside the "
        "widened CI; both: only when both hold (for runs that are not bit-reproducible)",
    )
    p.add_argument("--allow-missing", action="store_true", help="do not fail on golden cells the run lacks")


def run(args) -> int:
    from vwbench import regression
    from vwbench.store import Store, default_root

    golden = regression.load_results(args.against)
    suite = args.suite or golden["suite"]
    if args.results:
        current = regression.load_results(args.results)["cells"]
        source = args.results
    else:
        with Store(args.store or default_root(suite), readonly=True) as store:
            current = regression.cells_from_store(store, suite)
            source = str(store.root)
    result = regression.compare(golden["cells"], current, args.tolerance, args.rule, args.allow_missing)
    for f in result.findings:
        print(f.line())
    n_fail = len(result.failures)
    summary = (
        f"{suite}: {result.compared} cells compared with {args.against} (tolerance {args.tolerance:g}, "
        f"rule {args.rule}) from {source}: "
    )
    if n_fail:
        print(summary + f"{n_fail} failing", flush=True)
        return 1
    print(summary + "ok")
    return 0
