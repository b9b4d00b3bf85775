"""`--suite FILE`: a suite YAML anywhere, its tasks, datasets and `extends` resolved against the spec root."""

from __future__ import annotations

import pytest

from vwbench.cli import main
from vwbench.errors import SpecError
from vwbench.spec import SpecLibrary

OWN = """
name: my-suite
description: one dataset of the tiny world
tasks: [tiny-generation, tiny-detection, tiny-classification]
datasets: [tiny-scenes]
anchors: own
train: {steps: 3, lr: 0.05, batch_size: 4, seed: 7}
"""

EXTENDING = """
extends: tiny
name: tiny-fast
train: {steps: 2}
"""


def test_suite_from_a_file_outside_the_spec_root(tmp_path):
    f = tmp_path / "elsewhere" / "suite.yaml"
    f.parent.mkdir()
    f.write_text(OWN)
    lib = SpecLibrary()
    for ref in (str(f), f):
        s = lib.suite(ref)
        assert s.name == "my-suite" and s.path == str(f)
        assert [d.name for d in s.datasets] == ["tiny-scenes"] and s.train.steps == 3 and s.train.seed == 7
        assert s.task("generation").source == str(lib.path("tasks", "tiny-generation"))
    # a bare name still means the spec root's suite, not a file
    assert lib.suite("tiny").path == str(lib.path("suites", "tiny"))


def test_suite_file_extends_a_suite_of_the_spec_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fast.yml").write_text(EXTENDING)
    s = SpecLibrary().suite("fast.yml")  # a relative file name, found by its suffix
    tiny = SpecLibrary().suite("tiny")
    assert s.name == "tiny-fast" and s.train.steps == 2
    assert s.train.lr == tiny.train.lr and [d.name for d in s.datasets] == [d.name for d in tiny.datasets]
    assert s.deltas == tiny.deltas


def test_suite_file_with_an_unknown_task_names_the_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(OWN.replace("tiny-detection", "tiny-detektion"))
    with pytest.raises(SpecError, match=r"bad\.yaml: tasks\[1\]: unknown task 'tiny-detektion'"):
        SpecLibrary().suite(str(f))


def test_list_concepts_of_a_suite_file(tmp_path, capsys):
    f = tmp_path / "suite.yaml"
    f.write_text(OWN)
    assert main(["list", "concepts", "--suite", str(f)]) == 0
    out = capsys.readouterr().out
    assert "yellow_star" in out and "red_square" not in out  # tiny-scenes only, not the tiny suite's objects


@pytest.mark.parametrize("cmd", ["list", "run", "probe"])
def test_missing_suite_file_is_a_one_line_error_and_writes_nothing(cmd, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = {"list": ["list", "concepts"], "run": ["run", "--no-progress"], "probe": ["probe", "--no-progress"]}[cmd]
    assert main([*args, "--suite", "nowhere/suite.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"vwbench {cmd}: error: nowhere/suite.yaml: <root>: suite file not found"
    assert list(tmp_path.iterdir()) == []
