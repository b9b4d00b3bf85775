"""A control map with no knowledge of the pairs beyond their scale: a fixed random linear map."""

from __future__ import annotations

import torch

from vwbench.transfer.base import TransferMethod
from vwbench.transfer.registry import register


@register("random_map")
class RandomMapTransfer(TransferMethod):
    """Control: a seeded Gaussian map scaled so that ‖Y R‖_F = ‖X‖_F on the shared words (matched scale, no meaning)."""

    def __init__(self, seed: int = 0):
        super().__init__(seed=int(seed))

    def fit_pairs(self, Y: torch.Tensor, X: torch.Tensor) -> None:
        g = torch.Generator().manual_seed(self.params["seed"])
        R = torch.randn(Y.shape[1], X.shape[1], generator=g, dtype=torch.float64)
        self.R = R * (X.norm() / (Y @ R).norm().clamp_min(1e-300))

    def map(self, V: torch.Tensor) -> torch.Tensor:
        return V @ self.R
