"""Where a study's heavy work runs: in this process (`local`, the default) or on a Ray cluster (`ray`).

The study (vwbench.study) stays the only reader and writer of the store. It hands an executor its jobs, one
per (dataset, task model a word is learned in), and asks it to build task models, train chunks of K words
and evaluate chunks of words; the executor decides where and in what order that work runs. Keys, resume and
tables do not depend on the executor.
"""

from __future__ import annotations

from vwbench.errors import VWBenchError
from vwbench.executors.local import Job, LocalExecutor

EXECUTORS = ("local", "ray")


def make(name: str = "local", **options):
    """An executor by name: `local`, or `ray` (options: address, workers; see RayExecutor)."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from vwbench.executors.ray import RayExecutor

        return RayExecutor(**options)
    raise VWBenchError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")


__all__ = ["EXECUTORS", "Job", "LocalExecutor", "make"]
