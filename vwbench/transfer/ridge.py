"""Least squares with an l2 penalty on the map: a stabler variant of the paper's map."""

from __future__ import annotations

import torch

from vwbench.transfer.base import TransferMethod
from vwbench.transfer.registry import register


@register("ridge")
class RidgeTransfer(TransferMethod):
    """Ridge regression: T = (YᵀY + λI)⁻¹ YᵀX, no bias; tends to linear_transfer as λ → 0."""

    def __init__(self, lam: float = 1.0):
        if not lam > 0:
            raise ValueError(f"ridge: lam must be > 0, got {lam}")
        super().__init__(lam=float(lam))

    def fit_pairs(self, Y: torch.Tensor, X: torch.Tensor) -> None:
        G = Y.T @ Y
        G.diagonal().add_(self.params["lam"])
        self.T = torch.linalg.solve(G, Y.T @ X)

    def map(self, V: torch.Tensor) -> torch.Tensor:
        return V @ self.T
