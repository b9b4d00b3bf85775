"""Pictures kept from the scoring pass: a few generations and detections per word, for the leaderboard's grids.

`capture(model)` wraps a task model's `generate` (generation) or `predictions` (detection) on the instance for one
`evaluate` call, so the images and boxes are those the score was computed from, not a second sampling. Only the
words a grid shows are kept (`wanted`): unconstrained trials of a concept's first anchor and first seed, scored
in-domain, as the untrained anchor, or transferred by a non-control method. Each keeps `KEEP` small PNGs, so the
default micro run adds a few hundred kilobytes to its store. Rows live in the store's `images` table
(store_db.ADDITIVE); an old store without it reads as holding none.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import time

KEEP = 3  # generations (or test images with detections) kept per word
KEEP_TRAIN = 3  # training images kept per concept
TOP_BOXES = 3  # detections drawn per test image
MAX_SIDE = 96  # thumbnails are at most this many pixels on a side


def png(image, max_side: int = MAX_SIDE) -> tuple[bytes, float]:
    """A PIL image as PNG bytes, shrunk to `max_side` (returns the bytes and the scale applied)."""
    im = image.convert("RGB")
    scale = min(1.0, max_side / max(im.size))
    if scale < 1.0:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue(), scale


def wanted(trial, method: str | None, first_anchor: str, first_seed: int, controls=()) -> bool:
    """Whether the grids show this word's pictures (see the module docstring). method None: whether to capture
    the pictures of an evaluation of this trial's words, δ-ball ones included: the study evaluates a vector once
    per concept, and a control's vector (a nearest token that is the anchor itself) may come first."""
    if method is None:
        return trial.anchor == first_anchor and trial.seed == first_seed
    return (
        trial.delta is None
        and trial.anchor == first_anchor
        and trial.seed == first_seed
        and method not in controls
        and not method.startswith("anchor+")
    )


class Capture:
    """What one `evaluate` call produced, per word in call order: [(kind, png, meta)]; `wanted` (a bool per
    word, None: all) skips the work for words whose pictures nobody keeps."""

    def __init__(self, wanted=None):
        self.words: list[list[tuple[str, bytes, dict]]] = []
        self.wanted = None if wanted is None else list(wanted)

    def wants(self, k: int) -> bool:
        return self.wanted is None or (k < len(self.wanted) and self.wanted[k])

    def pictures(self, k: int) -> list[tuple[str, bytes, dict]]:
        return self.words[k] if k < len(self.words) else []


def _generated(cap: Capture, original):
    def generate(vectors, placeholder_ids):
        out = original(vectors, placeholder_ids)
        for images in out:
            cap.words.append(
                [("generated", png(im)[0], {"index": i, "size": list(im.size)}) for i, im in enumerate(images[:KEEP])]
                if cap.wants(len(cap.words))
                else []
            )
        return out

    return generate


def _detections(cap: Capture, model, original_predictions, original_zero, state: dict):
    def zero_query(*args, **kwargs):
        state["chance"] = True  # the zero query's predictions are no word's: not kept
        try:
            return original_zero(*args, **kwargs)
        finally:
            state["chance"] = False

    def predictions(images, concept, data, scores_of):
        if not state["chance"] and not cap.wants(len(cap.words)):
            cap.words.append([])
        elif not state["chance"]:
            test = model.cache(data.name)["test"]
            kept = []
            for e in [e for e in images if e.target_boxes(concept)][:KEEP]:
                scores = scores_of(test[e.key]).float().cpu()
                top = scores.argsort(descending=True)[:TOP_BOXES]
                image = e.image()
                data_png, scale = png(image)
                boxes = (test[e.key]["boxes"][top] * scale).tolist()
                kept.append(
                    (
                        "detections",
                        data_png,
                        {
                            "example": e.key,
                            "size": [round(s * scale) for s in image.size],
                            "boxes": [[round(v, 2) for v in b] for b in boxes],
                            "scores": [round(float(s), 4) for s in scores[top]],
                            "targets": [[round(v * scale, 2) for v in b] for b in e.target_boxes(concept)],
                        },
                    )
                )
            cap.words.append(kept)
        return original_predictions(images, concept, data, scores_of)

    return predictions, zero_query


