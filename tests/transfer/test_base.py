import pytest
import torch

from vwbench.errors import VWBenchError
from vwbench.transfer import EmbeddingSpace, TransferMethod, fit_with_report, registry, transfer


def _exact_linear_spaces(n=400, d_src=12, d_tgt=9):
    g = torch.Generator().manual_seed(5)
    Y = torch.randn(n, d_src, generator=g, dtype=torch.float64)
    T = torch.randn(d_src, d_tgt, generator=g, dtype=torch.float64)
    toks = [f"t{i}" for i in range(n)]
    return EmbeddingSpace.from_table("y", toks, Y, exclude=[0]), EmbeddingSpace.from_table("x", toks, Y @ T), T


def test_fit_with_report_on_an_exact_linear_relation():
    src, tgt, T = _exact_linear_spaces()
    m = registry.get("linear_transfer")
    r = fit_with_report(m, src, tgt, holdout=0.1, seed=0)
    assert (r.n_pairs, r.n_fit, r.n_holdout) == (399, 359, 40)
    assert r.rel_error < 1e-10 and r.retrieval_accuracy == 1.0
    assert r.method == "linear_transfer" and r.as_dict()["n_pairs"] == 399
    assert torch.allclose(m.T, T, atol=1e-10)  # refitted on all pairs


def test_fit_with_report_counts_nearest_token_misses(spaces):
    src, tgt = spaces
    r = fit_with_report(registry.get("nearest_token"), src, tgt)
    assert r.retrieval_accuracy < 0.5  # a held-out word can only snap to a different, fitted word


class _Bad(TransferMethod):
    def __init__(self, mode: str):
        super().__init__(mode=mode)
        self.name = f"bad-{mode}"

    def fit_pairs(self, Y, X):
        if self.params["mode"] == "raise":
            raise RuntimeError("boom")

    def map(self, V):
        mode = self.params["mode"]
        out = torch.zeros(V.shape[0], self.d_out, dtype=V.dtype)
        if mode == "shape":
            return out[:, :-1]
        if mode == "nan":
            out[0, 0] = float("nan")
        return out


class _WrongDtype:
    """Not derived from TransferMethod: the protocol alone."""

    name = "bad-dtype"

    def fit(self, source, target):
        self.d = target.width

    def __call__(self, vectors):
        return torch.zeros(vectors.shape[0], self.d, dtype=torch.float16)


@pytest.mark.parametrize(
    "method,match",
    [
        (_Bad("raise"), "'bad-raise'.*fit .*failed: RuntimeError: boom"),
        (_Bad("shape"), "'bad-shape'.*shape"),
        (_Bad("nan"), "'bad-nan'.*NaN or Inf"),
        (_WrongDtype(), "'bad-dtype'.*dtype"),
    ],
)
def test_bad_methods_are_named(method, match, spaces):
    src, tgt = spaces
    with pytest.raises(VWBenchError, match=match):
        fit_with_report(method, src, tgt)


def test_transfer_wraps_protocol_methods(spaces):
    src, tgt = spaces
    m = _WrongDtype()
    m.fit(src, tgt)
    with pytest.raises(VWBenchError, match="bad-dtype"):
        transfer(m, torch.randn(2, src.width), tgt.width)


def test_failed_fit_leaves_method_unfitted(spaces):
    src, tgt = spaces
    m = _Bad("raise")
    with pytest.raises(RuntimeError):
        m.fit(src, tgt)
    with pytest.raises(VWBenchError, match="before transferring"):
        m(torch.randn(1, src.width))
