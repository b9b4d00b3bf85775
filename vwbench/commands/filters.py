"""Flags shared by several commands: the selection `--task/--dataset/--concept[/--limit]` of `learn`, `run` and
`probe` (vwbench/selection.py), and `--data` and `--device` of the commands that load datasets and models."""

from __future__ import annotations


def integer(flag: str, text, minimum: int | None = None) -> int:
    """`text` as an int, else a one-line VWBenchError naming the flag (argparse would print the whole usage)."""
    from vwbench.errors import VWBenchError

    try:
        value = int(str(text).strip(), 10)
    except ValueError:
        value = None
    if value is None or (minimum is not None and value < minimum):
        want = (
            "an integer" if minimum is None else ("a positive integer" if minimum == 1 else f"an integer >= {minimum}")
        )
        raise VWBenchError(f"{flag} expects {want}, got {text!r}")
    return value


def add_arguments(p, limit: bool = True, tasks_help: str = "task name or kind (repeatable; default: all)") -> None:
    p.add_argument("--task", action="append", metavar="T", help=tasks_help)
    p.add_argument("--dataset", action="append", metavar="D", help="dataset name (repeatable; default: all)")
    p.add_argument("--concept", action="append", metavar="C", help="concept id (repeatable; default: all)")
    if limit:
        p.add_argument(
            "--limit",
            metavar="N",
            help="at most N concepts per dataset: the first N (after --concept) in the dataset spec's "
            "order, every anchor, δ and seed of each; N >= 1 (default: all)",
        )


def from_args(args):
    """The Selection the parsed flags ask for (not yet checked against a suite)."""
    from vwbench.selection import Selection

    limit = getattr(args, "limit", None)
    return Selection(
        tuple(args.task or ()),
        tuple(args.dataset or ()),
        tuple(args.concept or ()),
        None if limit is None else integer("--limit", limit, minimum=1),
    )


def add_data_argument(p) -> None:
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="prepared manifest of a dataset (overrides the suite's `data:`)",
    )


def add_device_argument(p) -> None:
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available, else cpu)")
