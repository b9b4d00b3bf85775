"""Micro zoo weights: fp16 safetensors that keep only trained token rows, and load back."""

import torch
from safetensors.torch import load_file

from vwbench.models.micro.store import fingerprint, load_weights, save_weights
from vwbench.tokenizer import VOCAB_SIZE


def test_round_trip_keeps_trained_rows_and_refills_the_rest_deterministically(tmp_path):
    g = torch.Generator().manual_seed(0)
    state = {
        "emb.weight": torch.randn(VOCAB_SIZE, 8, generator=g),
        "lin.weight": torch.randn(4, 8, generator=g),
        "steps": torch.tensor(3),
    }
    trained = [5, 320, 1000]
    save_weights("m", state, {"width": 8}, trained, tmp_path)
    raw = load_file(str(tmp_path / "m.safetensors"))
    assert raw["emb.weight.rows"].shape == (3, 8) and raw["emb.weight.ids"].tolist() == trained
    assert "emb.weight" not in raw and raw["lin.weight"].dtype == torch.float16
    loaded, meta = load_weights("m", tmp_path)
    assert meta["config"] == {"width": 8} and meta["trained_ids"] == trained
    assert torch.allclose(loaded["emb.weight"][trained], state["emb.weight"][trained], atol=2e-3)
    assert torch.allclose(loaded["lin.weight"], state["lin.weight"], atol=2e-3)
    assert loaded["steps"].item() == 3
    again, _ = load_weights("m", tmp_path)
    assert torch.equal(again["emb.weight"], loaded["emb.weight"])
    # the file is small: 3 of 49,408 rows
    assert (tmp_path / "m.safetensors").stat().st_size < 4000
    assert len(fingerprint("m", tmp_path)) == 64
