"""The package installed from a wheel (not editable) finds its shipped specs from any working directory, and
`--specs` / `VWBENCH_SPECS` still point it at another spec folder. Offline: builds with --no-build-isolation
and installs with --no-deps --no-index into a target folder that reuses this environment's packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

EXTRA_SUITE = """
name: only-here
description: a suite that exists only in the overriding spec folder
tasks: [tiny-generation, tiny-detection, tiny-classification]
datasets: [tiny-objects]
anchors: own
train: {steps: 1, lr: 0.05, batch_size: 4, seed: 0}
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(target folder with the installed wheel, the wheel file)."""
    pytest.importorskip("setuptools")
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "vwbench", src / "vwbench", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels, target = base / "wheels", base / "target"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(wheels),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("vwbench-*.whl")
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert inst.returncode == 0, inst.stderr
    return target, wheel


def run_installed(target: Path, cwd: Path, *args: str, env_extra: dict | None = None):
    env = {k: v for k, v in os.environ.items() if k not in ("VWBENCH_SPECS", "PYTHONPATH")}
    env.update({"PYTHONPATH": str(target), "HF_HUB_OFFLINE": "1", **(env_extra or {})})
    return subprocess.run(
        [str(target / "bin" / "vwbench"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_wheel_ships_every_spec(installed):
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "vwbench" / "specs").glob("*/*.yaml"))
    assert shipped and {"vwbench/specs/suites/tiny.yaml", "vwbench/specs/tasks/tiny-generation.yaml"} <= set(shipped)
    assert [n for n in shipped if n not in names] == []


def test_installed_wheel_lists_suites_from_another_directory(installed, tmp_path):
    target, _ = installed
    where = run_installed(target, tmp_path, "--version")
    assert where.returncode == 0, where.stderr
    env = {k: v for k, v in os.environ.items() if k != "VWBENCH_SPECS"} | {"PYTHONPATH": str(target)}
    code = "import vwbench.spec as s; print(s.__file__); print(s.default_spec_root())"
    origin = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    module, root = origin.stdout.split()
    assert Path(module).is_relative_to(target) and Path(root) == target / "vwbench" / "specs"
    out = run_installed(target, tmp_path, "list", "suites")
    assert out.returncode == 0, out.stderr
    names = {line.split()[0] for line in out.stdout.splitlines()[2:] if line.strip()}
    assert {"micro", "micro-full", "paper", "tiny"} <= names and "only-here" not in names
    assert not list(tmp_path.iterdir())  # listing writes nothing into the working directory


def test_installed_wheel_honours_specs_and_env_override(installed, tmp_path, spec_copy):
    target, _ = installed
    (spec_copy / "suites" / "only-here.yaml").write_text(EXTRA_SUITE)
    by_flag = run_installed(target, tmp_path, "--specs", str(spec_copy), "list", "suites")
    by_env = run_installed(target, tmp_path, "list", "suites", env_extra={"VWBENCH_SPECS": str(spec_copy)})
    for res in (by_flag, by_env):
        assert res.returncode == 0, res.stderr
        assert "only-here" in res.stdout
    missing = run_installed(target, tmp_path, "--specs", str(tmp_path / "nope"), "list", "suites")
    assert missing.returncode == 2 and "spec folder not found" in missing.stderr
    assert "Traceback" not in missing.stderr
