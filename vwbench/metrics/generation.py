"""Generation metrics (PROTOCOL.md 14.5). Outputs of one word (GenerationModel.outputs): `labels` [N], the
evaluator's label of each generated image among the dataset's `classes` concepts; `target`, the word's concept
index."""

from __future__ import annotations

from vwbench.metrics import metric


@metric("generation_accuracy", "generation", chance=lambda out: 1 / out["classes"])
def generation_accuracy(out) -> float:
    """The fraction of the generated images the evaluator labels as the target concept."""
    return (out["labels"] == out["target"]).float().mean().item()
