"""`vwbench run --shard I/N`: a deterministic 1/N of a suite's trials, each shard into its own store, merged
afterwards with `vwbench store merge` (vwbench.store_merge)."""

from __future__ import annotations

from vwbench.errors import VWBenchError
from vwbench.records import Trial


def check_shard(shard) -> tuple[int, int] | None:
    """A shard (I, N) or its text `I/N`, checked: 1 <= I <= N. One-line VWBenchError otherwise."""
    if shard is None:
        return None
    text = shard if isinstance(shard, str) else "/".join(map(str, shard))
    parts = text.split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise VWBenchError(f"--shard expects I/N with whole numbers 1 <= I <= N (e.g. 2/4), got {text!r}")
    i, n = int(parts[0]), int(parts[1])
    if n < 1 or not 1 <= i <= n:
        raise VWBenchError(f"--shard {text}: need 1 <= I <= N and N >= 1 (shards are numbered 1 to N)")
    return i, n


def shard_of(trials: list[Trial], shard: tuple[int, int] | None) -> list[Trial]:
    """Shard I of N: every N-th trial from the (I-1)-th, round robin over the trial list of one dataset and task
    (fixed by the suite, the selection and the seeds), so the N shards are disjoint, cover every trial and differ
    in size by at most one. A score belongs to the shard of its word; each shard fits the maps it uses itself
    (fits are deterministic, so merged shards hold equal fit records)."""
    if shard is None:
        return trials
    i, n = shard
    return trials[i - 1 :: n]
