"""Orthogonal Procrustes: the best map that keeps lengths and angles (semi-orthogonal for unequal widths)."""

from __future__ import annotations

import torch

from vwbench.transfer.base import TransferMethod
from vwbench.transfer.registry import register


@register("procrustes")
class ProcrustesTransfer(TransferMethod):
    """Orthogonal Procrustes W = U Vᵀ from svd(YᵀX); optional centering, length normalization and global scale.

    With d_src ≠ d_tgt, W is d_src × d_tgt with orthonormal rows or columns (whichever is fewer).
    `normalize` fits on unit-length rows and rescales outputs by ‖v‖ · mean‖x‖ / mean‖y‖;
    `center` subtracts the source mean before the rotation and adds the target mean after it;
    `scale` adds the least-squares scalar s = tr(Σ) / ‖Y‖²_F.
    """

    def __init__(self, center: bool = False, normalize: bool = False, scale: bool = False):
        super().__init__(center=bool(center), normalize=bool(normalize), scale=bool(scale))

    def fit_pairs(self, Y: torch.Tensor, X: torch.Tensor) -> None:
        p = self.params
        self.ratio = float(X.norm(dim=1).mean() / Y.norm(dim=1).mean().clamp_min(1e-300))
        if p["normalize"]:
            Y, X = _unit(Y), _unit(X)
        self.mu_y = Y.mean(0) if p["center"] else torch.zeros(Y.shape[1], dtype=Y.dtype)
        self.mu_x = X.mean(0) if p["center"] else torch.zeros(X.shape[1], dtype=X.dtype)
        Yc, Xc = Y - self.mu_y, X - self.mu_x
        U, S, Vh = torch.linalg.svd(Yc.T @ Xc, full_matrices=False)
        self.W = U @ Vh
        self.s = float(S.sum() / (Yc * Yc).sum().clamp_min(1e-300)) if p["scale"] else 1.0

    def map(self, V: torch.Tensor) -> torch.Tensor:
        if not self.params["normalize"]:
            return self.s * (V - self.mu_y) @ self.W + self.mu_x
        norms = V.norm(dim=1, keepdim=True)
        out = self.s * (_unit(V) - self.mu_y) @ self.W + self.mu_x
        return out * norms * self.ratio


def _unit(A: torch.Tensor) -> torch.Tensor:
    return A / A.norm(dim=1, keepdim=True).clamp_min(1e-12)
