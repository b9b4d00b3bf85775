"""benchmarks/gpu_check.py, the GPU readiness check, end to end at tiny sizes on CPU."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_a_report_with_speed_numerics_and_projection(gpu_check, tmp_path, capsys):
    assert gpu_check.main(["--tiny", "--device", "cpu", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    text = (tmp_path / "gpu_check.txt").read_text()
    assert [r["task"] for r in result["results"]] == ["generation", "detection", "classification"]
    for r in result["results"]:
        s, n = r["speed"], r["numerics"]
        assert s["steps_per_s"] > 0 and s["k"] >= 1 and s["timed_steps"] >= 1
        assert math.isclose(s["words_per_s"], s["steps_per_s"] * s["k"] / 1000)
        # bf16 weights against the same weights in float32, same cached features and batch: close, not equal
        assert n["ok"] and 0 < n["grad_rel_diff"] < 0.1 and n["grad_cosine"] > 0.99
        assert 0 <= n["cache_rel_diff"] < 0.1 and math.isfinite(n["loss_rel_diff"])
        assert r["dtype"] == "bfloat16" and r["eval_s_per_word"] > 0
    # the block `vwbench plan` reads, at the paper configuration (K capped at 2 by --tiny)
    assert set(result) >= {"device", "date", "tasks"} and result["date"].endswith("Z")
    assert list(result["tasks"]) == ["tiny-generation", "tiny-detection", "tiny-classification"]
    for t in result["tasks"].values():
        assert set(t) >= {"peak_memory_gib", "concepts_per_batch", "micro_batch", "dtype", "step_s", "eval_s_per_word"}
        assert isinstance(t["peak_memory_gib"], float) and t["peak_memory_gib"] > 0 and t["dtype"] == "bfloat16"
        assert t["concepts_per_batch"] == 2 and t["step_s"] > 0
    gen = result["tasks"]["tiny-generation"]
    assert gen["micro_batch"] == 8 and gen["gradient_checkpointing"] is True  # generation.yaml's train block
    assert result["tasks"]["tiny-detection"]["micro_batch"] is None
    proj = result["projection"]
    expected = sum(1600 * 1000 / (r["speed"]["steps_per_s"] * r["speed"]["k"]) / 3600 for r in result["results"])
    assert math.isclose(proj["hours_total"], expected)
    assert "1600 words x 1000 steps / (steps_per_s_f x K_f)" in text and "Projected" in text
    assert "classification" in printed


def test_bad_arguments_exit_with_a_usage_error(gpu_check):
    with pytest.raises(SystemExit) as info:
        gpu_check.main(["--tiny", "--only", "segmentation"])
    assert info.value.code == 2


def test_out_of_memory_halves_the_micro_batch(gpu_check, tmp_path, monkeypatch):
    import torch

    real = gpu_check.speed

    def speed(model, data, ds, cfg, *rest):
        if cfg.micro_batch is None or cfg.micro_batch > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
        return real(model, data, ds, cfg, *rest)

    monkeypatch.setattr(gpu_check, "speed", speed)
    assert gpu_check.main(["--tiny", "--device", "cpu", "--only", "classification", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    (r,) = result["results"]
    assert r["oom_at_micro_batch"] == [2] and r["speed"]["k"] == 2 and r["speed"]["micro_batch"] == 1
    assert result["tasks"]["tiny-classification"]["micro_batch"] == 1
    assert "out of memory at micro-batch" in (tmp_path / "gpu_check.txt").read_text()
