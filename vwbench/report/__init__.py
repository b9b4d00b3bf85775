"""Leaderboards rebuilt from a store alone: transfer matrices, δ-curves, the method leaderboard.

`build_leaderboard(store, suite, out_dir)` writes `leaderboard.md`, `leaderboard.html`, `results.json` (validated by
`schemas/leaderboard.schema.json`), `scores.jsonl`, the figures (`delta-<dataset>.png/.svg`, `matrix-<dataset>.png/.svg`,
the image grids `grid-<dataset>.png` and `detections-<dataset>.png` from the pictures the scoring pass kept) and
`report.html`, one self-contained page of all of them (docs/report.md); two builds from the same store are
byte-identical. `format_matrix` / `print_matrix` give the run loop a quick text matrix per dataset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from vwbench import __version__, atomic, paper_reference
from vwbench.errors import VWBenchError
from vwbench.records import Score
from vwbench.report.aggregate import (
    IN_DOMAIN,
    Cell,
    aggregate,
    bootstrap_ci,
    cell_id,
    datasets_of,
    latest_scores,
    matrix_cell,
    method_leaderboard,
    short,
    task_order,
    transfer_methods,
)
from vwbench.report.concepts import per_concept
from vwbench.report.stats import BOOTSTRAP, PERMUTATIONS

__all__ = [
    "FORMAT_VERSION",
    "Cell",
    "aggregate",
    "bootstrap_ci",
    "build_leaderboard",
    "cell_id",
    "format_matrix",
    "leaderboard_doc",
    "print_matrix",
    "validate_doc",
]

FORMAT_VERSION = 2
FILES = {
    "markdown": "leaderboard.md",
    "html": "leaderboard.html",
    "json": "results.json",
    "jsonl": "scores.jsonl",
    "report": "report.html",
}


def _paper_method_row() -> dict:
    per_dir: dict[str, list[float]] = {}
    for ds in paper_reference.DATASETS:
        for a in paper_reference.TASKS:
            for b in paper_reference.TASKS:
                r = paper_reference.transfer_ratio(ds, a, b) if a != b else None
                if r is not None:
                    per_dir.setdefault(f"{short(a)}->{short(b)}", []).append(r)
    every = [r for v in per_dir.values() for r in v]
    n_ds = paper_reference.TRIALS_PER_CELL
    return {
        "method": f"paper ({paper_reference.METHOD})",
        "mean_ratio": round(sum(every) / len(every), 6),
        "n": n_ds * len(every),
        "directions": {
            d: {"ratio": round(sum(v) / len(v), 6), "n": n_ds * len(v), "datasets": len(v)}
            for d, v in sorted(per_dir.items())
        },
    }


def leaderboard_doc(
    scores: list[Score],
    suite: str,
    reference: bool | None = None,
    plots: dict[str, str] | None = None,
    provenance: dict | None = None,
    filters: dict | None = None,
    vectors: list[tuple] = (),
    cells: dict[str, Cell] | None = None,
) -> dict:
    """The results.json document of a suite's scores (no file is written); `vectors` are the store's
    (key, trial, meta) rows behind the per-concept table, `cells` the aggregate of the same scores if known."""
    scores, superseded = latest_scores(scores)
    cells = aggregate(scores) if cells is None else cells
    reference = (suite == "paper") if reference is None else reference
    doc = {
        "format_version": FORMAT_VERSION,
        "generated_by": f"vwbench {__version__}",
        "suite": suite,
        "bootstrap": dict(BOOTSTRAP),
        "permutation_test": dict(PERMUTATIONS),
        "n_scores": len(scores),
        "superseded": superseded,
        "datasets": datasets_of(cells),
        "methods": transfer_methods(cells),
        "cells": {k: c.as_dict() for k, c in cells.items()},
        "method_leaderboard": method_leaderboard(scores, cells),
        "per_concept": per_concept(scores, vectors),
        "plots": dict(sorted((plots or {}).items())),
        "paper": None,
        "filters": filters or None,  # --task/--dataset/--concept/--limit of a filtered run; None: no filter
        "provenance": provenance,  # report/provenance.py; None when built from scores alone
    }
    screened = [s for s in scores if "safety_flags" in (s.extra or {})]
    if screened:  # only runs with --safety-checker add this key
        doc["safety_flags"] = {
            "flagged_images": sum(int(s.extra["safety_flags"]) for s in screened),
            "screened_images": sum(int(s.extra.get("n_images", 0)) for s in screened),
            "scores": len(screened),
        }
    if reference:
        doc["paper"] = {
            "method": paper_reference.METHOD,
            "method_row": _paper_method_row(),
            "cells": {
                cell_id(
                    p.dataset,
                    p.train_task,
                    p.eval_task,
                    IN_DOMAIN if p.train_task == p.eval_task else paper_reference.METHOD,
                    p.delta,
                ): {
                    "mean": p.mean,
                    "ci": None if p.ci_low is None else [p.ci_low, p.ci_high],
                    "n": paper_reference.TRIALS_PER_CELL,
                }
                for p in (*paper_reference.FIGURE3, *paper_reference.FIGURE6)
            },
        }
    return doc


def validate_doc(doc: dict, where: str = "results.json") -> None:
    """Raise VWBenchError naming the first place where `doc` breaks the leaderboard schema."""
    import jsonschema

    from vwbench.spec import schema

    errors = sorted(jsonschema.Draft202012Validator(schema("leaderboard")).iter_errors(doc), key=lambda e: e.path)
    if errors:
        e = errors[0]
        path = "/".join(str(p) for p in e.absolute_path) or "<root>"
        raise VWBenchError(f"{where}: {path}: {e.message}")


def _dump(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> None:
    atomic.write_text(path, text)


def build_leaderboard(store, suite_name: str, out_dir, reference: bool | None = None, select=None) -> dict:
    """Rebuild every table and plot of `suite_name` from `store` into `out_dir`; returns the JSON document.

    `select` (a `vwbench.selection.SuiteSelection`, for a filtered run) keeps only the scores of the selected
    trials and labels the leaderboard as filtered. `scores.jsonl` beside results.json lists every kept score."""
    from vwbench.report import html_report, render
    from vwbench.report import plots as plotting
    from vwbench.report import provenance as prov

    scores = prov.selected_scores(store, suite_name, select)
    if not scores:
        have = ", ".join(store.suites()) or "none"
        raise VWBenchError(
            f"the store at {store.root} holds no scores of suite {suite_name!r} (suites with scores: "
            f"{have}); run `vwbench run --suite {suite_name}` first or pass --suite/--store"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reference = (suite_name == "paper") if reference is None else reference
    kept, superseded = latest_scores(scores)
    cells = aggregate(kept)
    plots, figures = {}, {}
    for ds in datasets_of(cells):
        name = f"delta-{ds}.png"
        if plotting.delta_plot(cells, ds, out / name, reference=reference) is not None:
            plots[ds] = name
            figures.setdefault(ds, {})["delta"] = name
        if plotting.matrix_heatmap(cells, ds, out / f"matrix-{ds}.png") is not None:
            figures.setdefault(ds, {})["heatmap"] = f"matrix-{ds}.png"
    ids = prov.run_ids(store, suite_name)
    doc = leaderboard_doc(
        scores,
        suite_name,
        reference=reference,
        plots=plots,
        provenance=prov.provenance(store, suite_name, kept, ids),
        filters=select.as_dict() if select is not None else None,
        vectors=store.vectors(suite_name),
        cells=cells,
    )
    validate_doc(doc)
    datasets = datasets_of(cells)
    paper_row = doc["paper"]["method_row"] if doc["paper"] else None
    parts = {
        "intro": [render.intro(suite_name, len(kept), superseded, reference)],
        "matrix": render.matrix_sections(cells, datasets, reference),
        "method": [render.method_section(doc["method_leaderboard"], paper_row)],
        "delta": render.delta_sections(cells, datasets, plots, reference),
        "snap": [render.snap_section(doc["per_concept"]["snap"])],
        "concept": render.concept_sections(doc["per_concept"]["trials"], datasets),
    }
    parts["intro"][0].note += prov.filter_note(store, suite_name, select)  # "" unless filtered
    sections = [s for group in parts.values() for s in group]
    _grids(store, suite_name, doc, datasets, out, figures)
    _write(out / FILES["json"], _dump(doc))
    _write(out / FILES["jsonl"], prov.jsonl(kept, ids))
    _write(out / FILES["markdown"], render.markdown(sections))
    _write(out / FILES["html"], html_report.html_page(sections, report=FILES["report"]))
    _write(
        out / FILES["report"],
        html_report.report_page(suite_name, doc, parts, figures, out, Path(store.root) / "analysis" / suite_name),
    )
    return doc


def _grids(store, suite: str, doc: dict, datasets: list[str], out: Path, figures: dict) -> None:
    """The image grids of the pictures the scoring pass kept (report/grids.py), into `figures`."""
    from vwbench import pictures as kept
    from vwbench.report import grids

    rows = kept.rows(store, suite)
    if not rows:
        return
    order: dict[str, list[str]] = {}
    for t in doc["per_concept"]["trials"]:
        order.setdefault(t["dataset"], [])
        if t["concept"] not in order[t["dataset"]]:
            order[t["dataset"]].append(t["concept"])
    for ds, files in grids.grids(rows, datasets, order, {}, out).items():
        figures.setdefault(ds, {}).update(files)


def format_matrix(scores: Iterable[Score], dataset: str, method: str | None = None) -> str:
    """The unconstrained transfer matrix of one dataset as plain text (rows: trained for; columns: evaluated)."""
    from tabulate import tabulate

    from vwbench.report.render import fmt_cell

    kept, _ = latest_scores([s for s in scores if s.trial.dataset == dataset and s.trial.delta is None])
    cells = aggregate(kept)
    if not cells:
        return f"{dataset}: no unconstrained scores"
    methods = transfer_methods(cells)
    method = method or (paper_reference.METHOD if paper_reference.METHOD in methods else (methods or [IN_DOMAIN])[0])
    tasks = task_order({c.train_task for c in cells.values()} | {c.eval_task for c in cells.values()})
    rows = [[short(a)] + [fmt_cell(matrix_cell(cells, dataset, a, b, method)) for b in tasks] for a in tasks]
    table = tabulate(rows, headers=["trained \\ evaluated"] + [short(t) for t in tasks], disable_numparse=True)
    return f"{dataset} ({method}; mean [95% CI] n)\n{table}"


def print_matrix(scores: Iterable[Score], dataset: str, method: str | None = None) -> None:
    print(format_matrix(scores, dataset, method))
