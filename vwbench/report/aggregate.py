"""From Score records to table cells: grouping, bootstrap CIs, transfer ratios. No I/O here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from vwbench.errors import VWBenchError
from vwbench.records import Score
from vwbench.report.stats import (
    BOOTSTRAP,
    PERMUTATIONS,
    cluster_bootstrap_ci,
    holm,
    paired_permutation_p,
    percentile_ci,
    resample_indices,
)

IN_DOMAIN = "in_domain"
ANCHOR = "anchor"  # the untrained anchor word, scored in-domain ...
ANCHOR_VIA = "anchor+"  # ... and transferred: "anchor+<method>"
CONTROL_METHODS = ("nearest_token", "constant", "random_map")
TASK_ORDER = ("generation", "detection", "classification")
SHORT = {"generation": "gen", "detection": "det", "classification": "cls"}


def task_order(tasks) -> list[str]:
    """The paper's task order (generation, detection, classification), then any other task by name."""
    tasks = set(tasks)
    return [t for t in TASK_ORDER if t in tasks] + sorted(tasks - set(TASK_ORDER))


def short(task: str) -> str:
    return SHORT.get(task, task)


def bootstrap_ci(
    values,
    resamples: int = BOOTSTRAP["resamples"],
    confidence: float = BOOTSTRAP["confidence"],
    seed: int = BOOTSTRAP["seed"],
) -> tuple[float, float, float]:
    """(mean, low, high) of independent values: the cluster bootstrap with one cluster per value."""
    values = list(values)
    if not values:
        raise ValueError("bootstrap_ci of no values")
    return cluster_bootstrap_ci(values, range(len(values)), resamples, confidence, seed)


def cluster(score: Score) -> tuple[str, str]:
    """The bootstrap's resampling unit: a dataset's concept (its trials share images and target)."""
    return score.trial.dataset, score.trial.concept


def trial_id(score: Score) -> tuple:
    """What pairs scores of different methods and tasks: the same concept, anchor, seed and δ."""
    t = score.trial
    return t.dataset, t.concept, t.anchor, t.seed, t.delta


@dataclass(frozen=True)
class Cell:
    """One aggregated table cell: scores of one (dataset, trained-for, evaluated-in, method, δ) over trials."""

    dataset: str
    train_task: str
    eval_task: str
    method: str
    delta: float | None
    metric: str
    mean: float
    ci_low: float
    ci_high: float
    n: int
    clusters: int = 1
    chance: float | None = None  # mean analytic chance of the scores (None if not recorded)
    metrics: tuple = ()  # secondary metrics: ((name, mean, low, high), ...)
    table: tuple = ()  # the secondaries its task tabulates (`metric.table`), in order

    @property
    def id(self) -> str:
        return cell_id(self.dataset, self.train_task, self.eval_task, self.method, self.delta)

    @property
    def degenerate(self) -> bool:
        """A zero-width CI: one concept, or every trial scored the same; the interval says nothing."""
        return self.ci_low == self.ci_high

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "train_task": self.train_task,
            "eval_task": self.eval_task,
            "method": self.method,
            "delta": self.delta,
            "metric": self.metric,
            "mean": _r(self.mean),
            "ci": [_r(self.ci_low), _r(self.ci_high)],
            "n": self.n,
            "clusters": self.clusters,
            "degenerate": self.degenerate,
            "chance": None if self.chance is None else _r(self.chance),
            "metrics": {m: {"mean": _r(v), "ci": [_r(lo), _r(hi)]} for m, v, lo, hi in self.metrics},
        }


def cell_id(dataset: str, train_task: str, eval_task: str, method: str, delta: float | None) -> str:
    base = f"{dataset}/{train_task}->{eval_task}/{method}"
    return f"matrix/{base}" if delta is None else f"delta/{base}/{delta:g}"


def _r(x: float) -> float:
    return round(float(x), 6)


def latest_scores(scores: list[Score]) -> tuple[list[Score], int]:
    """One score per (trial, evaluated task, method): the last one given wins (the store lists oldest first).
    Returns the kept scores and how many were superseded."""
    kept: dict[tuple, Score] = {}
    for s in scores:
        kept[(s.trial, s.eval_task, s.method)] = s
    return list(kept.values()), len(scores) - len(kept)


def _secondary(group: list[Score]) -> tuple:
    """Secondary metrics every score of the group records, aggregated like the headline."""
    names = set.intersection(*(set(s.extra.get("metrics", {})) for s in group))
    clusters = [cluster(s) for s in group]
    return tuple((m, *cluster_bootstrap_ci([s.extra["metrics"][m] for s in group], clusters)) for m in sorted(names))


def _tabulated(group: list[Score], secondary: tuple) -> tuple:
    """The secondaries every score of the group asks a table for (its task's `metric.table`), in the first's order."""
    held = {m for m, *_ in secondary}
    asked = [set(s.extra.get("table", ())) for s in group]
    return tuple(m for m in group[0].extra.get("table", ()) if m in held and all(m in a for a in asked))


def _chance(group: list[Score]) -> float | None:
    chances = [s.extra.get("chance") for s in group]
    return None if any(c is None for c in chances) else float(np.mean(chances))


