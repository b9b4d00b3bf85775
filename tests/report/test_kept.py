"""Pictures kept by the scoring pass: what capture() records, the store's images table, the grids."""

from __future__ import annotations

import io
import sqlite3
from types import SimpleNamespace

import torch
from PIL import Image

from vwbench import pictures as kept
from vwbench.records import Trial
from vwbench.store import Store


def test_capture_generation_keeps_the_images_evaluate_scored():
    made = []

    class Gen:
        def generate(self, vectors, ids):
            out = [[Image.new("RGB", (32, 32), (10 * k, 20 * i, 0)) for i in range(5)] for k in range(len(vectors))]
            made.append(out)
            return out

        def evaluate(self, vectors, ids, concepts, data):
            return [{"value": float(len(ims))} for ims in self.generate(vectors, ids)]

    m = Gen()
    with kept.capture(m, "generation") as cap:
        m.evaluate(torch.zeros(2, 1, 4), [1, 2], ["a", "b"], None)
    assert "generate" not in vars(m)  # the instance is restored
    with kept.capture(m, "generation", wanted=[False, True]) as skip:
        m.evaluate(torch.zeros(2, 1, 4), [1, 2], ["a", "b"], None)
    assert skip.pictures(0) == [] and len(skip.pictures(1)) == kept.KEEP
    assert len(cap.words) == 2 and len(cap.pictures(1)) == kept.KEEP
    kind, data, meta = cap.pictures(1)[2]
    im = Image.open(io.BytesIO(data))
    assert kind == "generated" and meta["index"] == 2
    assert im.getpixel((0, 0)) == made[0][1][2].getpixel((0, 0)) == (10, 40, 0)


def test_capture_detection_top_boxes_and_not_the_zero_query():
    boxes = torch.tensor([[0, 0, 10, 10], [5, 5, 30, 30], [1, 1, 2, 2], [0, 0, 64, 64]], dtype=torch.float32)
    example = SimpleNamespace(
        key="e1",
        image=lambda: Image.new("RGB", (192, 192)),
        target_boxes=lambda c: [(5.0, 5.0, 30.0, 30.0)] if c == "c" else [],
    )
    other = SimpleNamespace(key="e2", image=lambda: Image.new("RGB", (192, 192)), target_boxes=lambda c: [])

    class Det:
        def cache(self, name):
            return {"test": {"e1": {"boxes": boxes}, "e2": {"boxes": boxes}}}

        def predictions(self, images, concept, data, scores_of):
            return {"preds": [], "targets": []}

        def zero_query(self, concept, data, images):
            return self.predictions(images, concept, data, lambda r: torch.zeros(4))

        def evaluate(self, vectors, ids, concepts, data):
            out = []
            for c in concepts:
                out.append(self.predictions([other, example], c, data, lambda r: torch.tensor([0.1, 0.9, 0.3, 0.2])))
                self.zero_query(c, data, [example])
            return out

    m = Det()
    with kept.capture(m, "detection") as cap:
        m.evaluate(torch.zeros(1, 1, 4), [1], ["c"], SimpleNamespace(name="d"))
    assert len(cap.words) == 1  # the zero query's AP is not a word's
    [(kind, data, meta)] = cap.pictures(0)
    assert kind == "detections" and meta["example"] == "e1"
    scale = kept.MAX_SIDE / 192
    assert meta["scores"] == [0.9, 0.3, 0.2]  # top 3, best first
    assert meta["boxes"][0] == [round(v * scale, 2) for v in (5, 5, 30, 30)]
    assert meta["targets"] == [[round(v * scale, 2) for v in (5, 5, 30, 30)]]
    assert Image.open(io.BytesIO(data)).size == (kept.MAX_SIDE, kept.MAX_SIDE)


