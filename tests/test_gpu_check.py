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
    proj = result["projection"]
    expected = sum(1600 * 1000 / (r["speed"]["steps_per_s"] * r["speed"]["k"]) / 3600 for r in result["results"])
    assert math.isclose(proj["hours_total"], expected)
    assert "1600 words x 1000 steps / (steps_per_s_f x K_f)" in text and "Projected" in text
    assert "classification" in printed


def test_bad_arguments_exit_with_a_usage_error(gpu_check):
    with pytest.raises(SystemExit) as info:
        gpu_check.main(["--tiny", "--only", "segmentation"])
    assert info.value.code == 2


def test_out_of_memory_falls_back_to_a_smaller_k(gpu_check, tmp_path, monkeypatch):
    import torch

    real = gpu_check.speed

    def speed(model, data, ds, k, *rest):
        if k > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
        return real(model, data, ds, k, *rest)

    monkeypatch.setattr(gpu_check, "speed", speed)
    assert gpu_check.main(["--tiny", "--device", "cpu", "--only", "classification", "--out", str(tmp_path)]) == 0
    (r,) = json.loads((tmp_path / "gpu_check.json").read_text())["results"]
    assert r["oom_at_k"] == [2] and r["speed"]["k"] == 1
    assert "out of memory at K" in (tmp_path / "gpu_check.txt").read_text()
