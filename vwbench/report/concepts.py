"""What the paper argues with, per trial: how far a learned word moved from its anchor, which words it is
nearest to before and after transfer, and how often a transferred word snaps back to its anchor."""

from __future__ import annotations

from collections import defaultdict

from vwbench.records import Score
from vwbench.report.aggregate import ANCHOR, IN_DOMAIN, _r, is_anchor, short, task_order


def word(token: str) -> str:
    """A vocabulary string as a reader writes it ('cat</w>' -> 'cat')."""
    return token.removesuffix("</w>")


def per_concept(scores: list[Score], vectors: list[tuple] = ()) -> dict:
    """{"trials": [...], "snap": {method: {direction: {"rate", "n"}}}} for the unconstrained trials.

    `vectors` are the store's (key, trial, meta) rows; their meta gives ‖v − anchor‖ / d_nn. A transferred word
    *snaps* when its nearest target token is its anchor word."""
    meta = {t: m for _, t, m in vectors if t.delta is None}
    rows: dict = {}
    snaps: dict = defaultdict(lambda: defaultdict(list))
    for s in sorted(
        (s for s in scores if s.trial.delta is None), key=lambda s: (s.trial.label(), s.eval_task, s.method)
    ):
        t = s.trial
        row = rows.setdefault(
            t,
            {
                "dataset": t.dataset,
                "concept": t.concept,
                "anchor": t.anchor,
                "seed": t.seed,
                "train_task": t.train_task,
                "anchor_distance": None,
                "nearest_tokens": None,
                "in_domain": None,
                "anchor_score": None,
                "transfers": {},
            },
        )
        if t in meta and meta[t].get("anchor_distance") is not None:
            row["anchor_distance"] = _r(meta[t]["anchor_distance"])
        nearest = [word(x) for x in s.extra.get("nearest_tokens", [])]
        if s.method == IN_DOMAIN:
            row["in_domain"], row["nearest_tokens"] = _r(s.value), nearest
        elif s.method == ANCHOR:
            row["anchor_score"] = _r(s.value)
        elif not is_anchor(s.method):
            snapped = bool(nearest) and nearest[0] == t.anchor
            row["transfers"].setdefault(s.method, {})[s.eval_task] = {
                "score": _r(s.value),
                "nearest_tokens": nearest,
                "snapped": snapped,
            }
            if nearest:
                snaps[s.method][f"{short(t.train_task)}->{short(s.eval_task)}"].append(snapped)
    snap = {
        m: {d: {"rate": _r(sum(v) / len(v)), "n": len(v)} for d, v in sorted(dirs.items())}
        for m, dirs in sorted(snaps.items())
    }
    order = {t: i for i, t in enumerate(task_order({r["train_task"] for r in rows.values()}))}
    trials = sorted(
        rows.values(), key=lambda r: (r["dataset"], order[r["train_task"]], r["concept"], r["anchor"], r["seed"])
    )
    return {"trials": trials, "snap": snap}
