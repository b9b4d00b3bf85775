"""Metrics registered by name, as transfer methods are: a task spec names its headline and its secondaries.

A metric is a function of what a task adapter produced for one word (its `outputs`: similarities and labels for
classification, predicted and target boxes for detection, the evaluator's labels of the generated images for
generation; each family's module says which keys) returning a float, registered with `@metric(name, task)` and
optionally a `chance(outputs)` level. `score` turns one word's outputs into the stored result: the headline's
value and chance, the secondaries under `extra["metrics"]`. Adding a metric is one registered function and its
name in a task's `metric:` block (docs/metrics.md); no adapter changes.
"""

from __future__ import annotations

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
    its kind; else a one-line SpecError naming the file and field."""
    m = spec.metric
    for field, names in (("metric.name", [m["name"]]), ("metric.also", m.get("also", [])),
                         ("metric.table", m.get("table", []))):
        for name in names:
            try:
                fn = METRICS.get(name)
            except VWBenchError as exc:
                raise SpecError(spec.source, field, str(exc)) from None
            if fn.task != spec.task:
                mine = ", ".join(n for n in METRICS.names() if _task_of(n) == spec.task)
                raise SpecError(spec.source, field, f"{name!r} is a {fn.task} metric; {spec.task} metrics: {mine}")
    stray = [n for n in m.get("table", []) if n not in m.get("also", [])]
    if stray:
        raise SpecError(spec.source, "metric.table", f"{', '.join(map(repr, stray))} not among metric.also "
                                                     f"({', '.join(m.get('also', [])) or 'none'})")


def _task_of(name: str) -> str | None:
    try:
        return METRICS.get(name).task
    except VWBenchError:
        return None


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
