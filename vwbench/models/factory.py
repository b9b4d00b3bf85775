"""Build a task adapter from its spec: the one place that maps a task kind to its adapter class."""

from __future__ import annotations

import torch

from vwbench.errors import VWBenchError
from vwbench.models import zoo
from vwbench.models.base import TaskModel
from vwbench.spec import ModelRef, TaskSpec

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
    """Load the frozen model of a task spec and wrap it in its adapter."""
    from vwbench.models.classification import ClassificationModel
    from vwbench.models.detection import DetectionModel
    from vwbench.models.generation import CLIPEvaluator, GenerationModel

    device = torch.device(device)
    dtype = DTYPES[spec.dtype.get(device.type, "float32")]
    loaded = zoo.load(spec.family, spec.model, device, dtype, spec.image_size)
    if spec.task == "generation":
        ev = spec.evaluator or {}
        if not ev:
            raise VWBenchError(f"{spec.source}: generation tasks need an evaluator")
        ev_ref = ModelRef(**ev["model"])
        ev_size = spec.image_size if ev_ref.is_builtin else 224
        ev_loaded = zoo.load(ev["family"], ev_ref, device, dtype, ev_size)
        loaded.provenance["evaluator"] = ev_loaded.provenance
        screen = None
        if spec.safety and spec.safety_checker:          # off by default: `vwbench run --safety-checker`
            from vwbench.models.generation import SafetyScreen

            sc_ref = ModelRef(spec.safety_checker["id"], spec.safety_checker.get("revision"))
            sc_loaded = zoo.load("sd_safety_checker", sc_ref, device, dtype, spec.image_size if sc_ref.is_builtin else 224)
            loaded.provenance["safety_checker"] = sc_loaded.provenance
            screen = SafetyScreen(sc_loaded, device)
        return GenerationModel(spec, loaded, device, CLIPEvaluator(ev_loaded, ev["template"], device,
                                                                 ev.get("classes", "names")), screen)
    adapters = {"detection": DetectionModel, "classification": ClassificationModel}
    return adapters[spec.task](spec, loaded, device)
