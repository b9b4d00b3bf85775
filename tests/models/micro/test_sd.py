"""The micro-world Stable Diffusion: trains from a seed at a tiny scale, saves compactly, loads back exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open

from vwbench.data.micro import world
from vwbench.models.micro import sd, sd_colour
from vwbench.models.micro.training import trained_token_ids
from vwbench.tokenizer import VOCAB_SIZE

EMB = "text_encoder.embeddings.token_embedding.weight"  # transformers 5 CLIPTextModel keys


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sd")
    # a tiny scale and small batches: seconds on one thread (the full run uses sd.TRAINING)
    pipe, config, report, captions = sd.fit(
        seed=0, progress=False, scale=0.001, hp={"pool": 640, "vae_batch": 8, "unet_batch": 16}
    )
    path = sd.save(pipe, config, report, captions, folder)
    return folder, path, pipe, report, captions


def test_fit_report_and_architecture(trained):
    _, _, pipe, report, _ = trained
    assert report["vae_steps"] >= 2 and report["unet_steps"] >= 2
    assert np.isfinite(report["vae_loss"]) and np.isfinite(report["unet_loss"])
    assert report["latent_scale"] > 0
    assert pipe.vae.config.scaling_factor == report["latent_scale"]
    assert pipe.text_encoder.config.vocab_size == VOCAB_SIZE and pipe.text_encoder.config.hidden_size == 32
    assert tuple(pipe.unet.config.block_out_channels) == (32, 64) and pipe.unet.config.cross_attention_dim == 32
    latents = pipe.vae.encode(torch.zeros(1, 3, 32, 32)).latent_dist.mean
    assert latents.shape == (1, 4, 8, 8)
    assert pipe.safety_checker is None


def test_load_restores_trained_weights_in_fp16(trained):
    folder, _, pipe, _, captions = trained
    loaded = sd.load(folder)
    ids = torch.tensor(trained_token_ids(captions))
    assert loaded.trained_token_ids == ids.tolist()
    assert loaded.vae.config.scaling_factor == pipe.vae.config.scaling_factor
    want, got = sd.state_of(pipe), sd.state_of(loaded)
    assert set(want) == set(got)
    for key, w in want.items():
        g = got[key]
        if key == EMB:  # only the trained rows come back; the rest are refilled
            w, g = w[ids], g[ids]
        if w.is_floating_point():
            torch.testing.assert_close(g, w.half().float(), rtol=0, atol=0, msg=key)
        else:
            assert torch.equal(g, w), key
    assert not any(m.training for m in (loaded.vae, loaded.unet, loaded.text_encoder))
    # the text states of prompts and empty prompts (start, end and padding rows included) come back
    withheld = set(world.withheld_ids())
    text = next(c for c in captions if not set(sd.tokenize([c])[0].tolist()) & withheld)
    ids = sd.tokenize([text, ""])
    with torch.no_grad():
        torch.testing.assert_close(loaded.text_encoder(ids)[0], pipe.text_encoder(ids)[0], rtol=0, atol=2e-2)


def test_safetensors_holds_only_trained_token_rows(trained):
    _, path, _, _, captions = trained
    ids = trained_token_ids(captions)
    with safe_open(str(path), "pt") as f:
        keys = set(f.keys())
        assert EMB not in keys
        assert f.get_tensor(EMB + ".ids").tolist() == ids
        assert f.get_tensor(EMB + ".rows").shape == (len(ids), 32)
        for key in keys:
            t = f.get_slice(key)
            assert t.get_shape()[0] != VOCAB_SIZE, key
    assert 0 < len(ids) < 200
    assert path.stat().st_size < 8_000_000


def test_loaded_pipeline_generates_32px(trained):
    folder = trained[0]
    pipe = sd.load(folder)
    out = pipe(
        ["a photo of a red square"],
        num_inference_steps=2,
        guidance_scale=3.0,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).images
    assert out.shape == (1, 32, 32, 3)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert 0.0 <= sd_colour.colour_accuracy(pipe, 2, steps=2, guidance=3.0) <= 1.0
