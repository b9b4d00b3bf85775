"""`vwbench analyze`: the truncated text encoder against transformers' own hidden states, the pooled
per-layer activations against the tower's output, the probe on data with a known answer, and the CLI on tiny."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vwbench import cli
from vwbench.analysis import layers, truncation
from vwbench.errors import VWBenchError
from vwbench.tokenizer import EOS_ID, single_token_id


@pytest.fixture(scope="module")
def gen(tiny_models):
    return tiny_models("generation")


def test_truncated_encoder_matches_hidden_states(gen):
    enc = gen.pipe.text_encoder
    tm = truncation.text_transformer(gen)
    total = len(tm.encoder.layers)
    ids = gen.prompts([single_token_id("circle")]).ids
    with torch.no_grad():
        ref = enc(ids, output_hidden_states=True)
        for n in range(total + 1):
            with truncation.truncated(gen, n, final_norm=False):
                got = gen.text_features(ids)
            assert torch.allclose(got, ref.hidden_states[n], atol=1e-5), n
            with truncation.truncated(gen, n, final_norm=True):
                normed = gen.text_features(ids)
            assert torch.allclose(normed, tm.final_layer_norm(ref.hidden_states[n]), atol=1e-5), n
        assert torch.allclose(normed, ref.last_hidden_state, atol=1e-5)  # N = all, with LN: untouched
    assert len(tm.encoder.layers) == total and not isinstance(tm.final_layer_norm, torch.nn.Identity)
    with pytest.raises(VWBenchError, match="blocks"), truncation.truncated(gen, total + 1):
        pass
    assert truncation.default_blocks(2) == [0, 1, 2] and truncation.default_blocks(23) == [0, 4, 8, 12, 15, 19, 23]


def test_pooled_activations_are_the_towers_own(gen, tiny_models):
    vec = gen.token_embeddings()[[single_token_id("square"), single_token_id("circle")]].unsqueeze(1)
    ids = [single_token_id("square"), single_token_id("circle")]
    acts = layers.pooled_activations(gen, vec, ids, "a photo of a {}")
    tm = truncation.text_transformer(gen)
    assert acts.shape == (len(tm.encoder.layers), 2, vec.shape[-1])
    prompt = gen.prompts(ids, 1, "a photo of a {}")
    eos = (prompt.ids == EOS_ID).int().argmax(-1)
    with torch.no_grad():
        out = gen.pipe.text_encoder(prompt.ids, output_hidden_states=True)  # the anchors' own ids: no injection
    for layer in range(acts.shape[0]):
        want = out.hidden_states[layer + 1][torch.arange(2), eos].numpy()
        np.testing.assert_allclose(acts[layer], want, atol=1e-5)
    for kind in ("detection", "classification"):
        m = tiny_models(kind)
        v = m.token_embeddings()[ids].unsqueeze(1)
        a = layers.pooled_activations(m, v, ids, m.spec.template)
        assert a.shape[:2] == (len(layers.layers_of(m)), 2) and np.isfinite(a).all()
        assert not np.allclose(a[-1, 0], a[-1, 1])


def test_probe_finds_what_is_there_and_not_what_is_not():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 8)
    groups = np.tile(np.arange(8), 4)
    centres = rng.normal(0, 5, (4, 16))
    x = centres[y] + rng.normal(0, 0.5, (32, 16))
    assert layers.probe(x, y, groups) == 1.0
    noise = rng.normal(0, 1, (32, 16))
    assert layers.probe(noise, y, groups) < 0.6
    assert np.isnan(layers.probe(x, np.zeros(32), groups))
    assert layers.shown_layers(12) == [0, 4, 7, 11] and layers.shown_layers(2) == [0, 1]


def test_analyze_cli_on_tiny(tmp_path, capsys):
    base = ["--suite", "tiny", "--store", str(tmp_path / "store"), "--limit", "2", "--no-progress"]
    assert (
        cli.main(["analyze", "truncation", *base, "--blocks", "0,2", "--images", "1", "--out", str(tmp_path / "t")])
        == 0
    )
    r = json.loads((tmp_path / "t" / "truncation-tiny-objects.json").read_text())
    assert (
        r["blocks"] == [0, 2]
        and r["images_per_word"] == 1
        and set(r["curves"]) == {"learned", "learned, no final LayerNorm", "anchor", "anchor, no final LayerNorm"}
    )
    assert all(len(p["scores"]) == len(r["concepts"]) for c in r["curves"].values() for p in c)
    for name in ("truncation-tiny-objects.png", "truncation-tiny-objects.svg", "truncation-tiny-objects-images.png"):
        assert (tmp_path / "t" / name).stat().st_size > 1000
    assert cli.main(["analyze", "layers", *base, "--out", str(tmp_path / "l")]) == 0
    out = capsys.readouterr().out
    assert "probe accuracy by block" in out
    [*towers] = json.loads((tmp_path / "l" / "layers-tiny-objects.json").read_text())
    assert {t["kind"] for t in towers} == {"generation", "detection", "classification"}
    for t in towers:
        assert len(t["probe_accuracy"]["learned"]) == t["layers"]
    assert (tmp_path / "l" / "layers-probe-tiny-objects.png").exists()
    assert (tmp_path / "l" / "layers-tsne-detection-tiny-objects.png").exists()
    assert cli.main(["analyze", "truncation", *base, "--blocks", "9"]) == 2
    assert "has 2 blocks" in capsys.readouterr().err
