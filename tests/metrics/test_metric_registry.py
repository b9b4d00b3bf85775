"""The metric layer (vwbench.metrics): names in task specs, checked with one-line errors; scores from outputs; a
metric registered at run time reaches the stored scores, results.json and the Markdown tables with no adapter
edit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from vwbench import metrics
from vwbench.errors import SpecError
from vwbench.metrics import METRICS, check_task, metric, score
from vwbench.spec import SpecLibrary

MINI = """
name: mini
tasks: [tiny-detection, tiny-classification]
datasets: [tiny-objects]
anchors: own
deltas: []
train: {steps: 2, lr: 0.05, batch_size: 4, seed: 0, concepts_per_batch: 9}
controls: []
"""


def _task(task="tiny-classification", **block):
    spec = SpecLibrary().task(task)
    return dataclasses.replace(spec, metric={**spec.metric, **block})


def test_builtins_are_registered_by_their_modules_with_their_kinds():
    kinds = {n: METRICS.get(n).task for n in metrics.BUILTINS}
    assert kinds == {
        "generation_accuracy": "generation",
        "ap50": "detection",
        "map": "detection",
        "auroc": "classification",
        "accuracy": "classification",
        "false_positive_rate": "classification",
    }


@pytest.mark.parametrize(
    "block, field, words",
    [
        ({"name": "aurok"}, "metric.name", ["unknown metric 'aurok'", "did you mean 'auroc'"]),
        ({"also": ["accuracy", "false_positive_rat"]}, "metric.also", ["did you mean 'false_positive_rate'"]),
        ({"name": "ap50"}, "metric.name", ["'ap50' is a detection metric", "classification metrics: auroc"]),
        ({"table": ["auroc"]}, "metric.table", ["'auroc' not among metric.also"]),
    ],
)
def test_bad_metric_names_are_one_line_spec_errors(block, field, words):
    spec = _task(**block)
    with pytest.raises(SpecError) as info:
        check_task(spec)
    assert (info.value.file, info.value.field) == (spec.source, field)
    assert "\n" not in str(info.value) and all(w in str(info.value) for w in words)


def test_the_task_model_refuses_an_unknown_metric_before_loading(spec_copy):
    from vwbench.models.factory import build_task_model

    path = spec_copy / "tasks" / "tiny-classification.yaml"
    path.write_text(path.read_text() + "metric: {name: accuracyy}\n")
    with pytest.raises(SpecError, match="did you mean 'accuracy'"):
        build_task_model(SpecLibrary(spec_copy).task("tiny-classification"), "cpu")


def test_a_run_refuses_an_unknown_metric_before_any_work(spec_copy, tmp_path, capsys):
    from vwbench.cli import main

    (spec_copy / "suites" / "mini.yaml").write_text(MINI)
    path = spec_copy / "tasks" / "tiny-classification.yaml"
    path.write_text(path.read_text() + "metric: {also: [acuracy]}\n")
    assert (
        main(
            [
                "--specs",
                str(spec_copy),
                "run",
                "--suite",
                "mini",
                "--store",
                str(tmp_path / "s"),
                "--out",
                str(tmp_path / "lb"),
                "--no-progress",
            ]
        )
        != 0
    )
    err = capsys.readouterr().err
    assert f"{path}: metric.also: unknown metric 'acuracy'; did you mean 'accuracy'" in err
    assert "Traceback" not in err and not (tmp_path / "lb").exists()


def test_score_takes_the_headline_its_chance_and_the_named_secondaries():
    out = {
        "similarity": torch.tensor([0.9, 0.1, 0.8, 0.2]),
        "labels": torch.tensor([0, 1, 0, 1]),
        "target": 0,
        "choice": torch.tensor([0, 0, 1, 1]),
        "classes": 2,
    }
    got = score(_task(also=["false_positive_rate"], table=["false_positive_rate"]), out, {"n_images": 2})
    # both target images score above both others: AUROC 1; one of the two other images picks the word's class
    assert got == {
        "value": 1.0,
        "extra": {
            "n_images": 2,
            "chance": 0.5,
            "metrics": {"false_positive_rate": 0.5},
            "table": ["false_positive_rate"],
        },
    }
    assert score(_task(name="accuracy", also=[]), out, {}) == {"value": 0.5, "extra": {"chance": 0.5}}


@pytest.fixture
def miss_rate():
    """A metric registered at run time: the share of target images that do not pick the word's class."""

    @metric("miss_rate", "classification")
    def rate(out) -> float:
        target = out["labels"] == out["target"]
        return (out["choice"][target] != out["target"]).float().mean().item()

    yield rate
    METRICS.unregister("miss_rate")


def test_a_metric_registered_at_run_time_reaches_scores_json_and_tables(miss_rate, spec_copy, tmp_path):
    from vwbench.cli import main
    from vwbench.store import Store

    (spec_copy / "suites" / "mini.yaml").write_text(MINI)
    task = spec_copy / "tasks" / "tiny-classification.yaml"
    task.write_text(task.read_text() + "metric: {also: [accuracy, miss_rate], table: [miss_rate]}\n")
    store, out = tmp_path / "store", tmp_path / "lb"
    assert (
        main(
            [
                "--specs",
                str(spec_copy),
                "run",
                "--suite",
                "mini",
                "--store",
                str(store),
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    scores = [s for s in Store(store).scores("mini") if s.eval_task == "classification"]
    assert scores and all(set(s.extra["metrics"]) == {"accuracy", "miss_rate"} for s in scores)
    for s in scores:  # an independent reading: every target image either picks it or misses
        assert s.extra["metrics"]["miss_rate"] == pytest.approx(1 - s.extra["metrics"]["accuracy"])
    doc = json.loads((out / "results.json").read_text())
    cell = doc["cells"]["matrix/tiny-objects/classification->classification/in_domain"]
    assert cell["metrics"]["miss_rate"]["mean"] == pytest.approx(1 - cell["metrics"]["accuracy"]["mean"], abs=1e-6)
    md = (out / "leaderboard.md").read_text()
    section = md[md.index("### Secondary metrics: tiny-objects") :]
    header = next(line for line in section.splitlines() if line.startswith("| evaluated"))
    assert "miss_rate" in header and "accuracy" not in header  # only what metric.table names
    row = next(line for line in section.splitlines() if "| in_domain" in line and "cls->cls" in line)
    assert f"{cell['metrics']['miss_rate']['mean']:.3f} [" in row
    assert md.count("### Secondary metrics") == 1  # one dataset, one section


def test_the_shipped_specs_tabulate_no_secondaries_but_record_them():
    lib = SpecLibrary()
    for name in ("tiny-generation", "tiny-detection", "tiny-classification", "micro-detection", "classification"):
        spec = lib.task(name)
        check_task(spec)
        assert spec.metric["table"] == []
    assert lib.task("detection").metric["also"] == ["map"]
    assert lib.task("classification").metric["also"] == ["accuracy", "false_positive_rate"]


def test_every_builtin_metric_is_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    assert all(f"`{n}`" in doc for n in metrics.BUILTINS)


def test_list_metrics_shows_every_builtin_with_its_kind(capsys):
    from vwbench.cli import main

    assert main(["list", "metrics"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in metrics.BUILTINS:
        assert any(line.split()[:2] == [name, METRICS.get(name).task] for line in lines), name
