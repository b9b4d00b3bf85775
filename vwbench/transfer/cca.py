"""Canonical correlation analysis: regress through the k most correlated directions of the two spaces."""

from __future__ import annotations

import torch

from vwbench.transfer.base import TransferMethod
from vwbench.transfer.registry import register


@register("cca")
class CCATransfer(TransferMethod):
    """CCA with k components: x̂ = μ_x + ((v − μ_y) A) diag(ρ) Bᵀ Σ_xx, a rank-k regression with bias.

    A, B are the canonical directions of source and target, ρ their correlations. With k = min(d_src, d_tgt)
    (the default) and reg = 0 this equals least squares with an intercept. `reg` adds reg · mean variance
    to both covariance diagonals.
    """

    def __init__(self, k: int | None = None, reg: float = 1e-6):
        if k is not None and int(k) < 1:
            raise ValueError(f"cca: k must be >= 1, got {k}")
        if reg < 0:
            raise ValueError(f"cca: reg must be >= 0, got {reg}")
        super().__init__(k=None if k is None else int(k), reg=float(reg))

    def fit_pairs(self, Y: torch.Tensor, X: torch.Tensor) -> None:
        k = self.params["k"] or min(Y.shape[1], X.shape[1])
        if k > min(Y.shape[1], X.shape[1]):
            raise ValueError(f"cca: k = {k} exceeds the smaller width {min(Y.shape[1], X.shape[1])}")
        self.mu_y, self.mu_x = Y.mean(0), X.mean(0)
        Yc, Xc = Y - self.mu_y, X - self.mu_x
        n = Y.shape[0]
        Cyy, Cxx, Cyx = self._cov(Yc.T @ Yc / n), self._cov(Xc.T @ Xc / n), Yc.T @ Xc / n
        Wy, Wx = _mat_power(Cyy), _mat_power(Cxx)
        U, rho, Vh = torch.linalg.svd(Wy @ Cyx @ Wx, full_matrices=False)
        A = Wy @ U[:, :k]  # source canonical directions
        self.T = A @ torch.diag(rho[:k]) @ Vh[:k] @ _mat_power(Cxx, power=0.5)

    def _cov(self, C: torch.Tensor) -> torch.Tensor:
        return C + self.params["reg"] * C.diagonal().mean() * torch.eye(C.shape[0], dtype=C.dtype)

    def map(self, V: torch.Tensor) -> torch.Tensor:
        return (V - self.mu_y) @ self.T + self.mu_x


def _mat_power(C: torch.Tensor, power: float = -0.5) -> torch.Tensor:
    w, Q = torch.linalg.eigh(C)
    return (Q * w.clamp_min(1e-12 * float(w.max())).pow(power)) @ Q.T
