"""Learned words as diffusers textual-inversion files."""

from __future__ import annotations

import os

import pytest
import torch

from vwbench.errors import VWBenchError
from vwbench.export import FORMAT, OLD_FORMATS, load_embedding, save_embedding

META = {
    "model_id": "tiny:sd",
    "revision": None,
    "concept": "red_square",
    "anchor": "square",
    "delta": 0.5,
    "seed": 0,
    "steps": 3,
}


def test_round_trip(tmp_path):
    v = torch.randn(2, 32, dtype=torch.float64)
    path = save_embedding(tmp_path / "a" / "w.safetensors", v, "<red_square>", META)
    e = load_embedding(path)
    assert e.token == "<red_square>"
    assert e.vector.dtype == torch.float32 and torch.equal(e.vector, v.float())
    assert e.metadata["concept"] == "red_square" and e.metadata["delta"] == "0.5"
    assert e.metadata["revision"] == "null" and e.metadata["steps"] == "3"
    assert os.listdir(path.parent) == ["w.safetensors"]  # no temp file left behind


def test_raw_format_is_single_key(tmp_path):
    from safetensors.torch import load_file

    path = save_embedding(tmp_path / "w.safetensors", torch.ones(32), "<w>", {})
    tensors = load_file(str(path))
    assert list(tensors) == ["<w>"] and tensors["<w>"].shape == (1, 32) and tensors["<w>"].dtype == torch.float32


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    from vwbench import atomic

    path = save_embedding(tmp_path / "w.safetensors", torch.ones(1, 8), "<w>", {})
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError):
        save_embedding(path, torch.zeros(1, 8), "<w>", {})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["w.safetensors"]


def test_store_and_export_write_one_format(tmp_path):
    """A word the store keeps and one `save_embedding` writes have one layout and one format tag."""
    from safetensors import safe_open

    from vwbench.records import Trial
    from vwbench.store import Store

    v = torch.randn(1, 16)
    stored = Store(tmp_path / "s").put_vector("k", Trial("s", "d", "red_square", "square", "generation"), v, {})
    exported = save_embedding(tmp_path / "w.safetensors", v, "<red_square>", META)
    for path in (stored, exported):
        e = load_embedding(path)
        assert e.token == "<red_square>" and torch.equal(e.vector, v) and e.metadata["format"] == FORMAT
        with safe_open(str(path), "pt") as f:
            assert list(f.keys()) == ["<red_square>"]


def _write_tagged(path, tag):
    from safetensors.torch import save_file

    save_file({"<w>": torch.ones(1, 4)}, str(path), metadata={"format": tag, "concept": "w"})
    return path


def test_files_with_the_old_tag_still_load(tmp_path):
    e = load_embedding(_write_tagged(tmp_path / "old.safetensors", OLD_FORMATS[0]))
    assert e.token == "<w>" and torch.equal(e.vector, torch.ones(1, 4)) and e.metadata["concept"] == "w"


def test_an_unknown_vwbench_tag_is_one_line_error(tmp_path):
    with pytest.raises(VWBenchError, match="unknown embedding format 'vwbench-embedding-v9'"):
        load_embedding(_write_tagged(tmp_path / "new.safetensors", "vwbench-embedding-v9"))


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
    pipe.tokenizer = CLIPTokenizer.from_pretrained(str(tokenizer_folder()))  # a private copy: tokens get added
    d = pipe.text_encoder.get_input_embeddings().weight.shape[1]
    v = torch.randn(1, d, generator=torch.Generator().manual_seed(0))
    path = save_embedding(tmp_path / "w.safetensors", v, "<red_square>", META)
    pipe.load_textual_inversion(str(path))
    token_id = pipe.tokenizer.convert_tokens_to_ids("<red_square>")
    assert token_id == VOCAB_SIZE
    table = pipe.text_encoder.get_input_embeddings().weight
    assert table.shape[0] == VOCAB_SIZE + 1
    assert torch.equal(table[token_id].detach(), v[0])
    images = pipe(
        "a photo of a <red_square>",
        num_inference_steps=2,
        height=32,
        width=32,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).images
    assert images.shape == (1, 32, 32, 3)

    from vwbench.tokenizer import clip_tokenizer

    assert "<red_square>" not in clip_tokenizer().get_vocab()  # the shared tokenizer is untouched
