"""`vwbench zoo build micro`: retrain the four micro models from their seeds, in order, into one folder."""

from __future__ import annotations

from pathlib import Path

MODELS = ("clip", "clip-evaluator", "owlv2", "sd")


def build(folder: Path, only: list[str] | None = None, scale: float = 1.0, progress: bool = True) -> list[dict]:
    """Train the selected micro models into `folder`; returns each trainer's report."""
    reports = []
    for name in only or MODELS:
        if name in ("clip", "clip-evaluator"):
            from vwbench.micro import clip

            reports.append(clip.train(name, folder, progress=progress, scale=scale))
        elif name == "owlv2":
            from vwbench.micro import owlv2

            reports.append({"model": "owlv2", **owlv2.train(folder, progress=progress, scale=scale)})
        elif name == "sd":
            from vwbench.micro import sd

            reports.append({"model": "sd", **sd.train(folder, progress=progress, scale=scale)})
        else:
            raise ValueError(name)
    return reports
