"""A control that ignores its input: every word becomes one fixed target vector."""

from __future__ import annotations

import torch

from vwbench.transfer.base import TransferMethod
from vwbench.transfer.registry import register


@register("constant")
class ConstantTransfer(TransferMethod):
    """Control: the mean target row of the shared words for every input (the "hub" an output-ignoring method returns)."""

    def fit_pairs(self, Y: torch.Tensor, X: torch.Tensor) -> None:
        self.c = X.mean(0)

    def map(self, V: torch.Tensor) -> torch.Tensor:
        return self.c.expand(V.shape[0], -1).clone()
