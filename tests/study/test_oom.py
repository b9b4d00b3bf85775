"""Out-of-memory back-off in the study: a chunk that runs out of GPU memory is retried with half the
micro-batch (recorded in the run's meta and logged) and learns the same vectors; at micro-batch 1 it gives up
with one line. The GPU is played by a test double that raises CUDA's OutOfMemoryError above a row count."""

from __future__ import annotations

import pytest
import torch

from vwbench.errors import VWBenchError
from vwbench.selection import Selection
from vwbench.spec import SpecLibrary
from vwbench.store import Store
from vwbench.study import Study, StudyOptions


def fits_only(model, limit: int) -> list[int]:
    """Make `model` raise OutOfMemoryError on any pass over more than `limit` rows; returns the row counts tried."""
    tried = []
    loss, row_losses = model.loss, model.row_losses

    def check(rows: int) -> None:
        tried.append(rows)
        if rows > limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {rows} GiB")

    def patched_loss(vectors, ids, concepts, data_name, gens, batch_size):
        check(len(ids) * model.rows_per_trial(batch_size))
        return loss(vectors, ids, concepts, data_name, gens, batch_size)

    def patched_rows(vectors, ids, drawn, rows):
        check(len(rows))
        return row_losses(vectors, ids, drawn, rows)

    model.loss, model.row_losses = patched_loss, patched_rows
    return tried


def study(specs, root, limit=None):
    from vwbench.models.factory import build_task_model

    suite = SpecLibrary(specs).suite("mini")
    store = Store(root)
    s = Study(suite, store, StudyOptions(device="cpu", progress=False, select=Selection(tasks=("generation",))))
    tried = []
    if limit is not None:
        model = build_task_model(suite.task("generation"), "cpu")
        tried = fits_only(model, limit)
        s._models[suite.task("generation").name] = model
    return s, store, tried


def vectors(store):
    return {key: store.get_vector(key)[0] for key, _, _ in store.vectors()}


def test_out_of_memory_halves_the_micro_batch_and_learns_the_same_vectors(specs, tmp_path, capsys):
    ref, ref_store, _ = study(specs, tmp_path / "ref")
    ref.run()
    s, store, tried = study(specs, tmp_path / "oom", limit=5)
    summary = s.run()
    # 6 words x batch 4 = 24 rows; 24 -> 12 -> 6 -> 3 fits
    assert [b["from"] for b in summary.backoffs] == [24, 12, 6] and summary.backoffs[-1]["to"] == 3
    assert max(tried) == 24 and set(tried[tried.index(3) :]) == {3}
    err = capsys.readouterr().err
    assert (
        "out of GPU memory learning tiny-generation on tiny-objects (6 words, micro-batch 24): retrying the "
        "chunk at micro-batch 12" in err
    )
    (run,) = store.runs()
    assert run["meta"]["oom_backoff"] == summary.backoffs and run["status"] == "ok"
    got, want = vectors(store), vectors(ref_store)
    assert got.keys() == want.keys() and len(got) == 6
    for key in got:
        torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-5)
    (_, _, meta) = store.vectors()[0]
    assert meta["execution"] == {"concepts_per_batch": 6, "micro_batch": 3, "gradient_checkpointing": False}
    ref_store.close()
    store.close()


def test_out_of_memory_at_micro_batch_one_is_a_one_line_error(specs, tmp_path):
    s, store, tried = study(specs, tmp_path / "oom", limit=0)
    with pytest.raises(VWBenchError) as info:
        s.run()
    assert str(info.value) == (
        "out of GPU memory learning tiny-generation on tiny-objects even at micro-batch 1 "
        "(6 words); free the GPU or use a larger one"
    )
    assert tried[-1] == 1 and [b["to"] for b in s.summary.backoffs] == [12, 6, 3, 1]
    assert store.vectors() == [] and store.runs()[0]["status"] == "failed"
    store.close()


def test_other_errors_are_not_retried(specs, tmp_path):
    s, store, _ = study(specs, tmp_path / "bad", limit=None)
    from vwbench.models.factory import build_task_model

    model = build_task_model(s.suite.task("generation"), "cpu")

    def broken(*args):
        raise ValueError("a bug, not memory")

    model.loss = broken
    s._models["tiny-generation"] = model
    with pytest.raises(ValueError, match="a bug"):
        s.run()
    assert s.summary.backoffs == []
    store.close()
