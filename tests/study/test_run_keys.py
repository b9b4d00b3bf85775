"""Results are reused only when nothing they depend on changed (issue #14): a method's code, vwbench's own code,
a manifest's content (tests/data/test_manifest_keys.py); runs with overridden settings are their own variant,
apart from the suite's; runs and vectors record the provenance of the models that made them."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch

from vwbench.cli import main

REPO = Path(__file__).resolve().parents[2]
# two tasks (no diffusion sampling), one dataset, own anchors, no δ: 6 vectors, 6 in-domain + 6 transferred scores
KEYS = """
name: keys
tasks: [tiny-detection, tiny-classification]
datasets: [tiny-objects]
anchors: own
train: {steps: 2, lr: 0.05, batch_size: 4, seed: 0, concepts_per_batch: 9}
controls: []                   # tests/study/test_controls.py runs them
"""
METHOD = "example-centered-lstsq"


def run_cli(specs, store, out, *args) -> int:
    return main(
        [
            "--specs",
            str(specs),
            "run",
            "--suite",
            "keys",
            "--store",
            str(store),
            "--out",
            str(out),
            "--no-progress",
            *args,
        ]
    )


def scores(store: Path, suite: str = "keys") -> dict:
    with sqlite3.connect(store / "results.sqlite") as db:
        rows = db.execute(
            "SELECT concept, train_task, eval_task, method, value, run_id FROM scores WHERE suite = ? ORDER BY created",
            (suite,),
        ).fetchall()
    return {r[:4]: (r[4], r[5]) for r in rows}  # the latest per trial and evaluation


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """The keys suite run once with a copy of the example method submission: (specs, method folder, store)."""
    root = tmp_path_factory.mktemp("keys")
    specs = root / "specs"
    shutil.copytree(REPO / "vwbench" / "specs", specs)
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
    (method / "method.py").write_text(
        code.replace("return (V - self.mu_y) @ self.T + self.mu_x", "return self.mu_x.expand(V.shape[0], -1).clone()")
    )
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
    assert len(transferred) == 6 and all(after[k][1] != before[k][1] for k in transferred)  # a new run's
    assert [k for k in after if after[k] != before[k]] == transferred  # in-domain scores were kept
    assert any(after[k][0] != before[k][0] for k in transferred)  # and the numbers moved

    assert run_cli(specs, store, tmp_path / "lb", "--method", str(method)) == 0
    assert "computed nothing; reused 6 vectors, 12 scores" in capsys.readouterr().out


def test_runs_record_model_provenance(first):
    from vwbench.store import Store

    _, _, store = first
    with Store(store, create=False) as s:
        runs = s.runs("keys")
        prov = s.provenance("keys")
        vectors = s.vectors("keys")
    assert len(runs) == 1 and runs[0]["meta"]["depends"]["methods"][METHOD]["version"] == "1.0.0"
    assert set(prov) == {"tiny-detection", "tiny-classification"}
    assert prov["tiny-detection"] == [
        {"id": "tiny:owlv2", "revision": None, "family": "owlv2", "dtype": "float32", "device": "cpu"}
    ]
    assert len(vectors) == 6
    assert {v[2]["provenance"]["id"] for v in vectors} == {"tiny:owlv2", "tiny:open_clip"}


def leaderboard(specs, store, out) -> dict:
    assert (
        main(["--specs", str(specs), "leaderboard", "--store", str(store), "--suite", "keys", "--out", str(out)]) == 0
    )
    return json.loads((out / "results.json").read_text())


def test_a_steps_override_is_its_own_variant(fresh, tmp_path, capsys):
    specs, method, store = fresh
    suite_before = leaderboard(specs, store, tmp_path / "before")
    assert run_cli(specs, store, tmp_path / "variant", "--method", str(method), "--steps", "1") == 0
    out = capsys.readouterr().out
    assert "computed 6 vectors, 12 scores" in out and "older code" not in out
    # the suite's own tables are unchanged, cell by cell, and nothing was superseded
    suite_after = leaderboard(specs, store, tmp_path / "after")
    assert suite_after["cells"] == suite_before["cells"] and suite_after["superseded"] == 0
    variant = json.loads((tmp_path / "variant" / "results.json").read_text())
    assert variant["suite"] == "keys@steps=1" and variant["n_scores"] == 12 and variant["superseded"] == 0
    assert (tmp_path / "variant" / "leaderboard.md").read_text().startswith("# vwbench leaderboard: keys@steps=1")
    assert variant["cells"] != suite_before["cells"]
    with sqlite3.connect(store / "results.sqlite") as db:
        steps = dict(db.execute("SELECT suite, json_extract(meta_json, '$.steps') FROM vectors GROUP BY suite"))
    assert steps == {"keys": 2, "keys@steps=1": 1}
    # the suite's own number of steps is no override: everything is reused from the suite's records
    assert run_cli(specs, store, tmp_path / "again", "--method", str(method), "--steps", "2") == 0
    assert "computed nothing; reused 6 vectors, 12 scores" in capsys.readouterr().out


def test_lr_and_batch_size_flags_are_a_variant_that_trains_differently(fresh, tmp_path, capsys):
    from vwbench.store import Store

    specs, method, store = fresh
    capsys.readouterr()
    assert run_cli(specs, store, tmp_path / "v", "--method", str(method), "--lr", "0.5", "--batch-size", "1") == 0
    assert "computed 6 vectors, 12 scores" in capsys.readouterr().out
    assert json.loads((tmp_path / "v" / "results.json").read_text())["suite"] == "keys@lr=0.5,batch_size=1"
    with Store(store, create=False) as s:
        suite, variant = (
            {(t.concept, t.train_task): s.get_vector(key)[0] for key, t, _ in s.vectors(name)}
            for name in ("keys", "keys@lr=0.5,batch_size=1")
        )
    assert suite.keys() == variant.keys() and len(suite) == 6
    assert all(not torch.allclose(suite[k], variant[k]) for k in suite)
    # the suite's own values are no override
    assert run_cli(specs, store, tmp_path / "again", "--method", str(method), "--lr", "0.05", "--batch-size", "4") == 0
    assert "computed nothing; reused 6 vectors, 12 scores" in capsys.readouterr().out


def test_conflicting_overrides_are_one_line_errors(first, tmp_path, capsys):
    from vwbench.spec import SpecLibrary
    from vwbench.study import StudyOptions, resolve_overrides, variant_name

    specs, _, _ = first
    suite = SpecLibrary(specs).suite("keys")
    assert resolve_overrides(suite, StudyOptions(steps=5, overrides={"steps": 5, "lr": 0.05})) == {"steps": 5}
    assert variant_name("keys", {"seed": 3, "steps": 5, "lr": 0.01}) == "keys@steps=5,lr=0.01,seed=3"
    for options, message in [
        (StudyOptions(steps=5, overrides={"steps": 10}), "conflicting overrides: steps=5 and steps=10"),
        (StudyOptions(overrides={"betas": [0.5, 0.5]}), "cannot override betas"),
        (StudyOptions(overrides={"steps": 2.5}), "expected an integer"),
        (StudyOptions(overrides={"lr": -1}), "must be positive"),
    ]:
        with pytest.raises(Exception, match=message):
            resolve_overrides(suite, options)
    rc = main(
        [
            "--specs",
            str(specs),
            "run",
            "--suite",
            "tiny",
            "--store",
            str(tmp_path / "s"),
            "--no-progress",
            "--embeddings",
            str(REPO / "submissions" / "example-embeddings"),
            "--steps",
            "5",
        ]
    )
    err = capsys.readouterr().err
    assert rc != 0 and "Traceback" not in err and err.strip().count("\n") == 0
    assert "steps=5 cannot apply to an embeddings submission" in err
