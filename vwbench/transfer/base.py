"""The transfer-method interface, output checks, and a fit that reports how well the map holds on held-out words."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from vwbench.errors import VWBenchError
from vwbench.models.space import EmbeddingSpace, nearest_tokens, shared_pairs


class TransferMethod:
    """Base class of the built-in methods: a map from one model's input embeddings to another's.

    Subclasses implement `fit_pairs(Y, X)` (paired rows in float64: Y [n, d_src] source, X [n, d_tgt] target)
    and `map(V)` (float64 [K, d_src] -> [K, d_tgt]). The base class finds the pairs, refuses calls before
    `fit`, checks shapes and finiteness, and returns the input's dtype. A submitted method need not derive
    from this class; it only has to offer `name`, `fit(source, target)` and `__call__(vectors)`.
    """

    name: str = "transfer"

    def __init__(self, **params):
        self.params = dict(params)
        self.d_in: int | None = None
        self.d_out: int | None = None

    def fit(self, source: EmbeddingSpace, target: EmbeddingSpace) -> None:
        """Fit on every token the two spaces share (PROTOCOL.md 14.1)."""
        src, tgt = shared_pairs(source, target)
        if len(src) == 0:
            raise VWBenchError(f"transfer method {self.name!r}: {source.name} and {target.name} share no tokens")
        self.d_in = self.d_out = None  # a failed (re)fit leaves the method unfitted
        self.fit_pairs(source.table[src].double(), target.table[tgt].double())
        self.d_in, self.d_out = source.width, target.width

    def fit_pairs(self, Y: torch.Tensor, X: torch.Tensor) -> None:
        raise NotImplementedError

    def map(self, V: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, vectors: torch.Tensor) -> torch.Tensor:
        if self.d_out is None:
            raise VWBenchError(f"transfer method {self.name!r}: call fit(source, target) before transferring vectors")
        check_input(self.name, vectors, self.d_in)
        return check_output(self.name, self.map(vectors.double()).to(vectors.dtype), vectors, self.d_out)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


def _name(method) -> str:
    return getattr(method, "name", None) or type(method).__name__


def check_input(name: str, vectors, d_in: int | None) -> None:
    if not isinstance(vectors, torch.Tensor) or vectors.ndim != 2 or not vectors.is_floating_point():
        got = tuple(vectors.shape) if isinstance(vectors, torch.Tensor) else type(vectors).__name__
        raise VWBenchError(f"transfer method {name!r}: expected a floating [K, d] tensor of vectors, got {got}")
    if d_in is not None and vectors.shape[1] != d_in:
        raise VWBenchError(f"transfer method {name!r}: vectors have width {vectors.shape[1]}, the map expects {d_in}")


def check_output(name: str, out, vectors: torch.Tensor, d_out: int) -> torch.Tensor:
    """Refuse a wrong type, shape or dtype, and NaN/Inf, naming the method."""
    if not isinstance(out, torch.Tensor):
        raise VWBenchError(f"transfer method {name!r}: returned {type(out).__name__}, expected a torch.Tensor")
    want = (vectors.shape[0], d_out)
    if tuple(out.shape) != want:
        raise VWBenchError(f"transfer method {name!r}: returned shape {tuple(out.shape)}, expected {want}")
    if out.dtype != vectors.dtype:
        raise VWBenchError(
            f"transfer method {name!r}: returned dtype {out.dtype}, expected {vectors.dtype} (the input's)"
        )
    if not bool(torch.isfinite(out).all()):
        bad = int((~torch.isfinite(out)).any(1).sum())
        raise VWBenchError(f"transfer method {name!r}: returned NaN or Inf in {bad} of {want[0]} vectors")
    return out


def transfer(method, vectors: torch.Tensor, d_out: int) -> torch.Tensor:
    """Apply any fitted method (built-in or submitted) and check what it returns."""
    name = _name(method)
    check_input(name, vectors, None)
    try:
        out = method(vectors)
    except VWBenchError:
        raise
    except Exception as exc:
        raise VWBenchError(
            f"transfer method {name!r}: failed on {tuple(vectors.shape)} vectors: {type(exc).__name__}: {exc}"
        ) from exc
    return check_output(name, out, vectors, d_out)


def fit_checked(method, source: EmbeddingSpace, target: EmbeddingSpace) -> None:
    """`method.fit(source, target)`, with any failure reported as one line naming the method."""
    try:
        method.fit(source, target)
    except VWBenchError:
        raise
    except Exception as exc:
        raise VWBenchError(
            f"transfer method {_name(method)!r}: fit {source.name} -> {target.name} failed: {type(exc).__name__}: {exc}"
        ) from exc


@dataclass(frozen=True)
class FitReport:
    """How a map fitted on most shared words does on the words held out of its fit."""

    method: str
    source: str
    target: str
    n_pairs: int  # tokens shared by both spaces (PROTOCOL.md 14.1 asks to report it)
    n_fit: int  # pairs the held-out evaluation was fitted on
    n_holdout: int
    rel_error: float  # ‖T(Y_h) − X_h‖_F / ‖X_h‖_F on held-out pairs (nan when n_holdout = 0)
    retrieval_accuracy: float  # fraction of held-out words w whose nearest target token of T(y_w) is w
    fit_seconds: float  # the final fit on all pairs

    def as_dict(self) -> dict:
        return asdict(self)


RETRIEVAL_SAMPLE = 1000


def fit_with_report(
    method, source: EmbeddingSpace, target: EmbeddingSpace, holdout: float = 0.1, seed: int = 0
) -> FitReport:
    """Fit on (1 − holdout) of the shared pairs, score the rest, then refit `method` on all pairs for use."""
    if not 0.0 <= holdout < 1.0:
        raise VWBenchError(f"fit_with_report: holdout must be in [0, 1), got {holdout}")
    name = _name(method)
    src, tgt = shared_pairs(source, target)
    n = len(src)
    if n == 0:
        raise VWBenchError(f"transfer method {name!r}: {source.name} and {target.name} share no tokens")
    n_hold = min(round(holdout * n), n - 1)
    rel_error = accuracy = float("nan")
    if n_hold > 0:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        fit_i, hold_i = perm[n_hold:], perm[:n_hold]
        fit_checked(method, source.restricted(src[fit_i]), target.restricted(tgt[fit_i]))
        dtype = torch.promote_types(source.table.dtype, torch.float32)  # vectors are never below float32
        Y, X = source.table[src[hold_i]].to(dtype), target.table[tgt[hold_i]]
        pred = transfer(method, Y, target.width)
        rel_error = float((pred.double() - X.double()).norm() / X.double().norm().clamp_min(1e-300))
        # retrieval searches the whole target vocabulary, so it is scored on at most RETRIEVAL_SAMPLE held-out words
        r = slice(0, RETRIEVAL_SAMPLE)
        hit = nearest_tokens(target, pred[r], k=1)[0][:, 0] == tgt[hold_i][r]
        accuracy = float(hit.double().mean())
    start = time.perf_counter()
    fit_checked(method, source, target)
    seconds = time.perf_counter() - start
    return FitReport(name, source.name, target.name, n, n - n_hold, n_hold, rel_error, accuracy, seconds)
