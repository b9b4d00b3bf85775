"""What a model's result key holds (vwbench/keys.py): settings that can move a stored number, nothing else."""

from __future__ import annotations

import dataclasses

from vwbench.keys import model_id
from vwbench.spec import SpecLibrary


def _with_metric(task, **changes):
    return dataclasses.replace(task, metric={**task.metric, **changes})


def test_the_metrics_named_change_the_key_the_tabulated_ones_too():
    """A stored score holds its secondaries and which of them its tables show (extra.table, read by the report),
    so a change to any of `name`, `also` or `table` must recompute it."""
    task = SpecLibrary().task("tiny-classification")
    base = model_id(task)
    assert model_id(_with_metric(task, table=list(task.metric.get("also", []))[:1])) != base
    assert model_id(_with_metric(task, also=["accuracy"])) != base
    assert model_id(_with_metric(task, name="accuracy")) != base
    assert model_id(_with_metric(task)) == base


def test_the_key_follows_dtype_and_template():
    task = SpecLibrary().task("tiny-classification")
    assert model_id(task, "cpu") != model_id(dataclasses.replace(task, dtype={"cpu": "bfloat16"}), "cpu")
    assert model_id(task) != model_id(dataclasses.replace(task, template="a picture of {}"))
