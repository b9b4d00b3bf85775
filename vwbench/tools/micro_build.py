"""`vwbench zoo build micro`: retrain the four micro models from their seeds into one folder.

Every trainer runs on one torch thread: CPU kernels on more threads reduce in a different order, and training
then drifts from the shipped weights (measured: the two CLIPs retrained on 2 threads differ from the shipped
ones everywhere; on 1 thread they are identical byte for byte). `jobs` > 1 runs that many trainers at once, in
separate processes, longest first, which uses more cores without changing any result.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

MODELS = ("clip", "clip-evaluator", "owlv2", "sd")
LONGEST_FIRST = ("sd", "owlv2", "clip", "clip-evaluator")


def train_one(name: str, folder: Path, scale: float = 1.0, progress: bool = True) -> dict:
    """Train one micro model on one thread into `folder`; its trainer's report."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if name in ("clip", "clip-evaluator"):
            from vwbench.models.micro import clip

            return clip.train(name, folder, progress=progress, scale=scale)
        if name == "owlv2":
            from vwbench.models.micro import owlv2_train as owlv2

            return {"model": "owlv2", **owlv2.train(folder, progress=progress, scale=scale)}
        if name == "sd":
            from vwbench.models.micro import sd

            return {"model": "sd", **sd.train(folder, progress=progress, scale=scale)}
        raise ValueError(name)
    finally:
        torch.set_num_threads(threads)


def build(
    folder: Path, only: list[str] | None = None, scale: float = 1.0, progress: bool = True, jobs: int = 1
) -> Iterator[dict]:
    """Train the selected micro models into `folder`, yielding each trainer's report as it finishes."""
    names = list(only or MODELS)
    if jobs <= 1 or len(names) == 1:
        for name in names:
            yield train_one(name, folder, scale, progress)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    order = sorted(names, key=LONGEST_FIRST.index)
    # spawn: a fresh interpreter per worker, no forked torch state; bars off, reports come back as each ends
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(train_one, name, folder, scale, False) for name in order]
        for future in as_completed(futures):
            yield future.result()
