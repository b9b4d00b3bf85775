"""Spec loading and validation: the shipped specs load, and each kind of bad input is reported as one line naming
the file, the field path and what was expected, with a non-zero exit and no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from vwbench.cli import main
from vwbench.errors import SpecError
from vwbench.spec import KINDS, SpecLibrary

TASKS_DIR = Path(__file__).resolve().parent.parent / "vwbench" / "specs"
SPEC_FILES = sorted(TASKS_DIR.glob("*/*.yaml"))


def test_spec_tree_is_not_empty():
    assert {p.parent.name for p in SPEC_FILES} == set(KINDS)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_spec_loads(path):
    lib = SpecLibrary(TASKS_DIR)
    loader = {"tasks": lib.task, "datasets": lib.dataset, "suites": lib.suite}[path.parent.name]
    spec = loader(path.stem)
    assert spec.name == path.stem
    raw = lib.resolve(path.parent.name, path.stem)  # the document with its `extends:` base merged in
    if path.parent.name == "datasets":
        assert [c.id for c in spec.concepts] == [c["id"] for c in raw["concepts"]]
        assert list(spec.anchors) == raw["anchors"]
        assert all(c.anchor in spec.anchors for c in spec.concepts)
    if path.parent.name == "suites":
        assert [d.name for d in spec.datasets] == raw["datasets"]
        assert [t.name for t in spec.tasks] == [e["task"] if isinstance(e, dict) else e for e in raw["tasks"]]
        assert [t.label for t in spec.tasks] == [
            e.get("name", t.task) if isinstance(e, dict) else t.task for e, t in zip(raw["tasks"], spec.tasks)
        ]


def test_extends_merges_base_and_override():
    lib = SpecLibrary(TASKS_DIR)
    base, tiny = lib.task("generation"), lib.task("tiny-generation")
    assert tiny.model.id == "tiny:sd" and tiny.model.revision is None
    assert tiny.task == base.task and tiny.family == base.family and tiny.template == base.template
    # nested mappings merge key by key: overridden keys change, the others are inherited
    assert tiny.metric["inference_steps"] == 4 and tiny.metric["seed"] == base.metric["seed"]
    assert tiny.evaluator["model"]["id"] == "tiny:clip-evaluator"
    assert tiny.evaluator["family"] == base.evaluator["family"]


def test_validate_shipped_specs_exits_zero(capsys):
    assert main(["validate", str(TASKS_DIR)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ok:") and err == ""


def _rows(out: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip()]


def test_list_concepts_of_paper_suite(capsys):
    assert main(["--specs", str(TASKS_DIR), "list", "concepts", "--suite", "paper"]) == 0
    out = capsys.readouterr().out
    suite = yaml.safe_load((TASKS_DIR / "suites" / "paper.yaml").read_text())
    rows = [r for r in _rows(out) if r[0] in suite["datasets"]]
    assert len(rows) == 40
    assert "40 concepts" in out
    for ds_name in suite["datasets"]:
        ds = yaml.safe_load((TASKS_DIR / "datasets" / f"{ds_name}.yaml").read_text())
        assert len(ds["concepts"]) == 10 and len(ds["anchors"]) == 10
        by_id = {r[1]: r for r in rows if r[0] == ds_name}
        assert set(by_id) == {c["id"] for c in ds["concepts"]}
        for c in ds["concepts"]:
            row = by_id[c["id"]]
            assert row[2] == c["name"] and row[4] == c["anchor"]
            trained_from = row[5].split(", ")
            # anchors: all -> own anchor first, then every other anchor of the dataset
            assert trained_from[0] == c["anchor"] and sorted(trained_from) == sorted(ds["anchors"])


# ----------------------------------------------------------------------------------------- bad input


def _sub(old: str, new: str):
    def mutate(text: str) -> str:
        assert old in text, f"fixture text {old!r} not found"
        return text.replace(old, new)

    return mutate


def _line_of(rel: str, text: str) -> int:
    lines = (TASKS_DIR / rel).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


# name: (file to mutate, mutation, file named in the error, field path, words of the expectation)
BAD = {
    "missing-required-field": (
        "tasks/classification.yaml",
        _sub('template: "a photo of a {}"\n', ""),
        "tasks/classification.yaml",
        "template",
        "required",
    ),
    "missing-nested-field": (
        "suites/tiny.yaml",
        _sub("  steps: 30\n", ""),
        "suites/tiny.yaml",
        "train.steps",
        "required",
    ),
    "wrong-type": (
        "tasks/classification.yaml",
        _sub("image_size: 224", "image_size: big"),
        "tasks/classification.yaml",
        "image_size",
        "expected integer",
    ),
    "unknown-family": (
        "tasks/detection.yaml",
        _sub("family: owlv2", "family: owlv3"),
        "tasks/detection.yaml",
        "family",
        "unknown model family 'owlv3'; did you mean 'owlv2'?",
    ),
    "unknown-evaluator-family": (
        "tasks/generation.yaml",
        _sub("family: hf_clip", "family: hf-clip"),
        "tasks/generation.yaml",
        "evaluator.family",
        "unknown model family 'hf-clip'; did you mean 'hf_clip'?",
    ),
    "unknown-task-kind": (
        "tasks/detection.yaml",
        _sub("task: detection", "task: detecton"),
        "tasks/detection.yaml",
        "task",
        "unknown task kind 'detecton'; did you mean 'detection'?",
    ),
    "duplicate-task-name": (
        "suites/tiny-two-classifiers.yaml",
        _sub("name: hf-classification}", "name: classification}"),
        "suites/tiny-two-classifiers.yaml",
        "tasks[3].name",
        "task name 'classification' is taken by tasks[2]",
    ),
    "duplicate-task-kind-unnamed": (
        "suites/tiny-two-classifiers.yaml",
        _sub("{task: tiny-hf-classification, name: hf-classification}", "tiny-hf-classification"),
        "suites/tiny-two-classifiers.yaml",
        "tasks[3]",
        "task name 'classification' is taken by tasks[2]",
    ),
    "unknown-dataset-in-suite": (
        "suites/paper.yaml",
        _sub("datasets: [imagenet, dreambooth, coco, voc]", "datasets: [imagenet, dreambooth, cocoa, voc]"),
        "suites/paper.yaml",
        "datasets[2]",
        "unknown dataset 'cocoa'",
    ),
    "unknown-task-in-suite": (
        "suites/paper.yaml",
        _sub("tasks: [generation, detection,", "tasks: [generation, detektion,"),
        "suites/paper.yaml",
        "tasks[1]",
        "unknown task 'detektion'",
    ),
    "duplicate-concept-id": (
        "datasets/coco.yaml",
        _sub("{id: bear,", "{id: laptop,"),
        "datasets/coco.yaml",
        "concepts[3].id",
        "duplicate concept id 'laptop'",
    ),
    "multi-token-anchor": (
        "datasets/imagenet.yaml",
        lambda t: _sub("anchor: hat}", "anchor: sombrero}")(_sub("barrel, hat, scuba]", "barrel, sombrero, scuba]")(t)),
        "datasets/imagenet.yaml",
        "anchors[8]",
        "'sombrero' is not a single token",
    ),
    "nonsense-anchor": (
        "datasets/voc.yaml",
        lambda t: _sub("anchor: cow}", "anchor: xqzzyplorf}")(_sub("horse, cow]", "horse, xqzzyplorf]")(t)),
        "datasets/voc.yaml",
        "anchors[9]",
        "'xqzzyplorf' is not a single token",
    ),
    "concept-anchor-not-in-anchors": (
        "datasets/voc.yaml",
        _sub("anchor: cow}", "anchor: ox}"),
        "datasets/voc.yaml",
        "concepts[9].anchor",
        "'ox' is not in the dataset's anchors",
    ),
    "circular-extends": (
        "tasks/classification.yaml",
        lambda t: "extends: tiny-classification\n" + t,
        "tasks/classification.yaml",
        "extends",
        "circular extends",
    ),
    "unknown-metric-setting": (
        "tasks/detection.yaml",
        _sub("  negatives_per_positive: all ", "  iou: 0.5\n  negatives_per_positive: all "),
        "tasks/detection.yaml",
        "metric.iou",
        "unknown field (known: also, name, negatives_per_positive, table)",
    ),
    "unknown-metric-name": (
        "tasks/classification.yaml",
        _sub("  name: auroc ", "  name: aurok "),
        "tasks/classification.yaml",
        "metric.name",
        "unknown metric 'aurok'; did you mean 'auroc'",
    ),
    "metric-of-another-kind": (
        "tasks/detection.yaml",
        _sub("  also: [map] ", "  also: [map, accuracy] "),
        "tasks/detection.yaml",
        "metric.also",
        "'accuracy' is a classification metric; detection metrics: ap50, map",
    ),
    "misspelt-loss-setting": (
        "tasks/classification.yaml",
        _sub("target_weight:", "target_wieght:"),
        "tasks/classification.yaml",
        "loss.target_wieght",
        "unknown field (known: other_weight, target_weight)",
    ),
    "setting-of-another-kind": (
        "tasks/generation.yaml",
        _sub("  prediction_type: auto", "  prediction_type: auto\n  positive_iou: 0.5"),
        "tasks/generation.yaml",
        "loss.positive_iou",
        "unknown field (known: prediction_type)",
    ),
    "bad-setting-value": (
        "tasks/generation.yaml",
        _sub("prediction_type: auto", "prediction_type: sample"),
        "tasks/generation.yaml",
        "loss.prediction_type",
        "expected one of ['auto', 'epsilon', 'v_prediction']",
    ),
    "invalid-yaml": (
        "datasets/coco.yaml",
        _sub("anchors: [laptop,", "anchors: [laptop: {,"),
        "datasets/coco.yaml",
        f"line {_line_of('datasets/coco.yaml', 'anchors: [laptop,')}",
        "not valid YAML",
    ),
}


def _break(root: Path, rel: str, mutate) -> Path:
    path = root / rel
    path.write_text(mutate(path.read_text()))
    return path


@pytest.mark.parametrize("case", BAD)
def test_validate_reports_bad_spec(case, spec_copy, capsys):
    rel, mutate, named, field, expected = BAD[case]
    _break(spec_copy, rel, mutate)
    assert main(["validate", str(spec_copy)]) != 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert not out.startswith("ok")
    lines = err.strip().splitlines()
    wanted = f"{spec_copy / named}: {field}: "
    hits = [line for line in lines if line.startswith(wanted)]
    assert hits, f"no line starts with {wanted!r}:\n{err}"
    assert expected in hits[0]
    assert len(lines) == len(set(lines)), "each problem is reported once"


# anchors are checked against the tokenizer, metric names against vwbench.metrics (a layer above spec): both by
# `vwbench validate` and where they are used, not by the library
@pytest.mark.parametrize(
    "case",
    [
        c
        for c in BAD
        if c not in ("multi-token-anchor", "nonsense-anchor", "unknown-metric-name", "metric-of-another-kind")
    ],
)
def test_spec_library_raises_spec_error(case, spec_copy):
    """The library itself (not only the CLI) raises a SpecError carrying file, field and message."""
    rel, mutate, named, field, expected = BAD[case]
    _break(spec_copy, rel, mutate)
    lib = SpecLibrary(spec_copy)
    with pytest.raises(SpecError) as info:
        lib.validate_all()
    exc = info.value
    assert (exc.file, exc.field) == (str(spec_copy / named), field)
    assert expected in exc.message


def test_loss_and_metric_settings_of_schema_and_code_agree():
    """Each task kind's settings: the schema's keys and defaults are those the loader fills in (spec.SETTINGS)."""
    from vwbench.spec import SETTINGS, schema

    defs = schema("task")["$defs"]
    for kind, blocks in SETTINGS.items():
        for block, settings in blocks.items():
            props = defs[f"{kind}_{block}"]["properties"]
            assert defs[f"{kind}_{block}"]["additionalProperties"] is False
            assert {k: v.get("default") for k, v in props.items()} == settings, (kind, block)


def test_loaded_task_specs_hold_every_setting(spec_copy):
    lib = SpecLibrary(TASKS_DIR)
    assert lib.task("tiny-classification").loss == {"target_weight": -1.0, "other_weight": 1.0}
    assert lib.task("tiny-classification").metric == {
        "name": "auroc",
        "also": ["accuracy", "false_positive_rate"],
        "table": [],
    }
    assert lib.task("tiny-generation").metric == {
        "name": "generation_accuracy",
        "also": [],
        "table": [],
        "images_per_trial": 2,
        "inference_steps": 4,
        "guidance_scale": 3.0,
        "seed": 0,
        "batch_size": 16,
    }
    assert lib.task("micro-generation").metric["batch_size"] == 80
    assert lib.task("detection").loss == {"positive_iou": 0.5}
    # negatives_per_positive: "all" (the default, docs/metrics.md) or a positive integer
    named = {"name": "ap50", "also": ["map"], "table": []}
    assert SpecLibrary(spec_copy).task("tiny-detection").metric == {**named, "negatives_per_positive": "all"}
    _break(spec_copy, "tasks/detection.yaml", _sub("negatives_per_positive: all ", "negatives_per_positive: 1 "))
    assert SpecLibrary(spec_copy).task("tiny-detection").metric == {**named, "negatives_per_positive": 1}
    _break(spec_copy, "tasks/detection.yaml", _sub("negatives_per_positive: 1 ", "negatives_per_positive: 0 "))
    with pytest.raises(SpecError) as info:
        SpecLibrary(spec_copy).task("detection")
    assert info.value.field == "metric.negatives_per_positive"


def test_single_file_and_kind_folder_validate(spec_copy, capsys):
    assert main(["validate", str(spec_copy / "suites" / "tiny.yaml"), str(spec_copy / "datasets")]) == 0
    _break(spec_copy, "datasets/tiny-objects.yaml", _sub("anchor: circle}", "anchor: oval}"))
    assert main(["validate", str(spec_copy / "datasets" / "tiny-objects.yaml")]) == 1
    err = capsys.readouterr().err
    assert "tiny-objects.yaml: concepts[1].anchor:" in err


def test_validate_missing_path_and_non_spec_folder(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) != 0
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) != 0
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "not a spec folder" in err
    assert "Traceback" not in err


def test_specs_option_reaches_list_and_errors_are_one_line(spec_copy, capsys):
    """`--specs DIR` is honoured by list; a broken suite exits 2 with a single error line, no traceback."""
    assert main(["--specs", str(spec_copy), "list", "concepts", "--suite", "tiny"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("concepts")
    _break(
        spec_copy, "suites/tiny.yaml", _sub("datasets: [tiny-objects, tiny-scenes]", "datasets: [tiny-objects, nope]")
    )
    assert main(["--specs", str(spec_copy), "list", "concepts", "--suite", "tiny"]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.strip().count("\n") == 0
    assert f"{spec_copy / 'suites' / 'tiny.yaml'}: datasets[1]: unknown dataset 'nope'" in err


def test_missing_spec_root_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="spec folder not found"):
        SpecLibrary(tmp_path / "absent")


def test_suite_anchor_policy():
    ds = SpecLibrary(TASKS_DIR).dataset("imagenet")
    sombrero = ds.concept("sombrero")
    assert ds.anchors_for(sombrero, "own") == ["hat"]
    assert ds.anchors_for(sombrero, "all")[0] == "hat" and sorted(ds.anchors_for(sombrero, "all")) == sorted(ds.anchors)
    assert ds.anchors_for(sombrero, 3) == ["hat", "scuba", "strawberry"]
    # a list joins policies and literal words unrelated to every concept, own anchor first, no repeats
    assert ds.anchors_for(sombrero, ("own", "cat", "toy")) == ["hat", "cat", "toy"]
    assert ds.anchors_for(sombrero, (3, "hat", "toy")) == ["hat", "scuba", "strawberry", "toy"]
    assert ds.anchors_for(sombrero, ("all", "toy"))[-1] == "toy" and len(ds.anchors_for(sombrero, ("all", "toy"))) == 11


def test_list_anchor_policy_loads_and_bad_items_are_refused(spec_copy):
    path = spec_copy / "suites" / "words.yaml"
    path.write_text("extends: micro\nname: words\nanchors: [own, toy, sign]\n")
    assert SpecLibrary(spec_copy).suite("words").anchors == ("own", "toy", "sign")
    for bad in ("[own, 0]", "[]", "[own, own]"):
        path.write_text(f"extends: micro\nname: words\nanchors: {bad}\n")
        with pytest.raises(SpecError, match="anchors"):
            SpecLibrary(spec_copy).suite("words")


def test_list_suites_prints_a_list_anchor_policy_as_words(capsys):
    assert main(["list", "suites"]) == 0
    rows = {r[0]: r for r in _rows(capsys.readouterr().out)}
    assert rows["micro-grid"][4] == "own,toy,sign" and rows["micro-grid"][5] == "0.1,0.5,1.0"
    assert rows["micro"][4] == "own" and rows["paper"][4] == "all"


def test_list_suites_prints_a_list_policy_with_a_count(spec_copy, capsys):
    """A list policy may join a count of anchors with words (`[own, 2, toy]`); it prints as written."""
    (spec_copy / "suites" / "mixed.yaml").write_text(
        "extends: micro\nname: mixed\ndescription: x\nanchors: [own, 2, toy]\n"
    )
    assert main(["--specs", str(spec_copy), "list", "suites"]) == 0
    rows = {r[0]: r for r in _rows(capsys.readouterr().out)}
    assert rows["mixed"][4] == "own,2,toy"
