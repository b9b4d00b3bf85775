"""Classification metrics (docs/metrics.md). Outputs of one word (ClassificationModel.outputs): `similarity` [N], its
cosine to every held-out image of the dataset; `labels` [N], each image's concept index; `target`, the word's
concept index; `choice` [N], the class each image picks among the concepts' names with the target's replaced by
the word (the paper's zero-shot protocol)."""

from __future__ import annotations

from vwbench.metrics import metric


def _is_target(out):
    return out["labels"] == out["target"]


@metric("auroc", "classification", chance=lambda out: 0.5)
def auroc(out) -> float:
    """AUROC of the word's similarity, target-concept images against the others (torchmetrics binary_auroc)."""
    from torchmetrics.functional.classification import binary_auroc

    return float(binary_auroc(out["similarity"].float().cpu(), _is_target(out).long()))


@metric("accuracy", "classification", chance=lambda out: 1 / out["classes"])
def accuracy(out) -> float:
    """The paper's zero-shot accuracy: the share of target images that pick the word's class."""
    hit = (out["choice"] == out["target"]).cpu()
    return hit[_is_target(out)].float().mean().item()


@metric("false_positive_rate", "classification")
def false_positive_rate(out) -> float:
    """The share of the other concepts' images that pick the word's class."""
    hit = (out["choice"] == out["target"]).cpu()
    return hit[~_is_target(out)].float().mean().item()
