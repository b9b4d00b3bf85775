"""Task spec settings reach the code that should read them (issue #14: settings no code read)."""

from __future__ import annotations

import torch

from vwbench.learn import generators
from vwbench.records import Trial
from vwbench.tokenizer import single_token_id


def test_classification_loss_weights_its_two_terms(tiny_models, objects, monkeypatch):
    model = tiny_models("classification")
    model.prepare(objects)
    pid = single_token_id("square")
    vectors = model.token_embeddings()[[pid, pid]][:, None]
    trials = [Trial("t", objects.name, c, "square", "classification") for c in objects.concepts[:2]]

    def loss(target: float, other: float) -> torch.Tensor:
        monkeypatch.setitem(model.spec.loss, "target_weight", target)
        monkeypatch.setitem(model.spec.loss, "other_weight", other)
        with torch.no_grad():
            return model.loss(vectors, [pid, pid], [t.concept for t in trials], objects.name, generators(trials), 4)

    default, target_only, other_only = loss(-1.0, 1.0), loss(-1.0, 0.0), loss(0.0, 1.0)
    assert torch.equal(default, target_only + other_only) and (target_only < 0).all() and (other_only > 0).all()
    torch.testing.assert_close(loss(-2.0, 0.5), 2 * target_only + 0.5 * other_only)
