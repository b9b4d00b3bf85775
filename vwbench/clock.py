"""One timing helper: wall and process-CPU seconds of a block, or since a start (a trainer's report)."""

from __future__ import annotations

import time


def _sync(device) -> None:
    if device is None:
        return
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


class Clock:
    """Wall and process CPU seconds. As a context manager it times its block (CUDA synchronized at both ends when
    `device` is a CUDA device): `wall`, `cpu`, `pair`. Made outside a block, `seconds()` is the wall time since.
    On a machine shared with other jobs, CPU time is the steadier measure of this process's own work; on a GPU
    only wall time means anything."""

    def __init__(self, device=None):
        self.device = device
        self.wall = self.cpu = 0.0
        self._w, self._c = time.perf_counter(), time.process_time()

    def __enter__(self):
        _sync(self.device)
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        _sync(self.device)
        self.wall, self.cpu = time.perf_counter() - self._w, time.process_time() - self._c

    @property
    def pair(self) -> tuple[float, float]:
        return self.wall, self.cpu

    def seconds(self) -> float:
        """Wall seconds since the clock was made (or its block began), to 0.1 s."""
        return round(time.perf_counter() - self._w, 1)
