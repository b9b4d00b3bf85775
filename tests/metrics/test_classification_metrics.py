"""Classification metrics against independent computations on constructed outputs."""

from __future__ import annotations

import pytest
import torch

from vwbench.metrics.classification import accuracy, auroc, false_positive_rate


def _out(seed: int, n: int = 12):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    return {
        "similarity": torch.randn(n, generator=g),
        "labels": labels,
        "target": 1,
        "choice": torch.randint(0, 3, (n,), generator=g),
        "classes": 3,
    }


@pytest.mark.parametrize("seed", range(4))
def test_auroc_is_the_share_of_correctly_ordered_pairs(seed):
    out = _out(seed)
    pos = out["similarity"][out["labels"] == 1]
    neg = out["similarity"][out["labels"] != 1]
    pairs = (pos[:, None] > neg[None, :]).float() + 0.5 * (pos[:, None] == neg[None, :]).float()
    assert auroc(out) == pytest.approx(float(pairs.mean()), abs=1e-6)
    assert auroc.chance(out) == 0.5


@pytest.mark.parametrize("seed", range(4))
def test_accuracy_and_false_positive_rate_count_the_images_that_pick_the_word(seed):
    out = _out(seed)
    rows = list(zip(out["labels"].tolist(), out["choice"].tolist()))
    targets = [c for lab, c in rows if lab == 1]
    others = [c for lab, c in rows if lab != 1]
    assert accuracy(out) == pytest.approx(sum(c == 1 for c in targets) / len(targets))
    assert false_positive_rate(out) == pytest.approx(sum(c == 1 for c in others) / len(others))
    assert accuracy.chance(out) == pytest.approx(1 / 3) and false_positive_rate.chance is None
