"""Every registered method passes one battery; then each built-in's own math."""

import numpy as np
import pytest
import torch

from vwbench.errors import VWBenchError
from vwbench.transfer import EmbeddingSpace, registry, shared_pairs


@pytest.fixture(params=registry.names())
def method_name(request):
    return request.param


def test_battery_shapes_dtype_finite(method_name, spaces):
    src, tgt = spaces
    m = registry.get(method_name)
    m.fit(src, tgt)
    for dtype in (torch.float32, torch.float64):
        v = torch.randn(5, src.width, dtype=dtype)
        out = m(v)
        assert out.shape == (5, tgt.width) and out.dtype == dtype and torch.isfinite(out).all()
    assert m(torch.randn(0, src.width)).shape == (0, tgt.width)


def test_battery_call_before_fit_refused(method_name):
    with pytest.raises(VWBenchError, match="fit"):
        registry.get(method_name)(torch.randn(2, 10))


def test_battery_wrong_input_width_refused(method_name, spaces):
    src, tgt = spaces
    m = registry.get(method_name)
    m.fit(src, tgt)
    with pytest.raises(VWBenchError, match="width"):
        m(torch.randn(2, src.width + 1))


def test_battery_deterministic(method_name, spaces):
    src, tgt = spaces
    v = torch.randn(4, src.width)
    a, b = registry.get(method_name), registry.get(method_name)
    a.fit(src, tgt)
    b.fit(src, tgt)
    assert torch.equal(a(v), b(v))


def _pairs(src, tgt):
    s, t = shared_pairs(src, tgt)
    return src.table[s], tgt.table[t]


def test_linear_matches_numpy_lstsq(spaces):
    src, tgt = spaces
    Y, X = _pairs(src, tgt)
    m = registry.get("linear_transfer")
    m.fit(src, tgt)
    ref = np.linalg.lstsq(Y.double().numpy(), X.double().numpy(), rcond=None)[0]
    assert np.linalg.norm(m.T.numpy() - ref) / np.linalg.norm(ref) < 1e-8
    v = torch.randn(3, src.width)
    assert torch.allclose(m(v), (v.double() @ torch.from_numpy(ref)).float(), atol=1e-6)


def test_linear_fewer_pairs_than_dims_gives_min_norm_solution(make_spaces):
    src, tgt = make_spaces(v=30, d_src=40, d_tgt=5)
    Y, X = _pairs(src, tgt)
    m = registry.get("linear_transfer")
    m.fit(src, tgt)
    ref = np.linalg.lstsq(Y.double().numpy(), X.double().numpy(), rcond=None)[0]
    assert np.linalg.norm(m.T.numpy() - ref) / np.linalg.norm(ref) < 1e-8


def test_ridge_tends_to_lstsq(spaces):
    src, tgt = spaces
    lin = registry.get("linear_transfer")
    lin.fit(src, tgt)
    errs = []
    for lam in (1.0, 1e-3, 1e-8):
        r = registry.get("ridge", lam=lam)
        r.fit(src, tgt)
        errs.append(float((r.T - lin.T).norm() / lin.T.norm()))
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-8


@pytest.mark.parametrize("center,normalize", [(False, False), (True, False), (True, True)])
def test_procrustes_recovers_orthogonal_map(center, normalize):
    g = torch.Generator().manual_seed(3)
    Q = torch.linalg.qr(torch.randn(12, 12, generator=g, dtype=torch.float64))[0]
    Y = torch.randn(200, 12, generator=g, dtype=torch.float64)
    toks = [str(i) for i in range(200)]
    src = EmbeddingSpace.from_table("y", toks, Y)
    tgt = EmbeddingSpace.from_table("x", toks, Y @ Q)
    m = registry.get("procrustes", center=center, normalize=normalize)
    m.fit(src, tgt)
    assert torch.allclose(m.W, Q, atol=1e-10)
    v = torch.randn(4, 12, generator=g, dtype=torch.float64)
    assert torch.allclose(m(v), v @ Q, atol=1e-10)


@pytest.mark.parametrize("d_src,d_tgt", [(10, 7), (7, 10)])
def test_procrustes_semi_orthogonal_for_unequal_widths(d_src, d_tgt, make_spaces):
    src, tgt = make_spaces(d_src=d_src, d_tgt=d_tgt)
    m = registry.get("procrustes")
    m.fit(src, tgt)
    W = m.W
    small = W.T @ W if d_src >= d_tgt else W @ W.T
    assert W.shape == (d_src, d_tgt) and torch.allclose(small, torch.eye(min(d_src, d_tgt), dtype=W.dtype), atol=1e-10)


def test_cca_full_rank_equals_centered_least_squares(spaces):
    src, tgt = spaces
    Y, X = (a.double() for a in _pairs(src, tgt))
    m = registry.get("cca", reg=0.0)
    m.fit(src, tgt)
    Yc, Xc = Y - Y.mean(0), X - X.mean(0)
    T = torch.linalg.lstsq(Yc, Xc).solution
    v = torch.randn(3, src.width, dtype=torch.float64)
    assert torch.allclose(m(v), (v - Y.mean(0)) @ T + X.mean(0), atol=1e-8)
    with pytest.raises(ValueError, match="exceeds"):
        registry.get("cca", k=99).fit(src, tgt)


def test_nearest_token_returns_exact_target_rows(spaces):
    src, tgt = spaces
    s, t = shared_pairs(src, tgt)
    m = registry.get("nearest_token")
    m.fit(src, tgt)
    picks = [3, 17, 40]
    v = src.table[s[picks]] + 1e-4
    assert torch.equal(m(v), tgt.table[t[picks]])
