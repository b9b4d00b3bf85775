"""Device resolution: clear one-line errors."""

from __future__ import annotations

import pytest
import torch

from vwbench.errors import VWBenchError
from vwbench.models.factory import resolve_device


def test_cuda_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for dev in ("cuda", "cuda:1"):
        with pytest.raises(VWBenchError, match="no CUDA device") as exc:
            resolve_device(dev)
        assert "\n" not in str(exc.value)
    assert resolve_device(None) == torch.device("cpu")


@pytest.mark.parametrize("dev", ["gpu", "tpu:0", "", "mps"])
def test_unknown_or_unsupported_device(dev):
    with pytest.raises(VWBenchError) as exc:
        resolve_device(dev)
    msg = str(exc.value)
    assert "\n" not in msg and "cpu or cuda" in msg


def test_cpu():
    assert resolve_device("cpu") == torch.device("cpu")
