"""New-word injection at the token-embedding layer (PROTOCOL.md 14.2)."""

from __future__ import annotations

import pytest
import torch

from vwbench.models.base import injected
from vwbench.tokenizer import single_token_id

TASKS = ["generation", "detection", "classification"]


@pytest.mark.parametrize("kind", TASKS)
def test_injecting_the_placeholder_row_is_the_identity(tiny_models, kind):
    model = tiny_models(kind)
    ids = [single_token_id(w) for w in ("square", "circle", "triangle")]
    table = model.token_embeddings()
    with torch.no_grad():
        plain = model.text_features(model.prompts(ids).ids)
        same = model.encode_with_vectors(table[ids][:, None], ids)
    assert torch.equal(plain, same)
    assert not model.text_embedding()._forward_hooks


@pytest.mark.parametrize("kind", TASKS)
def test_a_different_vector_changes_only_its_row(tiny_models, kind):
    model = tiny_models(kind)
    ids = [single_token_id(w) for w in ("square", "circle")]
    table = model.token_embeddings()
    vectors = table[ids][:, None].clone()
    vectors[0] = table[single_token_id("dog")]
    with torch.no_grad():
        plain = model.text_features(model.prompts(ids).ids)
        out = model.encode_with_vectors(vectors, ids)
    assert not torch.allclose(out[0], plain[0], atol=1e-4)
    assert torch.equal(out[1], plain[1])
    # ... and equals encoding the other token's prompt directly (same tokens everywhere else)
    with torch.no_grad():
        dog = model.text_features(model.prompts([single_token_id("dog")]).ids)
    torch.testing.assert_close(out[0], dog[0], rtol=0, atol=1e-6)
    assert not model.text_embedding()._forward_hooks


def test_hook_is_removed_after_an_error(tiny_models):
    model = tiny_models("classification")
    emb = model.text_embedding()
    prompt = model.prompts([single_token_id("square")])
    with (
        pytest.raises(RuntimeError, match="does not match"),
        injected(emb, prompt.mask, torch.zeros(1, 1, emb.weight.shape[1])),
    ):
        emb(prompt.ids[:, :5])
    assert not emb._forward_hooks


def test_placeholder_positions(tiny_models):
    model = tiny_models("classification")  # template "a photo of a {}"
    p = model.prompts([single_token_id("square")], num_vectors=2)
    assert p.mask.sum() == 2
    pos = p.mask[0].nonzero().flatten().tolist()
    assert pos == [5, 6]  # BOS a photo of a | placeholder x2 | EOS
    assert p.ids[0, pos].tolist() == [single_token_id("square")] * 2


@pytest.mark.parametrize("kind", ["classification", "detection"])
def test_trimmed_prompts_give_the_full_context_features(tiny_models, kind):
    """Prompts stop at their end token (`trim_prompts`); the causal, end-pooled text towers give the same
    features as the prompt padded to the full context."""
    from vwbench.tokenizer import encode

    model = tiny_models(kind)
    assert model.trim_prompts
    ids = [single_token_id(w) for w in ("square", "circle")]
    trimmed = model.prompts(ids).ids
    assert trimmed.shape[1] < model.context_length
    full = encode([model.spec.template.format(w) for w in ("square", "circle")], model.context_length, model.pad_id)
    with torch.no_grad():
        assert torch.allclose(model.text_features(trimmed), model.text_features(full), atol=1e-5)
