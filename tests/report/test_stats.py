"""The statistics behind the tables, against independent computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vwbench.report.stats import cluster_bootstrap_ci, holm, paired_permutation_p, percentile_ci


def test_cluster_bootstrap_resamples_concepts_not_trials():
    # 10 concepts, 10 identical trials each: the interval is that of 10 values, not of 100
    rng = np.random.default_rng(1)
    per_concept = rng.uniform(0, 1, 10)
    values = np.repeat(per_concept, 10)
    clusters = np.repeat(np.arange(10), 10)
    mean, lo, hi = cluster_bootstrap_ci(values, clusters)
    assert mean == pytest.approx(per_concept.mean())
    _, lo10, hi10 = cluster_bootstrap_ci(per_concept, range(10))
    assert (lo, hi) == pytest.approx((lo10, hi10), abs=1e-9)
    _, lo_iid, hi_iid = cluster_bootstrap_ci(values, range(100))  # treating trials as independent
    assert hi_iid - lo_iid < 0.6 * (hi - lo)


def test_cluster_bootstrap_matches_a_hand_resampling():
    rng = np.random.default_rng(2)
    clusters = rng.integers(0, 12, 60)
    values = rng.uniform(0, 1, 60) + clusters / 12
    mean, lo, hi = cluster_bootstrap_ci(values, clusters, resamples=4000)
    ids = np.unique(clusters)
    draws = np.random.default_rng(7).choice(ids, size=(4000, len(ids)))
    by = {c: values[clusters == c] for c in ids}
    est = [np.concatenate([by[c] for c in d]).mean() for d in draws]
    assert mean == pytest.approx(values.mean())
    assert lo == pytest.approx(np.percentile(est, 2.5), abs=0.03)
    assert hi == pytest.approx(np.percentile(est, 97.5), abs=0.03)


def test_degenerate_inputs_give_a_point():
    assert cluster_bootstrap_ci([0.7], [0]) == (0.7, 0.7, 0.7)
    assert cluster_bootstrap_ci([0.3, 0.3, 0.3], [0, 1, 2]) == (0.3, 0.3, 0.3)
    assert cluster_bootstrap_ci([0.1, 0.9], ["c", "c"]) == (0.5, 0.5, 0.5)  # one concept: nothing to resample


def test_paired_permutation_is_the_exact_sign_flip_test():
    d = np.array([0.3, 0.1, -0.05, 0.2, 0.15, 0.4])
    flips = np.array(list(itertools.product([1, -1], repeat=len(d))))
    exact = float(((flips * d).mean(1) >= d.mean() - 1e-12).mean())
    assert paired_permutation_p(d) == pytest.approx(exact)
    assert paired_permutation_p(-d) > 0.9
    assert paired_permutation_p(np.zeros(5)) == 1.0
    assert paired_permutation_p([0.2]) == 0.5 and paired_permutation_p([-0.2]) == 1.0  # one concept


def test_holm():
    adj = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adj == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})  # 3·0.01; max(2·0.03, .); max(1·0.04, .)


def test_percentile_ci_refuses_undefined_resamples():
    assert percentile_ci(np.array([0.1, np.nan, 0.3])) is None
    assert percentile_ci(np.linspace(0, 1, 1001)) == pytest.approx((0.025, 0.975))
