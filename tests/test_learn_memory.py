"""Memory-safe learning (docs/learning.md, Memory): micro-batches with gradient accumulation and gradient
checkpointing give the vectors and gradients of one full pass; the per-task train block and its keys."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vwbench.learn import generators, learn, step_losses
from vwbench.records import Trial
from vwbench.spec import EXECUTION, TrainConfig, effective_train, learning_settings
from vwbench.tokenizer import single_token_id

PAIRS = [("red_square", "circle"), ("blue_circle", "triangle"), ("green_triangle", "square")]


def trials_for(kind, delta=None):
    return [Trial("tiny", "tiny-objects", c, a, kind, delta, 0) for c, a in PAIRS]


def cfg(**kw):
    base = {"steps": 3, "lr": 5e-2, "batch_size": 4, "seed": 0, "concepts_per_batch": 3}
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("kind", ["generation", "detection", "classification"])
def test_micro_batches_learn_the_vectors_of_one_full_pass(tiny_models, objects, kind):
    model = tiny_models(kind)
    trials = trials_for(kind) + trials_for(kind, 0.5)  # δ-ball trials too: projection after the summed step
    rows = len(trials) * model.rows_per_trial(4)
    runs = {
        m: list(learn(model, objects, trials, cfg(micro_batch=m, concepts_per_batch=6), progress=False))
        for m in (None, 1, 3)
    }
    full = runs[None]
    for r in full:  # it moved, so equal vectors below are not the untouched anchors
        assert not torch.equal(r.vector, model.token_embeddings()[single_token_id(r.trial.anchor)][None])
    for m in (1, 3):
        assert m < rows  # a real split (for generation, 3 cuts across the 4 rows of a word)
        for a, b in zip(full, runs[m]):
            assert a.trial == b.trial
            torch.testing.assert_close(b.vector, a.vector, rtol=1e-4, atol=1e-5)
            assert b.loss_start == pytest.approx(a.loss_start, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("kind", ["generation", "detection", "classification"])
def test_accumulated_gradient_equals_the_full_gradient(tiny_models, objects, kind):
    model = tiny_models(kind)
    model.prepare(objects)
    trials = trials_for(kind)
    ids = [single_token_id(t.anchor) for t in trials]
    concepts = [t.concept for t in trials]
    start = model.token_embeddings()[ids][:, None]
    grads, losses = {}, {}
    for m in (None, 1, 5):
        v = torch.nn.Parameter(start.clone())
        losses[m] = step_losses(
            model, v, ids, concepts, objects.name, generators(trials, "g"), cfg(micro_batch=m), True
        )
        grads[m] = v.grad.clone()
    assert grads[None].abs().sum() > 0
    for m in (1, 5):
        torch.testing.assert_close(grads[m], grads[None], rtol=1e-4, atol=1e-7)
        torch.testing.assert_close(losses[m], losses[None], rtol=1e-5, atol=1e-7)


def test_a_split_that_drew_its_own_noise_would_differ(tiny_models, objects):
    """The check above can fail: rows drawn per micro-batch (a fresh generator each) change the gradient."""
    model = tiny_models("generation")
    model.prepare(objects)
    trials = trials_for("generation")[:1]
    ids, concepts = [single_token_id(trials[0].anchor)], [trials[0].concept]
    v = torch.nn.Parameter(model.token_embeddings()[ids][:, None].clone())
    model.loss(v, ids, concepts, objects.name, generators(trials, "g"), 4).sum().backward()
    full = v.grad.clone()
    v.grad = None
    for half in range(2):  # two halves of 2 images, each drawn from the trial's generator anew
        (model.loss(v, ids, concepts, objects.name, generators(trials, "g"), 2).sum() / 2).backward()
    assert not torch.allclose(v.grad, full, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("kind", ["generation", "classification"])
def test_gradient_checkpointing_keeps_the_gradient(tiny_models, objects, kind):
    model = tiny_models(kind)
    model.prepare(objects)
    trials = trials_for(kind)
    ids = [single_token_id(t.anchor) for t in trials]
    concepts = [t.concept for t in trials]
    grads = {}
    try:
        for on in (False, True):
            model.set_gradient_checkpointing(on)
            v = torch.nn.Parameter(model.token_embeddings()[ids][:, None].clone())
            step_losses(model, v, ids, concepts, objects.name, generators(trials, "g"), cfg(micro_batch=5), True)
            grads[on] = v.grad.clone()
        flags = (
            [model.pipe.unet.is_gradient_checkpointing]
            if kind == "generation"
            else [model.model.transformer.grad_checkpointing]
        )
        assert flags == [True]
    finally:
        model.set_gradient_checkpointing(False)
    assert grads[False].abs().sum() > 0
    torch.testing.assert_close(grads[True], grads[False], rtol=1e-5, atol=1e-8)


def test_checkpointing_runs_through_learn(tiny_models, objects):
    model = tiny_models("classification")
    trials = trials_for("classification")
    plain = list(learn(model, objects, trials, cfg(), progress=False))
    ckpt = list(learn(model, objects, trials, cfg(gradient_checkpointing=True, micro_batch=2), progress=False))
    model.set_gradient_checkpointing(False)
    for a, b in zip(plain, ckpt):
        torch.testing.assert_close(b.vector, a.vector, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------ the task's train block


def test_task_train_block_overrides_the_suite(spec_copy):
    from vwbench.spec import SpecLibrary

    path = spec_copy / "tasks" / "tiny-generation.yaml"
    path.write_text(path.read_text() + "train: {concepts_per_batch: 2, micro_batch: 4, gradient_checkpointing: true}\n")
    suite = SpecLibrary(spec_copy).suite("tiny")
    gen, det = suite.task("generation"), suite.task("detection")
    eff = effective_train(suite, gen)
    assert (eff.concepts_per_batch, eff.micro_batch, eff.gradient_checkpointing) == (2, 4, True)
    assert eff.steps == suite.train.steps and eff.lr == suite.train.lr
    assert effective_train(suite, det) == suite.train
    # what a vector depends on is the same for both: the execution settings are not part of it
    assert learning_settings(eff) == learning_settings(suite.train)
    assert set(learning_settings(eff)) == {f.name for f in dataclasses.fields(TrainConfig)} - set(EXECUTION)


@pytest.mark.parametrize(
    "block,field",
    [
        ("{micro_batch: 0}", "train.micro_batch"),
        ("{concepts_per_batch: 1.5}", "train.concepts_per_batch"),
        ("{gradient_checkpointing: yes please}", "train.gradient_checkpointing"),
        ("{steps: 5}", "train.steps"),
    ],
)
def test_bad_train_blocks_are_refused_in_one_line(spec_copy, block, field):
    from vwbench.errors import SpecError
    from vwbench.spec import SpecLibrary

    path = spec_copy / "tasks" / "tiny-detection.yaml"
    path.write_text(path.read_text() + f"train: {block}\n")
    with pytest.raises(SpecError) as info:
        SpecLibrary(spec_copy).task("tiny-detection")
    assert field in str(info.value) and "\n" not in str(info.value)


def test_schema_train_block_lists_the_execution_settings():
    from vwbench.spec import schema

    assert set(schema("task")["properties"]["train"]["properties"]) == set(EXECUTION)
    assert set(EXECUTION) <= set(schema("suite")["properties"]["train"]["properties"])


def test_paper_tasks_learn_in_bf16_on_cuda_and_float32_on_cpu():
    from vwbench.spec import SpecLibrary

    suite = SpecLibrary().suite("paper")
    for task in suite.tasks:
        assert task.dtype == {"cuda": "bfloat16", "cpu": "float32"}, task.name
    gen = effective_train(suite, suite.task("generation"))
    assert gen.gradient_checkpointing and gen.micro_batch is not None


def test_the_train_block_is_not_inherited_through_extends():
    from vwbench.spec import SpecLibrary

    lib = SpecLibrary()
    assert lib.task("generation").train["micro_batch"] == 8
    assert lib.task("tiny-generation").train == {}
    # a train block of its own replaces the parent's: micro-generation sets K and gets no micro-batch of 8
    assert lib.task("micro-generation").train == {"concepts_per_batch": 20}
    tiny = lib.suite("tiny")
    assert effective_train(tiny, tiny.task("generation")) == tiny.train


def test_execution_settings_stay_out_of_vector_keys(tiny_suite, tmp_path):
    from vwbench.keys import dataset_id
    from vwbench.store import Store
    from vwbench.study import Study, StudyOptions

    ds = tiny_suite.dataset("tiny-objects")

    def key(**train):
        suite = dataclasses.replace(tiny_suite, train=dataclasses.replace(tiny_suite.train, **train))
        with Store(tmp_path / "s") as store:
            study = Study(suite, store, StudyOptions(progress=False))
            trial = study.trials(ds, suite.task("generation"))[0]
            return study.vector_key(trial, suite.task("generation"), dataset_id(ds, None))

    base = key()
    assert key(concepts_per_batch=2, micro_batch=3, gradient_checkpointing=True) == base
    assert key(lr=0.01) != base and key(batch_size=4) != base
