"""Where a leaderboard's numbers come from, read from the store alone: the `provenance` block of results.json and
the per-score `scores.jsonl` export.

Everything here is derived from stored records (run metadata written by `Store.begin_run`, the run id of each
score), never from the clock or the running interpreter, so two builds from the same store are byte-identical,
and rebuilding after a run that reused every result changes nothing. The runs that count are those that
computed at least one of the scores shown; the top-level facts are those of the newest of them (by start).
"""

from __future__ import annotations

import json
import time

from vwbench.records import Score

IN_DOMAIN = "in_domain"


def selected_scores(store, suite: str, select=None) -> list[Score]:
    """The stored scores of `suite`, only those `select` (a SuiteSelection) admits when given."""
    from vwbench.errors import VWBenchError

    scores = store.scores(suite)
    if scores and select is not None:
        scores = [s for s in scores if select.admits(s)]
        if not scores:
            raise VWBenchError(
                f"the store at {store.root} holds no scores of the trials selected by "
                f"{select.describe()} in suite {suite!r}"
            )
    return scores


def iso_date(t: float | None) -> str | None:
    """A stored epoch time as an ISO 8601 UTC timestamp (second precision)."""
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(t)))


def score_id(s: Score) -> tuple:
    return (s.trial, s.eval_task, s.method)


def run_ids(store, suite: str) -> dict[tuple, str | None]:
    """{(trial, eval task, method): id of the run that computed the kept score} (the newest one wins, as in
    `latest_scores`)."""
    out = {}
    for trial, eval_task, method, run_id in store.score_runs(suite):
        out[(trial, eval_task, method)] = run_id
    return out


def _models(meta: dict, kinds: set[str]) -> dict:
    """The run's task models (id, revision, task kind) that trained or scored a shown score."""
    return {
        name: {"id": m.get("id"), "revision": m.get("revision"), "task": m.get("kind")}
        for name, m in sorted((meta.get("models") or {}).items())
        if isinstance(m, dict) and m.get("kind") in kinds
    }


def provenance(store, suite: str, kept: list[Score], ids: dict[tuple, str | None] | None = None) -> dict:
    """The `provenance` block for the scores `kept` of `suite` in `store`."""
    ids = run_ids(store, suite) if ids is None else ids
    per_run: dict[str | None, int] = {}
    for s in kept:
        rid = ids.get(score_id(s))
        per_run[rid] = per_run.get(rid, 0) + 1
    runs = [r for r in store.runs() if r["run_id"] in per_run]  # oldest first
    known = {r["run_id"] for r in runs}
    newest = runs[-1] if runs else None
    meta = newest["meta"] if newest else {}
    labels = sorted({s.method for s in kept if s.method != IN_DOMAIN})
    info: dict[str, dict] = {}
    for r in runs:  # the newest run's description wins
        for m in r["meta"].get("method_info") or []:
            if isinstance(m, dict) and m.get("label") in labels:
                info[m["label"]] = m
    methods = [info.get(label, {"label": label, "name": label, "params": None, "submission": None}) for label in labels]
    return {
        "vwbench_version": meta.get("vwbench_version"),
        "git_commit": meta.get("git_commit"),
        "date": iso_date(newest["started"]) if newest else None,
        "python": meta.get("python"),
        "platform": meta.get("platform"),
        "packages": meta.get("packages"),
        "device": meta.get("device"),
        "models": _models(meta, {s.trial.train_task for s in kept} | {s.eval_task for s in kept}) if newest else None,
        "train": meta.get("train"),
        "seeds": sorted({s.trial.seed for s in kept}),
        "methods": methods,
        "runs": [
            {
                "run_id": r["run_id"],
                "date": iso_date(r["started"]),
                "status": r["status"],
                "vwbench_version": r["meta"].get("vwbench_version"),
                "git_commit": r["meta"].get("git_commit"),
                "filters": r["meta"].get("filters"),
                "seeds": r["meta"].get("seeds"),
                "n_scores": per_run[r["run_id"]],
            }
            for r in runs
        ],
        "scores_without_run": sum(n for rid, n in per_run.items() if rid not in known),
    }


def only_filtered_runs(store, suite: str) -> bool:
    """Whether the store records runs of `suite` and every one of them was filtered (--task/--dataset/...)."""
    runs = [r for r in store.runs() if r["meta"].get("suite") == suite]
    return bool(runs) and all(r["meta"].get("filters") for r in runs)


def filter_note(store, suite: str, select=None) -> str:
    """What the leaderboard's intro adds so that a filtered result is not taken for the full suite ("" if none)."""
    if select is not None:
        return f" Filtered run ({select.describe()}): only the selected trials, not the full suite."
    if only_filtered_runs(store, suite):
        return (
            " Every run of this suite recorded in the store was filtered (see provenance.runs in results.json): "
            "these scores may not cover the full suite."
        )
    return ""


def _order(s: Score) -> tuple:
    t = s.trial
    return (
        t.dataset,
        t.concept,
        t.anchor,
        t.train_task,
        t.delta is not None,
        t.delta or 0.0,
        t.seed,
        s.eval_task,
        s.method,
    )


def jsonl(kept: list[Score], ids: dict[tuple, str | None]) -> str:
    """Every kept score as one JSON object per line (trial fields, eval task, method, metric, value, extra,
    run id), in a fixed order: dataset, concept, anchor, trained-for task, δ (unconstrained first), seed,
    evaluated task, method."""
    lines = []
    for s in sorted(kept, key=_order):
        row = {
            **s.as_dict()["trial"],
            "eval_task": s.eval_task,
            "method": s.method,
            "metric": s.metric,
            "value": s.value,
            "extra": s.extra,
            "run_id": ids.get(score_id(s)),
        }
        lines.append(json.dumps(row, sort_keys=False, ensure_ascii=False, separators=(", ", ": ")))
    return "".join(line + "\n" for line in lines)