def test_images_table_round_trip_and_old_stores(tmp_path):
    trial = Trial("s", "d", "c", "a", "generation", None, 0)
    png, _ = kept.png(Image.new("RGB", (8, 8), (1, 2, 3)))
    with Store(tmp_path / "st") as store:
        kept.put(store, kept.word_rows("k1", trial, "generation", "in_domain", 0.5, [("generated", png, {"index": 0})]))
        assert kept.has(store, "k1/0")
    with Store(tmp_path / "st", readonly=True) as store:
        [row] = kept.rows(store, "s")
    assert row["data"] == png and row["meta"]["value"] == 0.5 and row["meta"]["method"] == "in_domain"
    # a store written before the images table existed opens, reads as holding none, and gets the table on write
    conn = sqlite3.connect(tmp_path / "st" / "results.sqlite")
    conn.execute("DROP TABLE images")
    conn.commit()
    conn.close()
    with Store(tmp_path / "st", readonly=True) as store:
        assert kept.rows(store, "s") == [] and not kept.has(store, "k1/0")
    with Store(tmp_path / "st") as store:
        assert kept.rows(store, "s") == []
        kept.put(store, kept.word_rows("k2", trial, "generation", "anchor", 0.1, [("generated", png, {})]))
        assert [r["key"] for r in kept.rows(store, "s")] == ["k2/0"]


def test_wanted_words_only():
    t = Trial("s", "d", "c", "own", "generation", None, 0)
    assert kept.wanted(t, "in_domain", "own", 0) and kept.wanted(t, "linear_transfer", "own", 0)
    assert not kept.wanted(t, "constant", "own", 0, controls=["constant"])
    assert not kept.wanted(t, "anchor+linear_transfer", "own", 0)
    assert not kept.wanted(Trial("s", "d", "c", "other", "generation", None, 0), "in_domain", "own", 0)
    assert not kept.wanted(Trial("s", "d", "c", "own", "generation", 0.5, 0), "in_domain", "own", 0)
    assert not kept.wanted(Trial("s", "d", "c", "own", "generation", None, 1), "in_domain", "own", 0)
    # captured (not stored) for every evaluation of the trial's words: a δ-word's nearest token may be the anchor
    assert kept.wanted(Trial("s", "d", "c", "own", "generation", 0.5, 0), None, "own", 0)
    assert not kept.wanted(Trial("s", "d", "c", "other", "generation", None, 0), None, "own", 0)


def test_the_run_keeps_pictures_for_the_grids(mini_run):
    _, store_root, lb = mini_run
    with Store(store_root, readonly=True) as store:
        rows = kept.rows(store, "minirep")
        scores = {
            (s.trial.concept, s.trial.train_task, s.eval_task, s.method): s.value
            for s in store.scores("minirep")
            if s.trial.delta is None
        }
    got = {
        (r["concept"], r["meta"]["train_task"], r["meta"]["eval_task"], r["meta"]["method"])
        for r in rows
        if r["kind"] != "train"
    }
    for c in ("red_square", "green_triangle", "blue_circle"):
        for src in ("generation", "detection", "classification"):
            for ev in ("generation", "detection"):
                want = ("in_domain", "anchor") if src == ev else ("linear_transfer",)
                for m in want:
                    assert (c, src, ev, m) in got, (c, src, ev, m)
    assert not any(k[3] in ("constant", "anchor+linear_transfer") for k in got)
    assert all(
        (c, t, t, "anchor") in got
        for c in ("red_square", "green_triangle", "blue_circle")
        for t in ("generation", "detection")
    )
    for r in rows:  # each picture carries the score it was scored with
        if r["kind"] != "train":
            m = r["meta"]
            assert m["value"] == scores[(r["concept"], m["train_task"], m["eval_task"], m["method"])]
    assert sum(r["kind"] == "train" for r in rows) == 3 * kept.KEEP_TRAIN
    assert sum(len(r["data"]) for r in rows) < 400_000
    for name in ("grid-tiny-objects.png", "detections-tiny-objects.png"):
        with Image.open(lb / name) as im:
            assert im.format == "PNG" and im.size[0] > 500 and im.size[1] > 3 * 64
