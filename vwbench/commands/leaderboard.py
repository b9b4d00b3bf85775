"""Rebuild a suite's leaderboards from its store alone: transfer matrices with bootstrap CIs, δ-curve plots
and the method leaderboard, as Markdown, HTML and JSON (byte-identical when rebuilt from the same store).

The store is opened read-only. The tables go into the store, STORE/leaderboard/SUITE/ (where `vwbench run`
puts them too), unless --out says where: rebuilding a committed golden file takes an explicit
`--out leaderboards/SUITE`."""

from __future__ import annotations

HELP = "rebuild leaderboards (Markdown, HTML, JSON, PNG) from a store"
OUT_DIR = "leaderboard"


def add_arguments(p):
    p.add_argument("--suite", help="suite whose scores to tabulate (default: the only suite in the store)")
    p.add_argument("--store", metavar="DIR", help="store folder (default: vwbench-runs/<suite>)")
    p.add_argument(
        "--out",
        metavar="DIR",
        help=f"output folder (default: STORE/{OUT_DIR}/<suite>/, inside the store; "
        "pass --out leaderboards/<suite> to rebuild a golden file)",
    )
    p.add_argument(
        "--reference",
        choices=["auto", "yes", "no"],
        default="auto",
        help="show the paper's numbers beside ours (auto: for the paper suite)",
    )


def default_out(store_root, suite: str):
    """Where `run`, `probe` and `leaderboard` write a suite's tables without --out: inside its store."""
    from pathlib import Path

    return Path(store_root) / OUT_DIR / suite


def write_tables(store, suite: str, out, reference=None, select=None) -> dict:
    """build_leaderboard, with a failed write (no permission, full disk) as one line naming the folder."""
    from vwbench.errors import VWBenchError
    from vwbench.report import build_leaderboard

    try:
        return build_leaderboard(store, suite, out, reference=reference, select=select)
    except OSError as exc:
        raise VWBenchError(
            f"cannot write the leaderboard into {out} ({exc.strerror or exc}); pass --out DIR to put it elsewhere"
        ) from None


def resolve_store(args):
    """The Store (opened read-only) and suite name a read-only command works on (`--store`, `--suite`)."""
    from pathlib import Path

    from vwbench.errors import VWBenchError
    from vwbench.store import Store, default_root

    if args.store is None and args.suite is None:
        raise VWBenchError("pass --suite NAME (store vwbench-runs/NAME) or --store DIR")
    store = Store(Path(args.store) if args.store else default_root(args.suite), readonly=True)
    suite = args.suite
    if suite is None:
        suites = store.suites()
        if len(suites) != 1:
            store.close()
            raise VWBenchError(
                f"the store at {store.root} holds scores of {len(suites)} suites "
                f"({', '.join(suites) or 'none'}); pass --suite"
            )
        suite = suites[0]
    return store, suite


def run(args) -> int:
    from pathlib import Path

    from vwbench.report import FILES

    store, suite = resolve_store(args)
    out = Path(args.out) if args.out else default_out(store.root, suite)
    reference = None if args.reference == "auto" else args.reference == "yes"
    with store:
        doc = write_tables(store, suite, out, reference=reference)
    print(
        f"{suite}: {doc['n_scores']} scores, {len(doc['cells'])} cells, {len(doc['method_leaderboard'])} "
        f"methods -> {out}/{{{', '.join(FILES.values())}}}" + (f" + {len(doc['plots'])} plots" if doc["plots"] else "")
    )
    return 0
