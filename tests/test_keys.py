"""What a model's result key holds (vwbench/keys.py): settings that can move a stored number, nothing else."""

from __future__ import annotations

import dataclasses

from vwbench.keys import model_id
from vwbench.spec import SpecLibrary


def _with_metric(task, **changes):
    return dataclasses.replace(task, metric={**task.metric, **changes})


def test_a_secondary_metric_changes_the_key_but_the_table_choice_does_not():
    task = SpecLibrary().task("tiny-classification")
    base = model_id(task)
    assert model_id(_with_metric(task, table=list(task.metric.get("also", []))[:1])) == base
    assert model_id(_with_metric(task, also=["accuracy"])) != base
    assert model_id(_with_metric(task, name="accuracy")) != base


def test_the_key_follows_dtype_and_template():
    task = SpecLibrary().task("tiny-classification")
    assert model_id(task, "cpu") != model_id(dataclasses.replace(task, dtype={"cpu": "bfloat16"}), "cpu")
    assert model_id(task) != model_id(dataclasses.replace(task, template="a picture of {}"))
