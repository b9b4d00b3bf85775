"""Build a task adapter from its spec: the task's model family loads the model and names the adapter of its kind."""

from __future__ import annotations

import torch

from vwbench.errors import VWBenchError
from vwbench.models import zoo
from vwbench.models.base import TaskModel
from vwbench.models.families import family
from vwbench.spec import TaskSpec

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(device: str | None) -> torch.device:
    """`cpu`, `cuda[:N]` or None (cuda when available); a clear error when CUDA is asked for and absent."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise VWBenchError(f"unknown device {device!r} (use cpu or cuda)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VWBenchError(f"device {device!r} requested but no CUDA device is available (use --device cpu)")
    if dev.type not in ("cpu", "cuda"):
        raise VWBenchError(f"unsupported device {device!r} (use cpu or cuda)")
    return dev


def build_task_model(spec: TaskSpec, device: str | torch.device = "cpu") -> TaskModel:
    """Load the frozen model of a task spec and wrap it in its family's adapter for the task's kind."""
    device = torch.device(device)
    dtype = DTYPES[spec.dtype.get(device.type, "float32")]
    adapter = family(spec.family).adapter(spec.task, spec.source)  # before any weights are loaded
    return adapter.build(spec, zoo.load(spec.family, spec.model, device, dtype, spec.image_size), device, zoo.load)
