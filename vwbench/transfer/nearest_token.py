"""The trivial transfer: replace a vector by the nearest shared word and use that word's target embedding."""

from __future__ import annotations

import torch

from vwbench.models.space import nearest_rows
from vwbench.transfer.base import TransferMethod
from vwbench.transfer.registry import register


@register("nearest_token")
class NearestTokenTransfer(TransferMethod):
    """Snap to the nearest shared source word (l2) and output that word's target row: the paper's failure mode as a method."""

    def fit_pairs(self, Y: torch.Tensor, X: torch.Tensor) -> None:
        self.Y, self.X = Y, X

    def map(self, V: torch.Tensor) -> torch.Tensor:
        return self.X[nearest_rows(self.Y, V, k=1)[0][:, 0]]