def aggregate(scores: list[Score]) -> dict[str, Cell]:
    """Every cell (transfer matrices and δ-curves) keyed by its id, in id order."""
    groups: dict[tuple, list[Score]] = defaultdict(list)
    for s in scores:
        delta = None if s.trial.delta is None else float(s.trial.delta)
        groups[(s.trial.dataset, s.trial.train_task, s.eval_task, s.method, delta)].append(s)
    cells = {}
    for (dataset, train, ev, method, delta), group in groups.items():
        metrics = sorted({s.metric for s in group})
        if len(metrics) != 1:
            raise VWBenchError(
                f"scores of {dataset} {train}->{ev} ({method}) mix metrics {metrics}; "
                "one headline metric per evaluated task is expected"
            )
        clusters = [cluster(s) for s in group]
        mean, low, high = cluster_bootstrap_ci([s.value for s in group], clusters)
        secondary = _secondary(group)
        c = Cell(
            dataset,
            train,
            ev,
            method,
            delta,
            metrics[0],
            mean,
            low,
            high,
            len(group),
            len(set(clusters)),
            _chance(group),
            secondary,
            _tabulated(group, secondary),
        )
        cells[c.id] = c
    return dict(sorted(cells.items()))


def is_anchor(method: str) -> bool:
    return method == ANCHOR or method.startswith(ANCHOR_VIA)


def transfer_methods(cells: dict[str, Cell]) -> list[str]:
    """Transfer methods that have cells (not in_domain, not the anchor control), control methods last."""
    found = {c.method for c in cells.values() if c.method != IN_DOMAIN and not is_anchor(c.method)}
    return sorted(found - set(CONTROL_METHODS)) + [m for m in CONTROL_METHODS if m in found]


def matrix_cell(
    cells: dict[str, Cell], dataset: str, train: str, ev: str, method: str, delta: float | None = None
) -> Cell | None:
    return cells.get(cell_id(dataset, train, ev, IN_DOMAIN if train == ev else method, delta))


def anchor_cell(cells: dict[str, Cell], dataset: str, train: str, ev: str, method: str) -> Cell | None:
    """The anchor control of a matrix cell: the untrained anchor in-domain, or transferred by `method`."""
    return cells.get(cell_id(dataset, train, ev, ANCHOR if train == ev else ANCHOR_VIA + method, None))


def _by_trial(scores: list[Score]) -> dict[tuple, dict[tuple, Score]]:
    """Unconstrained scores as {(method, trained for, evaluated): {trial id: score}}."""
    out: dict[tuple, dict[tuple, Score]] = defaultdict(dict)
    for s in scores:
        if s.trial.delta is None:
            out[(s.method, s.trial.train_task, s.eval_task)][trial_id(s)] = s
    return out


def _direction(d: tuple[str, str]) -> str:
    return f"{short(d[0])}->{short(d[1])}"


def _ratio_stats(parts: dict, idx: np.ndarray) -> dict:
    """Point estimate and cluster-bootstrap CI of corrected ratios per direction, and their mean over the
    directions where the ratio is defined (`mean`, with `defined` directions of all).
    parts: {direction: (numerator per cluster [C], denominator per cluster [C])}; idx: [R, C] resamples."""
    out, points, boots = {}, {}, {}
    for d, (num, den) in parts.items():
        points[d] = num.sum() / den.sum() if den.sum() > 0 else np.nan
        bn, bd = num[idx].sum(1), den[idx].sum(1)
        boots[d] = np.where(bd > 0, bn / np.where(bd > 0, bd, 1.0), np.nan)
        out[d] = _ratio_entry(points[d], boots[d])
    defined = [d for d in parts if not np.isnan(points[d])]
    if defined:
        out["mean"] = _ratio_entry(
            float(np.mean([points[d] for d in defined])), np.mean([boots[d] for d in defined], axis=0)
        )
    else:
        out["mean"] = {"value": None, "ci": None}
    out["mean"]["defined"] = len(defined)
    return out


def _ratio_entry(point: float, boot: np.ndarray) -> dict:
    ci = None if np.isnan(point) else percentile_ci(boot)
    return {"value": None if np.isnan(point) else _r(point), "ci": None if ci is None else [_r(ci[0]), _r(ci[1])]}


