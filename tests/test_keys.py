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


def test_learned_words_and_fits_are_keyed_without_the_scoring_settings():
    """A vector, an anchor word and a fit depend on the task model, not on how its outputs are scored."""
    from vwbench.keys import learner_id

    task = SpecLibrary().task("tiny-generation")
    base = learner_id(task, "cpu")
    assert "metric" not in base and "evaluator" not in base
    assert learner_id(_with_metric(task, images_per_trial=3, inference_steps=2), "cpu") == base
    assert model_id(_with_metric(task, images_per_trial=3), "cpu") != model_id(task, "cpu")
    other = dict(task.evaluator, model={"id": "tiny:open_clip", "revision": "x"})
    assert learner_id(dataclasses.replace(task, evaluator=other), "cpu") == base
    assert learner_id(dataclasses.replace(task, template="a picture of {}"), "cpu") != base
    assert learner_id(dataclasses.replace(task, loss={"prediction_type": "epsilon"}), "cpu") != base
    assert learner_id(dataclasses.replace(task, dtype={"cpu": "bfloat16"}), "cpu") != base


def test_a_new_generation_metric_rescores_stored_words_without_relearning(tmp_path, capsys):
    """Through the CLI: the second run, with fewer images per word, learns nothing and scores everything anew."""
    import json
    import re
    import shutil
    from pathlib import Path

    from vwbench.cli import main

    specs = tmp_path / "specs"
    shutil.copytree(Path(__file__).resolve().parents[1] / "vwbench" / "specs", specs)
    (specs / "suites" / "gen.yaml").write_text(
        "name: gen\ntasks: [tiny-generation, tiny-classification]\ndatasets: [tiny-objects]\nanchors: own\n"
        "train: {steps: 1, lr: 0.05, batch_size: 2, seed: 0, concepts_per_batch: 9}\ncontrols: [anchor]\n"
    )
    args = ["--specs", str(specs), "run", "--suite", "gen", "--limit", "2", "--store", str(tmp_path / "st")]
    args += ["--out", str(tmp_path / "lb"), "--no-progress"]

    def counts() -> tuple[dict, dict]:
        line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("computed ")][-1]
        computed, reused = line[len("computed ") :].split("; reused ")
        parse = lambda s: {k: int(v) for v, k in re.findall(r"(\d+) (\w+)", s)}
        return parse(computed), parse(reused)

    assert main(args) == 0
    first, _ = counts()
    task = specs / "tasks" / "tiny-generation.yaml"
    text = task.read_text()
    assert "images_per_trial: 2" in text
    task.write_text(text.replace("images_per_trial: 2", "images_per_trial: 1"))
    assert main(args) == 0
    second, reused = counts()
    assert first["vectors"] > 0 and "vectors" not in second and reused["vectors"] == first["vectors"]
    rows = [json.loads(line) for line in (tmp_path / "lb" / "scores.jsonl").read_text().splitlines()]
    generation = [r for r in rows if r["eval_task"] == "generation"]
    assert 0 < len(generation) < len(rows)
    assert second["scores"] == len(generation) and reused["scores"] == len(rows) - len(generation)
