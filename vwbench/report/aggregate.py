"""From Score records to table cells: grouping, bootstrap CIs, transfer ratios. No I/O here."""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from vwbench.errors import VWBenchError
from vwbench.records import Score

IN_DOMAIN = "in_domain"
TASK_ORDER = ("generation", "detection", "classification")
SHORT = {"generation": "gen", "detection": "det", "classification": "cls"}
BOOTSTRAP = {"resamples": 1000, "confidence": 0.95, "method": "percentile", "seed": 0}


def task_order(tasks) -> list[str]:
    """The paper's task order (generation, detection, classification), then any other task by name."""
    tasks = set(tasks)
    return [t for t in TASK_ORDER if t in tasks] + sorted(tasks - set(TASK_ORDER))


def short(task: str) -> str:
    return SHORT.get(task, task)


def bootstrap_ci(values, resamples: int = BOOTSTRAP["resamples"], confidence: float = BOOTSTRAP["confidence"],
                 seed: int = BOOTSTRAP["seed"]) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap of the mean (scipy.stats.bootstrap, fixed seed).
    One value, or all values equal, gives a CI equal to the value."""
    from scipy import stats

    x = np.asarray(list(values), dtype=np.float64)
    if x.size == 0:
        raise ValueError("bootstrap_ci of no values")
    mean = float(x.mean())
    if x.size == 1 or np.all(x == x[0]):
        return mean, mean, mean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap((x,), np.mean, n_resamples=resamples, confidence_level=confidence,
                              method="percentile", vectorized=True, rng=np.random.default_rng(seed))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return mean, min(low, mean), max(high, mean)


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

    @property
    def id(self) -> str:
        return cell_id(self.dataset, self.train_task, self.eval_task, self.method, self.delta)

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "train_task": self.train_task, "eval_task": self.eval_task,
                "method": self.method, "delta": self.delta, "metric": self.metric, "mean": _r(self.mean),
                "ci": [_r(self.ci_low), _r(self.ci_high)], "n": self.n}


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
            raise VWBenchError(f"scores of {dataset} {train}->{ev} ({method}) mix metrics {metrics}; "
                               "one headline metric per evaluated task is expected")
        mean, low, high = bootstrap_ci([s.value for s in group])
        c = Cell(dataset, train, ev, method, delta, metrics[0], mean, low, high, len(group))
        cells[c.id] = c
    return dict(sorted(cells.items()))


def transfer_methods(cells: dict[str, Cell]) -> list[str]:
    return sorted({c.method for c in cells.values() if c.method != IN_DOMAIN})


def matrix_cell(cells: dict[str, Cell], dataset: str, train: str, ev: str, method: str,
                delta: float | None = None) -> Cell | None:
    return cells.get(cell_id(dataset, train, ev, IN_DOMAIN if train == ev else method, delta))


def method_leaderboard(cells: dict[str, Cell]) -> list[dict]:
    """Every transfer method ranked by its mean transfer ratio: per (dataset, a->b), the mean transferred score
    over the mean in-domain score of b (unconstrained runs); averaged per direction over datasets and overall."""
    rows = []
    for method in transfer_methods(cells):
        per_dir: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for c in cells.values():
            if c.method != method or c.delta is not None or c.train_task == c.eval_task:
                continue
            home = cells.get(cell_id(c.dataset, c.eval_task, c.eval_task, IN_DOMAIN, None))
            if home is None or home.mean <= 0:
                continue
            per_dir[f"{short(c.train_task)}->{short(c.eval_task)}"].append((c.mean / home.mean, c.n))
        if not per_dir:
            continue
        directions = {d: {"ratio": _r(np.mean([r for r, _ in v])), "n": int(sum(n for _, n in v)),
                          "datasets": len(v)} for d, v in sorted(per_dir.items())}
        every = [r for v in per_dir.values() for r, _ in v]
        rows.append({"method": method, "mean_ratio": _r(np.mean(every)), "cells": len(every),
                     "n": int(sum(n for v in per_dir.values() for _, n in v)), "directions": directions})
    rows.sort(key=lambda r: (-r["mean_ratio"], r["method"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def datasets_of(cells: dict[str, Cell]) -> list[str]:
    return sorted({c.dataset for c in cells.values()})


def deltas_of(cells: dict[str, Cell], dataset: str | None = None) -> list[float]:
    return sorted({c.delta for c in cells.values() if c.delta is not None and dataset in (None, c.dataset)})
