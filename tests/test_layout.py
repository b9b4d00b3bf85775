"""Tests mirror the package: a test module of vwbench/a/b.py sits in tests/a/ (or tests/a/b/ when b has several test
files), every test module has its own basename (pytest's rootdir import mode needs it), and the only other Python
files are conftest.py, __init__.py and *_fixtures.py helpers. Top-level tests (top-level modules, cross-cutting
checks) may sit in tests/ itself."""

from __future__ import annotations

from collections import Counter
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]

HELPERS = ("conftest.py", "__init__.py")


def layout_problems(test_files: list[str], package_files: list[str]) -> list[str]:
    """What breaks the mirror in `test_files` (paths under tests/) given the package's files (paths under vwbench/)."""
    packages = {PurePosixPath(p).parent.parts[1:] for p in package_files}  # every folder of vwbench/, () the root
    modules = {PurePosixPath(p).with_suffix("").parts[1:] for p in package_files if p.endswith(".py")}
    problems = []
    tests = []
    for path in map(PurePosixPath, test_files):
        folder = path.parent.parts[1:]
        if path.name.startswith("test_"):
            tests.append(path)
            if folder not in packages and folder not in modules:
                problems.append(f"{path}: tests/{'/'.join(folder)}/ mirrors no vwbench/ folder or module")
        elif path.name not in HELPERS and not path.name.endswith("_fixtures.py"):
            problems.append(f"{path}: neither a test module nor conftest.py, __init__.py or a *_fixtures.py helper")
    for name, n in Counter(p.name for p in tests).items():
        if n > 1:
            problems.append(f"{name}: {n} test modules share this basename")
    return problems


def _tree(folder: str) -> list[str]:
    root = REPO / folder
    return sorted(p.relative_to(REPO).as_posix() for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_tests_mirror_the_package():
    assert layout_problems(_tree("tests"), _tree("vwbench")) == []


def test_a_bad_layout_is_reported():
    package = ["vwbench/__init__.py", "vwbench/store.py", "vwbench/data/__init__.py", "vwbench/data/micro/world.py"]
    good = [
        "tests/test_store.py",
        "tests/store/test_store_api.py",
        "tests/data/micro/test_world.py",
        "tests/conftest.py",
    ]
    assert layout_problems(good + ["tests/data/vwdata_fixtures.py"], package) == []
    bad = [
        "tests/micro/test_sd.py",
        "tests/data/world/test_render.py",
        "tests/data/test_world.py",
        "tests/data/util.py",
    ]
    problems = layout_problems(good + bad, package)
    assert [p.split(":")[0] for p in problems] == [
        "tests/micro/test_sd.py",
        "tests/data/world/test_render.py",
        "tests/data/util.py",
        "test_world.py",
    ]
