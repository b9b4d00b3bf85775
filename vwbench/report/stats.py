"""The statistics behind every table: bootstrap CIs that resample concepts, paired tests between methods, Holm.

Trials of one concept share its images (and, across anchors, its learned target), so they are not independent:
every interval here resamples *clusters* (a dataset's concept with all its trials), never single trials.
"""

from __future__ import annotations

import warnings

import numpy as np

BOOTSTRAP = {"resamples": 1000, "confidence": 0.95, "method": "percentile", "seed": 0, "cluster": "concept"}
PERMUTATIONS = {"resamples": 9999, "seed": 0, "alternative": "greater", "level": 0.05, "correction": "holm"}


def cluster_sums(values, clusters) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums and counts of `values`, clusters in first-seen order."""
    order: dict = {}
    for c in clusters:
        order.setdefault(c, len(order))
    idx = np.array([order[c] for c in clusters], dtype=np.int64)
    x = np.asarray(list(values), dtype=np.float64)
    sums = np.bincount(idx, weights=x, minlength=len(order))
    counts = np.bincount(idx, minlength=len(order)).astype(np.float64)
    return sums, counts


def resample_indices(
    n_clusters: int, resamples: int = BOOTSTRAP["resamples"], seed: int = BOOTSTRAP["seed"]
) -> np.ndarray:
    """[resamples, n_clusters] cluster indices drawn with replacement (fixed seed): one draw shared by every
    statistic of a table, so that a ratio's numerator and denominator move together."""
    return np.random.default_rng(seed).integers(0, n_clusters, size=(resamples, n_clusters))


def percentile_ci(estimates: np.ndarray, confidence: float = BOOTSTRAP["confidence"]) -> tuple[float, float] | None:
    """The percentile interval of bootstrap estimates; None when some resample is undefined (NaN)."""
    if np.isnan(estimates).any():
        return None
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(estimates, [tail, 100 - tail])
    return float(lo), float(hi)


def cluster_bootstrap_ci(
    values,
    clusters,
    resamples: int = BOOTSTRAP["resamples"],
    confidence: float = BOOTSTRAP["confidence"],
    seed: int = BOOTSTRAP["seed"],
) -> tuple[float, float, float]:
    """(mean, low, high): the mean over trials with a percentile bootstrap CI that resamples clusters
    (scipy.stats.bootstrap over paired per-cluster sums and counts). One cluster, or all values equal, gives a
    zero-width CI at the mean (flagged as degenerate by the tables)."""
    from scipy import stats

    sums, counts = cluster_sums(values, clusters)
    if counts.sum() == 0:
        raise ValueError("cluster_bootstrap_ci of no values")
    mean = float(sums.sum() / counts.sum())
    x = np.asarray(list(values), dtype=np.float64)
    if len(sums) == 1 or np.all(x == x[0]):
        return mean, mean, mean

    def ratio(s, c, axis=-1):
        return s.sum(axis=axis) / c.sum(axis=axis)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            (sums, counts),
            ratio,
            paired=True,
            vectorized=True,
            n_resamples=resamples,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return mean, min(low, mean), max(high, mean)


def paired_permutation_p(
    diffs,
    resamples: int = PERMUTATIONS["resamples"],
    seed: int = PERMUTATIONS["seed"],
    alternative: str = PERMUTATIONS["alternative"],
) -> float:
    """p-value of a sign-flip permutation test (scipy.stats.permutation_test) that the mean of per-cluster
    paired differences is above 0 (`greater`). Exact when 2^n ≤ resamples. All differences 0 gives p = 1."""
    from scipy import stats

    d = np.asarray(list(diffs), dtype=np.float64)
    if d.size == 0 or np.all(d == 0):
        return 1.0
    if d.size == 1:  # two sign patterns; scipy needs two observations
        return 0.5 if (d[0] > 0) == (alternative == "greater") else 1.0
    res = stats.permutation_test(
        (d, np.zeros_like(d)),
        lambda a, b, axis=-1: (a - b).mean(axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=resamples,
        alternative=alternative,
        rng=np.random.default_rng(seed),
    )
    return float(res.pvalue)


def holm(pvalues: dict) -> dict:
    """Holm–Bonferroni adjusted p-values {name: p_adj} for a family of tests {name: p}."""
    items = sorted(pvalues.items(), key=lambda kv: kv[1])
    m, out, running = len(items), {}, 0.0
    for i, (name, p) in enumerate(items):
        running = max(running, min(1.0, (m - i) * p))
        out[name] = running
    return out
