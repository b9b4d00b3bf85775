"""Controls are scored on the same trials as the methods, stored, reused, and shown in every table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vwbench.cli import main
from vwbench.errors import SpecError
from vwbench.spec import SpecLibrary

SUITE = """
name: ctl
tasks: [tiny-generation, tiny-detection, tiny-classification]
datasets: [tiny-objects]
anchors: own
deltas: [0.5]
train: {steps: 2, lr: 0.05, batch_size: 4, seed: 0, concepts_per_batch: 9}
controls: [anchor, constant, random_map]
"""


def specs_with(make_specs, tmp_path, text=SUITE) -> Path:
    return make_specs(tmp_path / "specs", ctl=text)


def test_controls_are_scored_stored_and_reported(make_specs, tmp_path, capsys):
    specs, store, out = specs_with(make_specs, tmp_path), tmp_path / "store", tmp_path / "lb"
    args = ["--specs", str(specs), "run", "--suite", "ctl", "--store", str(store), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    doc = json.loads((out / "results.json").read_text())
    methods = {c["method"] for c in doc["cells"].values()}
    assert {"in_domain", "linear_transfer", "anchor", "anchor+linear_transfer", "constant", "random_map"} == methods
    # 3 concepts: in-domain 18 words, 36 per transfer method (3 of them), the anchor 9 in-domain + 18 transferred
    assert doc["n_scores"] == 18 + 3 * 36 + 9 + 18
    # the constant control is one vector per target model: evaluated once per concept, reused for the rest
    text = capsys.readouterr().out
    assert "evaluations" in text
    # every control in the leaderboard, marked as such, and nothing ranked for the anchor labels
    board = {r["method"]: r for r in doc["method_leaderboard"]}
    assert set(board) == {"linear_transfer", "constant", "random_map"}
    assert board["constant"]["control"] and not board["linear_transfer"]["control"]
    assert all("anchor" in e["versus"] for r in board.values() for e in r["directions"].values())
    md = (out / "leaderboard.md").read_text()
    assert "anchor, untrained" in md and "### Controls: tiny-objects" in md and "δ = 0 (anchor)" in md
    assert "constant (control)" in md and "Per concept: tiny-objects" in md
    # a rerun reuses every control score
    assert main(args) == 0
    assert "computed nothing" in capsys.readouterr().out


def test_no_controls_flag(make_specs, tmp_path):
    specs, out = specs_with(make_specs, tmp_path), tmp_path / "lb"
    assert (
        main(
            [
                "--specs",
                str(specs),
                "run",
                "--suite",
                "ctl",
                "--store",
                str(tmp_path / "s"),
                "--out",
                str(out),
                "--no-progress",
                "--no-deltas",
                "--no-controls",
                "--task",
                "detection",
                "--task",
                "classification",
            ]
        )
        == 0
    )
    doc = json.loads((out / "results.json").read_text())
    assert {c["method"] for c in doc["cells"].values()} == {"in_domain", "linear_transfer"}


def test_unknown_control_names_file_and_field(make_specs, tmp_path):
    specs = specs_with(make_specs, tmp_path, SUITE.replace("random_map]", "randmap]"))
    with pytest.raises(SpecError) as err:
        SpecLibrary(specs).suite("ctl")
    assert "ctl.yaml" in str(err.value) and "controls[2]" in str(err.value) and "random_map" in str(err.value)
