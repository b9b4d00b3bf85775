"""The constrained experiment alone (the ε-ball probe): δ-ball PGD from each anchor, then in-domain and
transferred scores at every δ. Each word's nearest vocabulary word and its distance from the anchor (in units of
the anchor's nearest-neighbour distance) are stored with it."""

from __future__ import annotations

from vwbench.commands.run import add_common, execute

HELP = "run the δ-ball (epsilon-ball) experiment alone"


def add_arguments(p):
    add_common(p)
    p.add_argument("--deltas", help="comma-separated relative radii (default: the suite's, else 0.1,0.2,0.5,1.0)")


def run(args) -> int:
    from vwbench.errors import VWBenchError

    deltas = None
    if args.deltas:
        try:
            deltas = tuple(float(x) for x in args.deltas.split(","))
        except ValueError:
            raise VWBenchError(f"--deltas expects numbers like 0.1,0.5, got {args.deltas!r}") from None
        if any(d <= 0 for d in deltas):
            raise VWBenchError(f"every δ must be positive, got {args.deltas}")
    else:
        from vwbench.commands.run import DEFAULT_SUITE
        from vwbench.spec import SpecLibrary

        if not SpecLibrary(args.specs).suite(args.suite or DEFAULT_SUITE).deltas:
            deltas = (0.1, 0.2, 0.5, 1.0)
    return execute(args, unconstrained=False, deltas=deltas)
