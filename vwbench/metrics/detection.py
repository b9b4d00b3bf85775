"""Detection metrics (docs/metrics.md), from torchmetrics' MeanAveragePrecision. Outputs of one word
(DetectionModel.outputs): `preds` and `targets`, one dict per evaluated image in torchmetrics' format (the word's
top-scored region boxes and the concept's boxes), and `zero`, the same outputs of the zero query (objectness
alone), whose AP50 is the chance level."""

from __future__ import annotations

from vwbench.metrics import metric


def coco(out) -> dict:
    """torchmetrics' MeanAveragePrecision of the outputs, computed once per outputs dict (kept under `coco`)."""
    if "coco" not in out:
        from torchmetrics.detection import MeanAveragePrecision

        m = MeanAveragePrecision(box_format="xyxy", iou_type="bbox")
        m.update(out["preds"], out["targets"])
        out["coco"] = m.compute()
    return out["coco"]


def _chance(out) -> float:
    return ap50(out["zero"])


@metric("ap50", "detection", chance=_chance)
def ap50(out) -> float:
    """AP at IoU 0.5 of the word as the only query."""
    return max(float(coco(out)["map_50"]), 0.0)


@metric("map", "detection")
def mean_ap(out) -> float:
    """COCO AP averaged over IoU 0.5:0.95."""
    return max(float(coco(out)["map"]), 0.0)
