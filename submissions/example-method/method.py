"""Example transfer-method submission: least squares on centered pairs, then add the target mean back.

The paper's map (vwbench's `linear_transfer`) has no bias; this one fits x ≈ μ_x + (y − μ_y) T, which
is the same map with an intercept. Deriving from TransferMethod is optional, but it brings pair finding,
the fit-before-call check and output checks for free: implement `fit_pairs(Y, X)` and `map(V)`, both in
float64.
"""

from __future__ import annotations

import torch

from vwbench.transfer import TransferMethod


class CenteredLeastSquares(TransferMethod):
    """Least squares with an intercept: x̂ = μ_x + (v − μ_y) T, T = (YcᵀYc + λI)⁻¹ YcᵀXc."""

    def __init__(self, lam: float = 0.0):
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        super().__init__(lam=float(lam))

    def fit_pairs(self, Y: torch.Tensor, X: torch.Tensor) -> None:
        self.mu_y, self.mu_x = Y.mean(0), X.mean(0)
        Yc, Xc = Y - self.mu_y, X - self.mu_x
        if self.params["lam"] > 0:
            G = Yc.T @ Yc + self.params["lam"] * torch.eye(Y.shape[1], dtype=Y.dtype)
            self.T = torch.linalg.solve(G, Yc.T @ Xc)
        else:
            self.T = torch.linalg.lstsq(Yc, Xc, driver="gelsd").solution

    def map(self, V: torch.Tensor) -> torch.Tensor:
        return (V - self.mu_y) @ self.T + self.mu_x
