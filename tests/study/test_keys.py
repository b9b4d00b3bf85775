"""Results are reused only when nothing they depend on changed (issue #14): a method's code, vwbench's own code,
a manifest's content (tests/data/test_manifest_keys.py)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from vwbench.cli import main

REPO = Path(__file__).resolve().parents[2]
# two tasks (no diffusion sampling), one dataset, own anchors, no δ: 6 vectors, 6 in-domain + 6 transferred scores
KEYS = """
name: keys
tasks: [tiny-detection, tiny-classification]
datasets: [tiny-objects]
anchors: own
train: {steps: 2, lr: 0.05, batch_size: 4, seed: 0, concepts_per_batch: 9}
"""
METHOD = "example-centered-lstsq"


def run_cli(specs, store, out, *args) -> int:
    return main(["--specs", str(specs), "run", "--suite", "keys", "--store", str(store), "--out", str(out),
                 "--no-progress", *args])


def scores(store: Path, suite: str = "keys") -> dict:
    with sqlite3.connect(store / "results.sqlite") as db:
        rows = db.execute("SELECT concept, train_task, eval_task, method, value, run_id FROM scores WHERE suite = ? "
                          "ORDER BY created", (suite,)).fetchall()
    return {r[:4]: (r[4], r[5]) for r in rows}      # the latest per trial and evaluation


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """The keys suite run once with a copy of the example method submission: (specs, method folder, store)."""
    root = tmp_path_factory.mktemp("keys")
    specs = root / "specs"
    shutil.copytree(REPO / "tasks", specs)
    (specs / "suites" / "keys.yaml").write_text(KEYS)
    method = root / "method"
    shutil.copytree(REPO / "submissions" / "example-method", method)
    store = root / "store"
    assert run_cli(specs, store, root / "lb", "--method", str(method)) == 0
    return specs, method, store


@pytest.fixture
def fresh(first, tmp_path):
    """A private copy of the first run's store and method folder."""
    specs, method, store = first
    shutil.copytree(store, tmp_path / "store")
    shutil.copytree(method, tmp_path / "method")
    return specs, tmp_path / "method", tmp_path / "store"


def test_changed_method_code_is_recomputed_and_the_rerun_says_why(fresh, tmp_path, capsys):
    specs, method, store = fresh
    capsys.readouterr()
    assert run_cli(specs, store, tmp_path / "lb", "--method", str(method)) == 0
    out = capsys.readouterr().out
    assert "computed nothing; reused 6 vectors, 12 scores" in out and "older code" not in out
    before = scores(store)

    # the defect of issue #14: map() made a constant, version bumped, and every score was reused
    code = (method / "method.py").read_text()
    assert "return (V - self.mu_y) @ self.T + self.mu_x" in code
    (method / "method.py").write_text(code.replace("return (V - self.mu_y) @ self.T + self.mu_x",
                                                   "return self.mu_x.expand(V.shape[0], -1).clone()"))
    manifest = (method / "submission.yaml").read_text()
    (method / "submission.yaml").write_text(manifest.replace('version: "1.0.0"', 'version: "1.0.1"'))
    assert run_cli(specs, store, tmp_path / "lb", "--method", str(method)) == 0
    out = capsys.readouterr().out
    assert "computed 6 scores; reused 6 vectors, 6 scores" in out
    note = next(line for line in out.splitlines() if "older code or settings" in line)
    assert note.startswith("6 scores in the store came from older code or settings and were recomputed")
    assert f"code of method {METHOD}" in note and "'1.0.0' -> '1.0.1'" in note
    after = scores(store)
    transferred = [k for k in after if k[3] == METHOD]
    assert len(transferred) == 6 and all(after[k][1] != before[k][1] for k in transferred)   # a new run's
    assert [k for k in after if after[k] != before[k]] == transferred        # in-domain scores were kept
    assert any(after[k][0] != before[k][0] for k in transferred)             # and the numbers moved

    assert run_cli(specs, store, tmp_path / "lb", "--method", str(method)) == 0
    assert "computed nothing; reused 6 vectors, 12 scores" in capsys.readouterr().out
