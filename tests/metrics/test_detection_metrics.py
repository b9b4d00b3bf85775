"""Detection metrics on constructed predictions with known average precision."""

from __future__ import annotations

import pytest
import torch

from vwbench.metrics.detection import ap50, coco, mean_ap


def _image(boxes, scores, gt):
    preds = {
        "boxes": torch.tensor(boxes, dtype=torch.float32),
        "scores": torch.tensor(scores),
        "labels": torch.zeros(len(boxes), dtype=torch.long),
    }
    targets = {
        "boxes": torch.tensor(gt, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.zeros(len(gt), dtype=torch.long),
    }
    return preds, targets


def _outputs(images, zero=None):
    return {"preds": [p for p, _ in images], "targets": [t for _, t in images], "zero": zero}


def test_a_perfect_box_ranked_first_gets_ap_one():
    out = _outputs([_image([[0, 0, 10, 10], [40, 40, 50, 50]], [0.9, 0.1], [[0, 0, 10, 10]])])
    assert ap50(out) == pytest.approx(1.0) and mean_ap(out) == pytest.approx(1.0)


def test_a_false_positive_above_the_only_object_halves_ap():
    # ranked: a box on an image without the object (precision 0), then the object (precision 1/2 at recall 1)
    out = _outputs([_image([[0, 0, 10, 10]], [0.8], [[0, 0, 10, 10]]), _image([[0, 0, 10, 10]], [0.9], [])])
    assert ap50(out) == pytest.approx(0.5, abs=1e-3)


def test_ap50_counts_a_loose_box_that_coco_map_mostly_does_not():
    # IoU of [0, 0, 10, 12] with [0, 0, 10, 10] is 10/12 ≈ 0.83: a hit at thresholds 0.5 … 0.8 (7 of 10)
    out = _outputs([_image([[0, 0, 10, 12]], [0.9], [[0, 0, 10, 10]])])
    assert ap50(out) == pytest.approx(1.0)
    assert mean_ap(out) == pytest.approx(0.7, abs=1e-3)


def test_chance_is_the_zero_querys_ap50_and_each_ap_is_computed_once():
    zero = _outputs([_image([[0, 0, 10, 10]], [0.8], [[0, 0, 10, 10]]), _image([[0, 0, 10, 10]], [0.9], [])])
    out = _outputs([_image([[0, 0, 10, 10]], [0.9], [[0, 0, 10, 10]])], zero)
    assert ap50.chance(out) == pytest.approx(0.5, abs=1e-3) and mean_ap.chance is None
    first = coco(zero)
    assert coco(zero) is first  # kept with the outputs: the memoized zero query pays once
