"""`vwbench run --embeddings DIR` through the CLI: the README's example runs the suite its manifest names; a
submission for another suite is one line naming the mismatch, checked before any store exists."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vwbench.cli import main
from vwbench.errors import VWBenchError

EXAMPLE = Path(__file__).resolve().parent.parent / "submissions" / "example-embeddings"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working directory holding a copy of the example submission at submissions/example-embeddings."""
    shutil.copytree(EXAMPLE, tmp_path / "submissions" / "example-embeddings")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def created(workdir: Path) -> list[str]:
    return sorted(p.name for p in workdir.iterdir() if p.name != "submissions")


def test_readme_example_runs_the_suite_its_manifest_names(workdir, capsys):
    assert main(["run", "--embeddings", "submissions/example-embeddings", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "tiny-objects (linear_transfer" in out
    results = workdir / "vwbench-runs" / "tiny" / "leaderboard" / "tiny+example-embeddings" / "results.json"
    doc = json.loads(results.read_text())
    assert doc["suite"] == "tiny+example-embeddings"
    # 55 submitted vectors (54 unconstrained, one at δ = 0.5), each scored in its own task and transferred
    # 55 vectors (54 unconstrained): in-domain and linear_transfer 55·3, the three control methods 3·55·2,
    # the untrained anchor of the 54 unconstrained trials in-domain and transferred 54·3
    assert doc["n_scores"] == 55 * 3 + 3 * 55 * 2 + 54 * 3
    assert created(workdir) == ["vwbench-runs"]


@pytest.mark.parametrize("manifest_suite", ["tiny", None])
def test_submission_for_another_suite_is_one_line_and_creates_no_store(workdir, capsys, manifest_suite):
    manifest = workdir / "submissions" / "example-embeddings" / "submission.yaml"
    if manifest_suite is None:  # a manifest that names no suite falls back to the default (micro)
        manifest.write_text(manifest.read_text().replace("suite: tiny\n", ""))
        args = ["run", "--embeddings", "submissions/example-embeddings"]
    else:
        args = ["run", "--embeddings", "submissions/example-embeddings", "--suite", "micro"]
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "KeyError" not in err
    assert lines[0].startswith("vwbench run: error: submission example-embeddings: ")
    assert "task 'tiny-generation', which suite 'micro' does not have" in lines[0]
    assert ("pass --suite tiny" in lines[0]) == (manifest_suite == "tiny")
    assert created(workdir) == []


@pytest.mark.parametrize("damage", ["missing-file", "not-a-submission", "method"])
def test_bad_embeddings_input_creates_no_store(workdir, capsys, damage):
    sub = workdir / "submissions" / "example-embeddings"
    path = "submissions/example-embeddings"
    if damage == "missing-file":
        (sub / "tiny-detection.safetensors").unlink()
    elif damage == "not-a-submission":
        path = "submissions"
    else:
        shutil.copytree(EXAMPLE.parent / "example-method", workdir / "submissions" / "m")
        path = "submissions/m"
    assert main(["run", "--embeddings", path, "--suite", "tiny"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert created(workdir) == []


def test_study_with_a_mismatched_submission_raises_a_one_line_error():
    from vwbench.spec import SpecLibrary
    from vwbench.study import Study, StudyOptions

    micro = SpecLibrary().suite("micro")
    with pytest.raises(VWBenchError, match="which suite 'micro' does not have"):
        Study(micro, None, StudyOptions(embeddings=str(EXAMPLE), device="cpu"))
