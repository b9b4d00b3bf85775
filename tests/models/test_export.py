"""Learned words as diffusers textual-inversion files."""

from __future__ import annotations

import os

import pytest
import torch

from vwbench.errors import VWBenchError
from vwbench.export import load_embedding, save_embedding

META = {"model_id": "tiny:sd", "revision": None, "concept": "red_square", "anchor": "square", "delta": 0.5,
        "seed": 0, "steps": 3}


def test_round_trip(tmp_path):
    v = torch.randn(2, 32, dtype=torch.float64)
    path = save_embedding(tmp_path / "a" / "w.safetensors", v, "<red_square>", META)
    e = load_embedding(path)
    assert e.token == "<red_square>"
    assert e.vector.dtype == torch.float32 and torch.equal(e.vector, v.float())
    assert e.metadata["concept"] == "red_square" and e.metadata["delta"] == "0.5"
    assert e.metadata["revision"] == "null" and e.metadata["steps"] == "3"
    assert os.listdir(path.parent) == ["w.safetensors"]          # no temp file left behind


def test_raw_format_is_single_key(tmp_path):
    from safetensors.torch import load_file

    path = save_embedding(tmp_path / "w.safetensors", torch.ones(32), "<w>", {})
    tensors = load_file(str(path))
    assert list(tensors) == ["<w>"] and tensors["<w>"].shape == (1, 32) and tensors["<w>"].dtype == torch.float32


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    import safetensors.torch

    path = save_embedding(tmp_path / "w.safetensors", torch.ones(1, 8), "<w>", {})
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(OSError):
        save_embedding(path, torch.zeros(1, 8), "<w>", {})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["w.safetensors"]


@pytest.mark.parametrize("bad", [torch.full((1, 4), float("nan")), torch.zeros(2, 2, 2)])
def test_bad_vectors_are_refused(tmp_path, bad):
    with pytest.raises(VWBenchError):
        save_embedding(tmp_path / "w.safetensors", bad, "<w>", {})
    assert not list(tmp_path.iterdir())


def test_load_textual_inversion_in_diffusers(tmp_path):
    from transformers import CLIPTokenizer

    from vwbench.models import zoo
    from vwbench.tokenizer import VOCAB_SIZE, tokenizer_folder

    pipe, _ = zoo.build_tiny("tiny:sd")
    pipe.tokenizer = CLIPTokenizer.from_pretrained(str(tokenizer_folder()))   # a private copy: tokens get added
    d = pipe.text_encoder.get_input_embeddings().weight.shape[1]
    v = torch.randn(1, d, generator=torch.Generator().manual_seed(0))
    path = save_embedding(tmp_path / "w.safetensors", v, "<red_square>", META)
    pipe.load_textual_inversion(str(path))
    token_id = pipe.tokenizer.convert_tokens_to_ids("<red_square>")
    assert token_id == VOCAB_SIZE
    table = pipe.text_encoder.get_input_embeddings().weight
    assert table.shape[0] == VOCAB_SIZE + 1
    assert torch.equal(table[token_id].detach(), v[0])
    images = pipe("a photo of a <red_square>", num_inference_steps=2, height=32, width=32, guidance_scale=1.0,
                  generator=torch.Generator().manual_seed(0), output_type="np").images
    assert images.shape == (1, 32, 32, 3)

    from vwbench.tokenizer import clip_tokenizer

    assert "<red_square>" not in clip_tokenizer().get_vocab()                  # the shared tokenizer is untouched
