"""Generation accuracy: the share of generated images labelled as the target, chance 1/K."""

from __future__ import annotations

import pytest
import torch

from vwbench.metrics.generation import generation_accuracy


def test_generation_accuracy_and_chance():
    out = {"labels": torch.tensor([2, 0, 2, 1, 2]), "target": 2, "classes": 4}
    assert generation_accuracy(out) == pytest.approx(3 / 5)
    assert generation_accuracy.chance(out) == pytest.approx(1 / 4)
