"""Out-of-memory on the accelerator: recognising it and freeing what the failed attempt left behind."""

from __future__ import annotations

import gc

import torch


def is_oom(exc: BaseException) -> bool:
    """CUDA's OutOfMemoryError, or a RuntimeError that says out of memory (other backends, older kernels)."""
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def release() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
