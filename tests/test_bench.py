"""The speed benchmark: the naive reference loop trains the same word as the batched learner, and `vwbench bench`."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

from vwbench import bench, cli
from vwbench.learn import generators, learn
from vwbench.tokenizer import single_token_id

TASKS = ["generation", "detection", "classification"]


def _cfg(tiny_suite, steps):
    return dataclasses.replace(tiny_suite.train, steps=steps, batch_size=2, num_vectors=1)


@pytest.mark.parametrize("kind", TASKS)
def test_naive_starts_where_the_fast_path_starts_and_trains_the_same_word(kind, tiny_suite, objects, tiny_models):
    model = tiny_models(kind)
    trials = bench.bench_trials(tiny_suite.name, tiny_suite.datasets[0], kind, 3)
    cfg = _cfg(tiny_suite, 4)
    table_before = model.text_embedding().weight.detach().clone()

    vector, losses = bench.naive_learn(model, objects, trials[0], cfg)
    # the model is left as it was: same table, frozen again
    assert torch.equal(model.text_embedding().weight, table_before)
    assert not model.text_embedding().weight.requires_grad

    # same first batch (the trial's generator), same anchor vector -> same starting loss
    pid = single_token_id(trials[0].anchor)
    model.prepare(objects)
    with torch.no_grad():
        first = model.loss(
            table_before[pid].float()[None, None],
            [pid],
            [trials[0].concept],
            objects.name,
            generators(trials[:1]),
            cfg.batch_size,
        )
    assert losses[0] == pytest.approx(float(first[0]), rel=1e-4, abs=1e-6)

    # Adam is elementwise and both loops draw from the trial's own generator: the fast path, batching the trial
    # with two others, ends at the same vector the naive loop found by training the whole table
    fast = list(learn(model, objects, trials, dataclasses.replace(cfg, concepts_per_batch=3), progress=False))
    torch.testing.assert_close(fast[0].vector, vector, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kind", ["detection", "classification"])
def test_both_loops_reduce_the_loss(kind, tiny_suite, objects, tiny_models):
    model = tiny_models(kind)
    trial = bench.bench_trials(tiny_suite.name, tiny_suite.datasets[0], kind, 1)[0]
    cfg = _cfg(tiny_suite, 8)
    vector, _ = bench.naive_learn(model, objects, trial, cfg)
    pid = single_token_id(trial.anchor)
    anchor = model.token_embeddings()[pid][None, None]
    model.prepare(objects)

    def fixed(v):
        with torch.no_grad():
            return float(
                model.loss(
                    v[None] if v.ndim == 2 else v,
                    [pid],
                    [trial.concept],
                    objects.name,
                    generators([trial], "eval"),
                    cfg.batch_size,
                )[0]
            )

    assert fixed(vector) < fixed(anchor)
    (res,) = learn(model, objects, [trial], cfg, progress=False)
    assert res.loss_end < res.loss_start


def test_bench_cli_prints_one_table_with_ratios(capsys):
    rc = cli.main(
        [
            "bench",
            "--only",
            "classification,transfer",
            "--steps",
            "2",
            "--concepts",
            "2",
            "--naive-concepts",
            "1",
            "--transfer-shape",
            "600x16x8",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "ratio fast/naive" in out and "tiny-classification" in out
    row = next(line for line in out.splitlines() if line.startswith("classification"))
    assert re.search(r"\s\d+\.\dx\s", row), row  # the ratio column holds e.g. "12.3x"
    for method in ("linear_transfer", "ridge", "procrustes", "cca", "nearest_token", "constant", "random_map"):
        assert method in out
    assert "600 x 16 -> 8" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--only", "segmentation"], "--only: unknown part 'segmentation'"),
        (["--only", ","], "--only: unknown part"),
        (["--steps", "0"], "--steps must be a positive integer, got 0"),
        (["--steps", "-3"], "--steps must be a positive integer, got -3"),
        (["--concepts", "0"], "--concepts must be a positive integer"),
        (["--transfer-shape", "10x20"], "--transfer-shape expects three positive integers"),
        (["--suite", "no-such-suite"], "no-such-suite"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(argv, message, capsys):
    rc = cli.main(["bench", *argv])
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert len(err.splitlines()) == 1 and err.startswith("vwbench bench: error:"), err
    assert message in err


def test_transfer_bench_times_every_builtin_method():
    rows = bench.bench_transfer(shape=(500, 12, 10), n_vectors=4)
    assert [r.method for r in rows] == [
        "linear_transfer",
        "ridge",
        "procrustes",
        "cca",
        "nearest_token",
        "constant",
        "random_map",
    ]
    assert all(r.fit_s >= 0 and r.apply_s >= 0 for r in rows)


def test_time_fast_recomputes_the_feature_cache(tiny_suite, objects, tiny_models):
    """The timed prepare is a real one: the cache `prepare` keeps is rebuilt (base.TaskModel.prepare(fresh=True))."""
    model = tiny_models("classification")
    model.prepare(objects)
    before = model.cache(objects.name)
    ds = next(d for d in tiny_suite.datasets if d.name == objects.name)
    trials = bench.bench_trials(tiny_suite.name, ds, model.task, 2)
    total, prep = bench.time_fast(model, objects, trials, dataclasses.replace(tiny_suite.train, steps=1, num_vectors=1))
    assert model.cache(objects.name) is not before
    assert 0 < prep.wall <= total.wall
