"""fp16 weights with dynamic loss scaling (vwbench.learn.LossScale): the scaled gradient equals the float32 one
within fp16 tolerance where the unscaled fp16 gradient underflows; overflow lowers the scale and redoes the
step with the same draws. On CPU, with the tiny models in fp16 and the loss shrunk as a mean over the paper's
~295k latent elements (instead of the tiny model's few hundred) shrinks it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vwbench.errors import VWBenchError
from vwbench.learn import LossScale, generators, learn, train_step
from vwbench.records import Trial
from vwbench.spec import TrainConfig
from vwbench.tokenizer import single_token_id

SHRINK = 1e-4  # the tiny generation loss averages ~10^3 elements, the paper's ~3 x 10^5 x batch


@pytest.fixture(scope="module")
def pair(tiny_suite, objects):
    """{dtype: tiny generation model} in float32 and float16, the same weights, losses shrunk by SHRINK."""
    from vwbench.models.factory import build_task_model

    out = {}
    for name in ("float32", "float16"):
        spec = dataclasses.replace(tiny_suite.task("generation"), dtype={"cpu": name})
        model = build_task_model(spec, "cpu")
        model.prepare(objects)
        loss, rows = model.loss, model.row_losses
        model.loss = lambda *a, _f=loss: _f(*a) * SHRINK
        model.row_losses = lambda *a, _f=rows: _f(*a) * SHRINK
        out[name] = model
    assert out["float16"].dtype == torch.float16
    return out


TRIALS = [
    Trial("tiny", "tiny-objects", "red_square", "circle", "generation", None, 0),
    Trial("tiny", "tiny-objects", "blue_circle", "triangle", "generation", None, 0),
]
CFG = TrainConfig(steps=1, lr=1e-2, batch_size=4, seed=0, concepts_per_batch=2)


def grad(model, objects, scaler=None, micro=None):
    ids = [single_token_id(t.anchor) for t in TRIALS]
    v = torch.nn.Parameter(model.token_embeddings()[ids][:, None].clone())
    train_step(
        model,
        v,
        ids,
        [t.concept for t in TRIALS],
        objects.name,
        generators(TRIALS, "s"),
        dataclasses.replace(CFG, micro_batch=micro),
        scaler,
    )
    return v.grad.clone()


def rel(a, b) -> float:
    return float((a - b).norm() / b.norm())


def test_unscaled_fp16_gradient_underflows_and_the_scaled_one_matches_float32(pair, objects):
    g32 = grad(pair["float32"], objects)
    plain = grad(pair["float16"], objects)
    assert g32.abs().min() > 0 and (plain == 0).float().mean() > 0.9  # flushed to zero
    for micro in (None, 3):
        scaled = grad(pair["float16"], objects, LossScale(2), micro)
        assert rel(scaled, g32) < 0.02, micro
        assert torch.nn.functional.cosine_similarity(scaled.flatten(), g32.flatten(), dim=0) > 0.999


def test_overflow_halves_the_scale_of_that_word_and_redoes_the_step(pair, objects):
    scaler = LossScale(2, init=2.0**40)  # fp16 overflows (max 65504) at this scale
    g = grad(pair["float16"], objects, scaler)
    assert torch.isfinite(g).all() and (scaler.scale < 2.0**40).all()
    assert torch.all(scaler.scale == 2.0 ** torch.log2(scaler.scale).round())  # powers of two: exact unscaling
    # the redone step used the same draws: it matches float32 as well as a scale that never overflowed
    assert rel(g, grad(pair["float32"], objects)) < 0.02


def test_growth_after_clean_steps_and_giving_up_at_scale_one():
    s = LossScale(2, init=4.0, growth_interval=2)
    for _ in range(2):
        assert s.unscale(torch.ones(2, 1, 3))
    assert s.scale.tolist() == [8.0, 8.0]
    g = torch.ones(2, 1, 3)
    g[1, 0, 0] = float("inf")
    assert not s.unscale(g) and s.scale.tolist() == [8.0, 4.0]
    one = LossScale(1, init=1.0)
    with pytest.raises(VWBenchError, match="not finite even at loss scale 1"):
        one.unscale(torch.full((1, 1, 2), float("nan")))


def test_learn_scales_fp16_models_and_keeps_words_independent(pair, objects):
    model = pair["float16"]
    cfg = dataclasses.replace(CFG, steps=3, lr=5e-2)
    together = list(learn(model, objects, TRIALS, cfg, progress=False))
    apart = [
        r
        for t in TRIALS
        for r in learn(model, objects, [t], dataclasses.replace(cfg, concepts_per_batch=1), progress=False)
    ]
    for a, b in zip(together, apart):
        assert not torch.equal(a.vector, model.token_embeddings()[single_token_id(a.trial.anchor)][None].float())
        torch.testing.assert_close(a.vector, b.vector, rtol=1e-3, atol=1e-4)
