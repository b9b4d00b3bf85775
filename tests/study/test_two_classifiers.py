"""Two models of one kind in one suite (issue #17): tiny-two-classifiers holds open_clip's and transformers' tiny
CLIPs as classifiers, each with its own row and column in the transfer matrix, end to end on CPU."""

from __future__ import annotations

import json

from vwbench.cli import main
from vwbench.spec import SpecLibrary

NAMES = ("generation", "detection", "classification", "hf-classification")


def test_the_suite_names_its_second_classifier():
    suite = SpecLibrary().suite("tiny-two-classifiers")
    assert [t.label for t in suite.tasks] == list(NAMES)
    assert [t.task for t in suite.tasks][2:] == ["classification", "classification"]
    assert suite.task("hf-classification").family == "hf_clip" and suite.kind("hf-classification") == "classification"


def test_two_classifiers_run_end_to_end_with_a_4x4_matrix(tmp_path, capsys):
    out = tmp_path / "lb"
    args = [
        "run",
        "--suite",
        "tiny-two-classifiers",
        "--method",
        "linear_transfer",
        "--steps",
        "2",
        "--concept",
        "red_square",
        "--no-controls",
        "--no-deltas",
        "--store",
        str(tmp_path / "s"),
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0, capsys.readouterr().err
    doc = json.loads((out / "results.json").read_text())
    cells = doc["cells"]
    for a in NAMES:
        for b in NAMES:
            method = "in_domain" if a == b else "linear_transfer"
            cell = cells[f"matrix/tiny-objects/{a}->{b}/{method}"]
            assert (cell["train_task"], cell["eval_task"], cell["n"]) == (a, b, 3)  # one concept, three anchors
    # the second classifier is scored as a classifier (the kind decides the metric and chance level) ...
    hf = cells["matrix/tiny-objects/hf-classification->hf-classification/in_domain"]
    oc = cells["matrix/tiny-objects/classification->classification/in_domain"]
    assert hf["metric"] == oc["metric"] == "auroc" and hf["chance"] == oc["chance"] == 0.5
    # ... by its own model: its words and scores are not the open_clip classifier's
    assert hf["mean"] != oc["mean"]
    header = next(line for line in (out / "leaderboard.md").read_text().splitlines() if line.startswith("| trained"))
    assert [c.strip() for c in header.strip("|").split("|")][1:] == list(NAMES)
