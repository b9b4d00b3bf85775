"""Work on result stores. `vwbench store merge A B ... --into C` combines stores, e.g. the shards of
`vwbench run --shard I/N`, into a new one: every record kept once by key; a key two stores hold with different
content is named in a one-line error and nothing is written; stores of different suites or schema versions are
refused. Build the leaderboard of the merged store with `vwbench leaderboard --store C`."""

from __future__ import annotations

HELP = "merge result stores (the shards of `vwbench run --shard`)"


def add_arguments(p):
    sub = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    m = sub.add_parser("merge", help="merge stores into a new one", description=__doc__)
    m.add_argument("stores", nargs="+", metavar="STORE", help="store folders to merge (two or more)")
    m.add_argument("--into", required=True, metavar="DIR", help="the merged store (a new folder)")


def run(args) -> int:
    from vwbench.store_merge import merge

    counts = merge(args.stores, args.into)
    what = ", ".join(f"{n} {t}" for t, n in counts.items())
    print(f"merged {len(args.stores)} stores into {args.into}: {what}")
    return 0