def method_leaderboard(scores: list[Score], cells: dict[str, Cell]) -> list[dict]:
    """Every transfer method and control method ranked by its corrected transfer ratio (docs/metrics.md).

    For a direction a->b over matched unconstrained trials: (Σ transferred − Σ baseline) / (Σ in-domain of b −
    Σ baseline), with the untrained anchor word in b as the baseline (`vs_anchor`, the ranking key) or the
    metric's analytic chance (`vs_chance`). CIs resample concepts; a ratio is null where its in-domain gain is
    not above 0, and its CI is null where some resample's is not. Each direction also carries paired
    sign-flip permutation tests (per-concept differences, Holm-corrected over directions) against the anchor
    word, every control method and linear_transfer. `ratio` is the paper's uncorrected mean transferred /
    mean in-domain per dataset, averaged over datasets."""
    by = _by_trial(scores)
    methods = transfer_methods({k: c for k, c in cells.items() if c.delta is None})
    clusters = sorted({(t[0], t[1]) for group in by.values() for t in group})
    where = {c: i for i, c in enumerate(clusters)}
    idx = resample_indices(max(len(clusters), 1))
    rows = []
    for method in methods:
        directions = sorted(
            {(a, b) for (m, a, b) in by if m == method and a != b},
            key=lambda d: [(TASK_ORDER.index(t) if t in TASK_ORDER else 9, t) for t in d],
        )
        if not directions:
            continue
        parts: dict[str, dict] = {"anchor": {}, "chance": {}}
        entries, pvals = {}, defaultdict(dict)
        for a, b in directions:
            name = _direction((a, b))
            trans, home, anchor = by[(method, a, b)], by.get((IN_DOMAIN, b, b), {}), by.get((ANCHOR, b, b), {})
            matched = [t for t in trans if t in home]
            entry = {
                "ratio": _paper_ratio(trans, home, matched),
                "n": len(matched),
                "datasets": len({t[0] for t in matched}),
                "versus": {},
            }
            baselines = {
                "anchor": {t: anchor[t].value for t in matched if t in anchor},
                "chance": {t: home[t].extra["chance"] for t in matched if home[t].extra.get("chance") is not None},
            }
            for base, ref in baselines.items():
                if matched and len(ref) == len(matched):
                    parts[base][name] = _cluster_arrays(
                        where, {t: (trans[t].value - ref[t], home[t].value - ref[t]) for t in matched}
                    )
            comparators = {ANCHOR: anchor} | {
                m: by[(m, a, b)] for m in (*CONTROL_METHODS, "linear_transfer") if m != method and (m, a, b) in by
            }
            for other, their in comparators.items():
                diffs = {t: trans[t].value - their[t].value for t in trans if t in their}
                if diffs:
                    pvals[other][name] = paired_permutation_p(_cluster_means(diffs))
                    entry["versus"][other] = {"diff": _r(np.mean(list(diffs.values()))), "p": _r(pvals[other][name])}
            entries[name] = entry
        for other, ps in pvals.items():
            for name, p_adj in holm(ps).items():
                entries[name]["versus"][other].update(p_holm=_r(p_adj), beats=bool(p_adj < PERMUTATIONS["level"]))
        corrected = {base: _ratio_stats(p, idx) for base, p in parts.items() if p}
        for name, entry in entries.items():
            entry["corrected"] = {base: c[name] for base, c in corrected.items() if name in c}
        directions_of = len(entries)
        ratios = [e["ratio"] for e in entries.values() if e["ratio"] is not None]
        key = "anchor" if "anchor" in corrected else "chance"
        rows.append(
            {
                "method": method,
                "control": method in CONTROL_METHODS,
                "score": corrected.get(key, {}).get("mean", {"value": None, "ci": None, "defined": 0}),
                "score_baseline": key,
                "directions_total": directions_of,
                "corrected": {base: c["mean"] for base, c in corrected.items()},
                "mean_ratio": _r(np.mean(ratios)) if ratios else None,
                "cells": len(ratios),
                "n": int(sum(e["n"] for e in entries.values())),
                "directions": entries,
            }
        )
    # without any baseline among the scores (no anchor control, no chance recorded) the raw ratio ranks
    rows.sort(
        key=lambda r: (
            r["score"]["value"] is None,
            -(r["score"]["value"] or 0.0),
            r["mean_ratio"] is None,
            -(r["mean_ratio"] or 0.0),
            r["method"],
        )
    )
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def _paper_ratio(trans: dict, home: dict, matched: list) -> float | None:
    """The paper's ratio: per dataset, mean transferred over mean in-domain score; averaged over datasets."""
    per_ds = defaultdict(list)
    for t in matched:
        per_ds[t[0]].append(t)
    ratios = []
    for ts in per_ds.values():
        h = np.mean([home[t].value for t in ts])
        if h > 0:
            ratios.append(np.mean([trans[t].value for t in ts]) / h)
    return _r(np.mean(ratios)) if ratios else None


def _cluster_arrays(where: dict, pairs: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums of {trial: (numerator, denominator)}, aligned to the cluster index `where`."""
    n, d = np.zeros(len(where)), np.zeros(len(where))
    for t, (num, den) in pairs.items():
        i = where[(t[0], t[1])]
        n[i] += num
        d[i] += den
    return n, d


def _cluster_means(values: dict) -> list[float]:
    """Mean of {trial: value} per cluster (dataset, concept), in cluster order."""
    groups = defaultdict(list)
    for t, v in values.items():
        groups[(t[0], t[1])].append(v)
    return [float(np.mean(v)) for _, v in sorted(groups.items())]


def datasets_of(cells: dict[str, Cell]) -> list[str]:
    return sorted({c.dataset for c in cells.values()})


def deltas_of(cells: dict[str, Cell], dataset: str | None = None) -> list[float]:
    return sorted({c.delta for c in cells.values() if c.delta is not None and dataset in (None, c.dataset)})
