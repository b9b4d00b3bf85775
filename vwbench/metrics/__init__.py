"""Metrics registered by name, as transfer methods are: a task spec names its headline and its secondaries.

A metric is a function of what a task adapter produced for one word (its `outputs`: similarities and labels for
classification, predicted and target boxes for detection, the evaluator's labels of the generated images for
generation; each family's module says which keys) returning a float, registered with `@metric(name, task)` and
optionally a `chance(outputs)` level. `score` turns one word's outputs into the stored result: the headline's
value and chance, the secondaries under `extra["metrics"]`. Adding a metric is one registered function and its
name in a task's `metric:` block (docs/metrics.md); no adapter changes.
"""

from __future__ import annotations

import difflib

from vwbench.errors import SpecError, VWBenchError
from vwbench.registry import Registry

ENTRY_POINT_GROUP = "vwbench.metrics"

# name -> module holding the built-in metric (imported on first use)
BUILTINS = {
    "generation_accuracy": "vwbench.metrics.generation",
    "ap50": "vwbench.metrics.detection",
    "map": "vwbench.metrics.detection",
    "auroc": "vwbench.metrics.classification",
    "accuracy": "vwbench.metrics.classification",
    "false_positive_rate": "vwbench.metrics.classification",
}


def _check_function(name: str, obj, where: str) -> None:
    if not callable(obj) or not getattr(obj, "task", None):
        raise VWBenchError(f"metric plugin {name!r} ({where}) is not a function registered with vwbench.metrics.metric")


METRICS = Registry("metric", BUILTINS, ENTRY_POINT_GROUP, check=_check_function)


def metric(name: str, task: str, chance=None):
    """Decorator: register `fn(outputs) -> float` as metric `name` of task kind `task`; `chance(outputs)` gives
    the value a word without information gets (the analytic chance level), where there is one."""

    def wrap(fn):
        fn.task, fn.chance = task, chance
        return METRICS.register(name)(fn)

    return wrap


def check_task(spec) -> None:
    """Every metric a task spec names (`metric.name`, `metric.also`, `metric.table`) is a registered metric of
    its kind; else a one-line SpecError naming the file and field (and the close names of its kind)."""
    m = spec.metric
    mine = names(spec.task)
    for field, named in (
        ("metric.name", [m["name"]]),
        ("metric.also", m.get("also", [])),
        ("metric.table", m.get("table", [])),
    ):
        for name in named:
            if name not in METRICS:
                close = difflib.get_close_matches(name, mine, n=2, cutoff=0.5)
                hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
                raise SpecError(
                    spec.source,
                    field,
                    f"unknown metric {name!r}{hint} ({spec.task} metrics: {', '.join(mine) or 'none'})",
                )
            task = METRICS.get(name).task
            if task != spec.task:
                raise SpecError(
                    spec.source, field, f"{name!r} is a {task} metric; {spec.task} metrics: {', '.join(mine) or 'none'}"
                )
    stray = [n for n in m.get("table", []) if n not in m.get("also", [])]
    if stray:
        raise SpecError(
            spec.source,
            "metric.table",
            f"{', '.join(map(repr, stray))} not among metric.also ({', '.join(m.get('also', [])) or 'none'})",
        )


def names(task: str) -> list[str]:
    """The registered metrics of one task kind, built-ins first."""
    out = []
    for name in METRICS.names():
        try:
            if METRICS.get(name).task == task:
                out.append(name)
        except VWBenchError:  # a broken plugin is no metric of any kind
            continue
    return out


def score(spec, outputs: dict, info: dict) -> dict:
    """One word's result {'value', 'extra'} from its outputs under the metrics `spec.metric` names: the headline's
    value, its chance (`extra.chance`, where it has one), the secondaries (`extra.metrics`, where any are named),
    the secondaries its tables show (`extra.table`, where any) and the adapter's `info` (counts) as they are."""
    m = spec.metric
    head = METRICS.get(m["name"])
    extra = dict(info)
    chance = head.chance(outputs) if head.chance is not None else None
    if chance is not None:
        extra["chance"] = float(chance)
    if m.get("also"):
        extra["metrics"] = {name: float(METRICS.get(name)(outputs)) for name in m["also"]}
    if m.get("table"):
        extra["table"] = list(m["table"])
    return {"value": float(head(outputs)), "extra": extra}
