"""The recipes of docs/ci.md and the README's tiny-suite tour, run exactly as written.

Each fenced bash block that uses the tiny suite runs with `bash -e` in a scratch directory laid out like the
checkout root (a copy of leaderboards/ and submissions/), with `vwbench` on PATH running this tree's code.
The committed golden files must come out of it unchanged: a run never writes into leaderboards/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vwbench.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)


def bash_blocks(doc: Path) -> list[str]:
    return FENCE.findall(doc.read_text(encoding="utf-8"))


def tiny_blocks(doc: Path) -> list[str]:
    return [b for b in bash_blocks(doc) if "--suite tiny" in b]


@pytest.fixture(scope="module")
def checkout_like(tmp_path_factory):
    """(scratch dir, env): leaderboards/ and submissions/ copied in; `vwbench` runs this tree, offline. One per
    module: the README tour reuses the store the ci.md recipe computed (see `ci_recipe`)."""
    tmp_path = tmp_path_factory.mktemp("checkout")
    for name in ("leaderboards", "submissions"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    shim = bin_dir / "vwbench"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m vwbench "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "VWBENCH_SPECS"}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        HF_HUB_OFFLINE="1",
        PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])]),
        # one intra-op thread, as in conftest.py: on a loaded 2-core machine the tiny run takes 1.5 min
        # with it and 15 min without (oversubscribed threads); the results are the same
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    return tmp_path, env


def run_block(block: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def golden_bytes(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / "leaderboards").rglob("*"))
        if p.is_file()
    }


def test_the_docs_have_the_tiny_recipes_the_tests_run():
    ci = tiny_blocks(REPO / "docs" / "ci.md")
    readme = tiny_blocks(REPO / "README.md")
    assert len(ci) == 1 and "vwbench check --against leaderboards/tiny/results.json" in ci[0]
    assert len(readme) == 1 and "vwbench check --against leaderboards/tiny/results.json" in readme[0]


def test_readme_setup_commands_stay_valid():
    """The README's first block is the two set-up commands; the run it names parses and uses known names."""
    first = bash_blocks(REPO / "README.md")[0].splitlines()
    assert first == ['pip install -e ".[dev]" && vwbench run --method linear_transfer', "python -m pytest -q"]
    assert "dev = [" in (REPO / "pyproject.toml").read_text()
    args = build_parser().parse_args(["run", "--method", "linear_transfer"])
    from vwbench.commands.run import DEFAULT_SUITE
    from vwbench.spec import SpecLibrary
    from vwbench.transfer import registry

    assert args.suite is None and SpecLibrary().suite(DEFAULT_SUITE).name == "micro"
    assert registry.get("linear_transfer") is not None


@pytest.fixture(scope="module")
def ci_recipe(checkout_like):
    """docs/ci.md's tiny recipe, run once as written (it recomputes every result: `--overwrite always`)."""
    cwd, env = checkout_like
    before = golden_bytes(cwd)
    (block,) = tiny_blocks(REPO / "docs" / "ci.md")
    return run_block(block, cwd, env), before


@pytest.mark.slow
def test_ci_md_tiny_recipe_runs_as_written(checkout_like, ci_recipe):
    cwd, _ = checkout_like
    res, before = ci_recipe
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "tiny: " in res.stdout and res.stdout.rstrip().endswith("ok")
    assert "REGRESSION" not in res.stdout and "MISSING" not in res.stdout
    assert (cwd / "runs" / "tiny" / "leaderboard" / "tiny" / "results.json").is_file()
    assert golden_bytes(cwd) == before


@pytest.mark.slow
def test_readme_tiny_tour_runs_as_written(checkout_like, ci_recipe):
    """The tour starts from the store the ci.md recipe filled (a user who ran it first), so its `run` computes
    only what the recipe did not: ridge, the submissions, the probe's δ = 0.1, the analyses."""
    cwd, env = checkout_like
    assert ci_recipe[0].returncode == 0
    before = golden_bytes(cwd)
    shutil.copytree(cwd / "runs" / "tiny", cwd / "vwbench-runs" / "tiny", ignore=shutil.ignore_patterns("leaderboard"))
    (block,) = tiny_blocks(REPO / "README.md")
    res = run_block(block, cwd, env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    tables = cwd / "vwbench-runs" / "tiny" / "leaderboard"
    assert (tables / "tiny" / "results.json").is_file()
    assert (tables / "tiny+example-embeddings" / "results.json").is_file()
    assert golden_bytes(cwd) == before
