"""The learner (K-batch equivalence, δ-ball PGD, loss goes down) and the `vwbench learn` command."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from vwbench.learn import learn, project
from vwbench.models.space import nn_distance
from vwbench.records import Trial
from vwbench.spec import TrainConfig
from vwbench.tokenizer import single_token_id

TASKS = ["generation", "detection", "classification"]


def trials_for(kind, pairs, delta=None):
    return [Trial("tiny", "tiny-objects", c, a, kind, delta, 0) for c, a in pairs]


PAIRS = [("red_square", "circle"), ("blue_circle", "triangle"), ("green_triangle", "square")]


def cfg(**kw):
    base = {"steps": 5, "lr": 5e-2, "batch_size": 4, "seed": 0, "concepts_per_batch": 3}
    base.update(kw)
    return TrainConfig(**base)


# ---------------------------------------------------------------------------------------------- project


def test_project_by_hand():
    anchors = torch.zeros(3, 1, 2)
    v = torch.tensor([[[3.0, 4.0]], [[0.3, 0.4]], [[30.0, 40.0]]])
    project(v, anchors, torch.tensor([2.5, 1.0, float("inf")]))
    torch.testing.assert_close(v, torch.tensor([[[1.5, 2.0]], [[0.3, 0.4]], [[30.0, 40.0]]]))
    a = torch.tensor([[[1.0, 1.0]]])
    w = torch.tensor([[[1.0, 5.0]]])  # ‖w − a‖ = 4, radius 1 → a + (0, 1)
    project(w, a, torch.tensor([1.0]))
    torch.testing.assert_close(w, torch.tensor([[[1.0, 2.0]]]))
    same = a.clone()
    project(same, a, torch.tensor([0.5]))  # v = a: no division by zero
    assert torch.equal(same, a)


# ----------------------------------------------------------------------------------- K-batch equivalence


@pytest.mark.parametrize("kind,steps", [("classification", 5), ("detection", 5), ("generation", 3)])
def test_k_trials_together_equal_separate_runs(tiny_models, objects, kind, steps):
    model = tiny_models(kind)
    trials = trials_for(kind, PAIRS)
    together = list(learn(model, objects, trials, cfg(steps=steps, concepts_per_batch=3), progress=False))
    apart = [
        r for t in trials for r in learn(model, objects, [t], cfg(steps=steps, concepts_per_batch=1), progress=False)
    ]
    assert [r.trial for r in together] == [r.trial for r in apart] == trials
    for a, b in zip(together, apart):
        assert not torch.equal(a.vector, model.token_embeddings()[single_token_id(a.trial.anchor)][None])  # it moved
        torch.testing.assert_close(a.vector, b.vector, rtol=1e-4, atol=1e-5)
        assert a.loss_start == pytest.approx(b.loss_start, rel=1e-4, abs=1e-6)
        assert a.loss_end == pytest.approx(b.loss_end, rel=1e-4, abs=1e-6)
    # trials differ from each other (each has its own generator and concept)
    assert not torch.allclose(together[0].vector, together[1].vector)


# ------------------------------------------------------------------------------------------------ δ-ball


@pytest.mark.parametrize("delta", [0.1, 0.5])
def test_delta_ball_holds_after_every_step(tiny_models, objects, delta):
    model = tiny_models("classification")
    trials = trials_for("classification", PAIRS, delta)
    vocab = model.vocabulary()
    table = model.token_embeddings()
    ids = [single_token_id(t.anchor) for t in trials]
    anchors = table[ids][:, None]
    radii = torch.tensor([delta * nn_distance(vocab, i) for i in ids])
    seen = []

    def hook(vectors, step):
        dist = (vectors.cpu() - anchors).norm(dim=-1).max(-1).values
        assert (dist <= radii + 1e-5).all(), (step, dist, radii)
        seen.append(float((dist / radii).max()))

    results = list(learn(model, objects, trials, cfg(steps=8, lr=0.2), progress=False, step_hook=hook))
    assert len(seen) == 8
    assert max(seen) > 0.9  # the constraint was active, not trivially satisfied
    for r in results:
        assert r.anchor_distance <= delta + 1e-5
        assert r.extra["d_nn"] == pytest.approx(nn_distance(vocab, single_token_id(r.trial.anchor)))
        if delta <= 0.5:
            assert r.nearest_token == r.trial.anchor + "</w>"  # within δ ≤ 0.5 the anchor stays nearest


def test_nn_distance_by_hand(tiny_models):
    model = tiny_models("classification")
    vocab = model.vocabulary()
    i = single_token_id("square")
    d = (vocab.table - vocab.table[i]).norm(dim=-1)
    d[~vocab.usable] = float("inf")
    d[i] = float("inf")
    assert nn_distance(vocab, i) == pytest.approx(float(d.min()), rel=1e-5)


# --------------------------------------------------------------------------------------- loss decreases


@pytest.mark.parametrize("kind", TASKS)
def test_loss_decreases(tiny_models, objects, kind):
    model = tiny_models(kind)
    [r] = learn(model, objects, trials_for(kind, PAIRS[:1]), cfg(steps=20, concepts_per_batch=1), progress=False)
    # the eval loss uses fixed draws, so the difference is the vector's doing, not noise. The tiny random UNet
    # barely listens to its text (a 0.3% drop is all 20 steps reach), the contrastive losses move a lot
    margin = 1e-3 * r.loss_start if kind == "generation" else 0.05
    assert r.loss_end < r.loss_start - margin, (r.loss_start, r.loss_end)
    assert r.vector.shape == (1, model.token_embeddings().shape[1]) and r.vector.dtype == torch.float32


# ------------------------------------------------------------------------------------------- the CLI


def _main(argv):
    """`vwbench learn` on the tiny suite (the default suite is micro) unless the test names a suite."""
    from vwbench.cli import main

    if argv[:1] == ["learn"] and "--suite" not in argv:
        argv = ["learn", "--suite", "tiny", *argv[1:]]
    return main(argv)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--task", "segmentation"], "unknown task 'segmentation'"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--concept", "purple_cow"], "unknown concept 'purple_cow'"),
        (["--dataset", "tiny-objects", "--concept", "yellow_star"], "unknown concept 'yellow_star'"),
        (["--anchor", "banana"], "unknown anchor 'banana'"),
        (["--delta", "0"], "--delta must be a positive"),
        (["--delta", "-0.5"], "--delta must be a positive"),
        (["--steps", "0"], "--steps must be positive"),
        (["--suite", "nope"], "unknown suite 'nope'"),
        (["--data", "tiny-objects"], "NAME=PATH"),
    ],
)
def test_bad_input(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    rc = _main(["learn", "--no-progress", "--out", str(out), *argv])
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_bad_input_names_what_is_known(tmp_path, capsys):
    assert _main(["learn", "--out", str(tmp_path / "o"), "--dataset", "tiny-objects", "--anchor", "star"]) != 0
    err = capsys.readouterr().err
    assert "known: circle, square, triangle" in err


def test_cuda_requested_without_cuda(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "out"
    assert _main(["learn", "--device", "cuda", "--out", str(out), "--no-progress"]) != 0
    err = capsys.readouterr().err.strip()
    assert "no CUDA device" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_learn_end_to_end(tmp_path, capsys):
    from vwbench.export import load_embedding

    out = tmp_path / "learned"
    rc = _main(
        [
            "learn",
            "--task",
            "classification",
            "--dataset",
            "tiny-objects",
            "--concept",
            "red_square",
            "--anchor",
            "circle",
            "--anchor",
            "square",
            "--delta",
            "0.5",
            "--steps",
            "3",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "tiny-classification/tiny-objects/red_square__circle__d0.5.safetensors",
        "tiny-classification/tiny-objects/red_square__square__d0.5.safetensors",
    ]
    e = load_embedding(out / files[0])
    assert e.token == "<red_square>" and e.vector.shape == (1, 64)
    assert e.metadata["anchor"] == "circle" and e.metadata["delta"] == "0.5" and e.metadata["steps"] == "3"
    assert e.metadata["model_id"] == "tiny:open_clip" and e.metadata["concept"] == "red_square"
    assert float(e.metadata["anchor_distance"]) <= 0.5 + 1e-5
    assert "red_square" in text and "auroc" in text and "loss before" in text
    assert text.strip().splitlines()[-1].startswith(tuple(f"{i}/2 trials improved" for i in range(3)))


def test_learn_is_listed_in_help(capsys):
    from vwbench.cli import build_parser

    assert "learn" in build_parser().format_help()


def test_default_selection_follows_the_suite(tiny_suite, tmp_path):
    import argparse

    from vwbench.commands.learn import plan
    from vwbench.store import Store
    from vwbench.study import Study

    args = argparse.Namespace(
        specs=None,
        suite="tiny",
        task=None,
        dataset=None,
        concept=None,
        anchor=None,
        delta=None,
        steps=2,
        device="cpu",
        data=[],
        out=None,
        no_progress=True,
    )
    suite, options, out = plan(args)
    assert str(out) == "vwbench-runs/tiny/learned"
    assert options.learn_only and options.methods == [] and options.unconstrained and options.deltas == ()
    study = Study(suite, Store(tmp_path), options)
    assert study.train == dataclasses.replace(tiny_suite.train, steps=2)
    assert [t.name for t in study.tasks] == [t.name for t in tiny_suite.tasks]
    for task in study.tasks:
        assert study.eval_tasks(task) == [task]  # no transfer: scored where it was learned
        for ds in tiny_suite.datasets:
            trials = study.trials(ds, task)
            assert [(t.concept, t.anchor) for t in trials] == [
                (c.id, a) for c in ds.concepts for a in ds.anchors_for(c, tiny_suite.anchors)
            ]
            assert all(t.delta is None and t.train_task == task.task for t in trials)


def test_anchor_words_become_the_policy_in_the_datasets_that_hold_them(tmp_path):
    import argparse

    from vwbench.commands.learn import plan

    args = argparse.Namespace(
        specs=None,
        suite="tiny",
        task=None,
        dataset=None,
        concept=None,
        anchor=["circle"],
        delta=0.5,
        steps=None,
        device="cpu",
        data=[],
        out=None,
        no_progress=True,
    )
    suite, options, _ = plan(args)
    holding = [d.name for d in suite.datasets if "circle" in d.anchors]
    assert suite.anchors == ("circle",) and options.select.datasets == tuple(holding)
    assert not options.unconstrained and options.deltas == (0.5,)


def test_learn_runs_through_the_study_and_keeps_a_given_store(tmp_path, capsys):
    """With --store the words and their in-domain scores stay in it (no transfer scores), and a rerun reuses them."""
    from vwbench.export import load_embedding
    from vwbench.store import Store

    argv = [
        "learn",
        "--task",
        "classification",
        "--dataset",
        "tiny-objects",
        "--concept",
        "red_square",
        "--anchor",
        "circle",
        "--steps",
        "2",
        "--device",
        "cpu",
        "--no-progress",
        "--store",
        str(tmp_path / "s"),
    ]
    assert _main([*argv, "--out", str(tmp_path / "a")]) == 0
    store = Store(tmp_path / "s")
    [(key, trial, meta)] = store.vectors()
    assert (trial.concept, trial.anchor, trial.delta, trial.train_task) == (
        "red_square",
        "circle",
        None,
        "classification",
    )
    scores = store.scores()
    assert sorted(s.method for s in scores) == ["anchor", "in_domain"]
    assert {s.eval_task for s in scores} == {"classification"}
    first = capsys.readouterr().out
    assert _main([*argv, "--out", str(tmp_path / "b")]) == 0
    assert len(Store(tmp_path / "s").vectors()) == 1 and len(Store(tmp_path / "s").runs()) == 2
    name = "tiny-classification/tiny-objects/red_square__circle.safetensors"
    a, b = load_embedding(tmp_path / "a" / name), load_embedding(tmp_path / "b" / name)
    assert torch.equal(a.vector, b.vector) and torch.equal(a.vector, store.get_vector(key)[0])
    in_domain = next(s for s in scores if s.method == "in_domain")
    assert float(a.metadata["metric_after"]) == in_domain.value and a.metadata["loss_end"] == json.dumps(
        meta["loss_end"]
    )
    assert capsys.readouterr().out.splitlines()[2] == first.splitlines()[2]  # the same row, reused