@contextlib.contextmanager
def capture(model, task: str, wanted=None):
    """Within the block, `model.evaluate` records what each word's score was computed from (a Capture)."""
    cap = Capture(wanted)
    patched = []
    if task == "generation" and hasattr(model, "generate"):
        patched.append(("generate", _generated(cap, model.generate)))
    elif task == "detection" and hasattr(model, "predictions"):
        predictions, zero = _detections(cap, model, model.predictions, model.zero_query, {"chance": False})
        patched += [("predictions", predictions), ("zero_query", zero)]
    for name, fn in patched:
        setattr(model, name, fn)  # instance attributes shadow the class's methods
    try:
        yield cap
    finally:
        for name, _ in patched:
            delattr(model, name)


# ---- the store's images table ----------------------------------------------------------------------------


def put(store, rows: list[dict], run_id: str | None = None) -> None:
    """Store rows {key, suite, dataset, concept, kind, meta, data}; a key already held is replaced."""
    if not rows:
        return
    now = time.time()
    store._transaction(
        lambda conn: conn.executemany(
            "INSERT OR REPLACE INTO images (key, suite, dataset, concept, kind, meta_json, data, run_id, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r["key"],
                    r["suite"],
                    r["dataset"],
                    r["concept"],
                    r["kind"],
                    json.dumps(r["meta"], sort_keys=True),
                    sqlite3.Binary(r["data"]),
                    run_id,
                    now,
                )
                for r in rows
            ],
        )
    )


def has(store, key: str) -> bool:
    try:
        return bool(store._query("SELECT 1 FROM images WHERE key = ? LIMIT 1", (key,)))
    except Exception:  # noqa: BLE001 - a store from before the images table holds none
        return False


def rows(store, suite: str) -> list[dict]:
    """Every kept picture of a suite (key order), as {key, dataset, concept, kind, meta, data, created}; [] for an old
    store without the table."""
    try:
        found = store._query("SELECT * FROM images WHERE suite = ? ORDER BY key", (suite,))
    except Exception as exc:
        if "no such table" in str(exc):
            return []
        raise
    return [
        {
            "key": r["key"],
            "dataset": r["dataset"],
            "concept": r["concept"],
            "kind": r["kind"],
            "meta": json.loads(r["meta_json"]),
            "data": bytes(r["data"]),
            "created": r["created"],
        }
        for r in found
    ]


def word_rows(
    score_key: str, trial, eval_task: str, method: str, value: float, pictures: list[tuple[str, bytes, dict]]
) -> list[dict]:
    """Image rows of one scored word, keyed by its score key."""
    meta = {
        "train_task": trial.train_task,
        "eval_task": eval_task,
        "method": method,
        "anchor": trial.anchor,
        "seed": trial.seed,
        "value": value,
        "score_key": score_key,
    }
    return [
        {
            "key": f"{score_key}/{i}",
            "suite": trial.suite,
            "dataset": trial.dataset,
            "concept": trial.concept,
            "kind": kind,
            "meta": {**meta, **m},
            "data": data,
        }
        for i, (kind, data, m) in enumerate(pictures)
    ]


def train_rows(store, suite: str, data, concepts, ds_key: str) -> list[dict]:
    """The first KEEP_TRAIN training images of each concept not yet kept (keyed by the dataset's identity)."""
    out = []
    for c in concepts:
        for i, e in enumerate(data.train[c][:KEEP_TRAIN]):
            key = f"train/{ds_key}/{c}/{i}"
            if not has(store, key):
                out.append(
                    {
                        "key": key,
                        "suite": suite,
                        "dataset": data.name,
                        "concept": c,
                        "kind": "train",
                        "meta": {"example": e.key, "index": i},
                        "data": png(e.image())[0],
                    }
                )
    return out
