"""Leaderboard sections (title, note, table, image) rendered as Markdown and HTML with tabulate."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from tabulate import tabulate

from vwbench import paper_reference
from vwbench.report.aggregate import (
    BOOTSTRAP,
    IN_DOMAIN,
    TASK_ORDER,
    Cell,
    cell_id,
    deltas_of,
    matrix_cell,
    short,
    task_order,
    transfer_methods,
)


@dataclass
class Section:
    title: str
    note: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    image: str | None = None
    level: int = 2


def fmt_cell(c: Cell | None) -> str:
    if c is None:
        return "–"
    return f"{c.mean:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}] n={c.n}"


def fmt_paper(p) -> str:
    if p is None:
        return ""
    if p.ci_low is None:
        return f"paper ≈{p.mean:.3f}"
    return f"paper {p.mean:.3f} [{p.ci_low:.3f}, {p.ci_high:.3f}]"


def _with_paper(text: str, p, reference: bool) -> str:
    return f"{text} · {fmt_paper(p)}" if reference and p is not None else text


def matrix_sections(cells: dict[str, Cell], datasets: list[str], reference: bool) -> list[Section]:
    out = []
    methods = transfer_methods({k: c for k, c in cells.items() if c.delta is None}) or [IN_DOMAIN]
    for dataset in datasets:
        here = [c for c in cells.values() if c.dataset == dataset and c.delta is None]
        if not here:
            continue
        tasks = task_order({c.train_task for c in here} | {c.eval_task for c in here})
        for method in methods:
            rows = []
            for train in tasks:
                row = [f"{train} ({short(train)})"]
                for ev in tasks:
                    p = paper_reference.cell(dataset, train, ev) if method == paper_reference.METHOD else None
                    row.append(_with_paper(fmt_cell(matrix_cell(cells, dataset, train, ev, method)), p, reference))
                rows.append(row)
            metrics = ", ".join(f"{ev}: {next(c.metric for c in here if c.eval_task == ev)}" for ev in tasks
                                if any(c.eval_task == ev for c in here))
            out.append(Section(
                f"Transfer matrix: {dataset}, {method}",
                f"Unconstrained words. Rows: task trained for; columns: task evaluated ({metrics}). "
                "Diagonal: in-domain. Cell: mean [95% CI] n.",
                ["trained for \\ evaluated"] + tasks, rows))
    return out


def method_section(board: list[dict], paper_row: dict | None) -> Section:
    names = {d for r in board for d in r["directions"]} | set(paper_row["directions"] if paper_row else ())
    rank = {short(t): i for i, t in enumerate(TASK_ORDER)}
    directions = sorted(names, key=lambda d: [(rank.get(t, len(rank)), t) for t in d.split("->")])
    rows = []
    for r in board:
        rows.append([str(r["rank"]), r["method"], f"{r['mean_ratio']:.3f}", str(r["n"])]
                    + [f"{r['directions'][d]['ratio']:.3f} n={r['directions'][d]['n']}" if d in r["directions"]
                       else "–" for d in directions])
    if paper_row:
        rows.append(["ref", paper_row["method"], f"{paper_row['mean_ratio']:.3f}", str(paper_row["n"])]
                    + [f"{paper_row['directions'][d]['ratio']:.3f}" if d in paper_row["directions"] else "–"
                       for d in directions])
    return Section(
        "Method leaderboard",
        "Transfer ratio per (dataset, a->b): mean transferred score / mean in-domain score of b (unconstrained). "
        "Per direction: mean over datasets; overall: mean over every (dataset, direction). n: transferred trials.",
        ["rank", "method", "mean ratio", "n"] + directions, rows)


def delta_sections(cells: dict[str, Cell], datasets: list[str], plots: dict[str, str],
                   reference: bool) -> list[Section]:
    out = []
    for dataset in datasets:
        deltas = deltas_of(cells, dataset)
        if not deltas:
            continue
        here = [c for c in cells.values() if c.dataset == dataset and c.delta is not None]
        order = task_order({c.eval_task for c in here} | {c.train_task for c in here})
        series = sorted({(c.eval_task, c.train_task, c.method) for c in here},
                        key=lambda s: (order.index(s[0]), s[1] != s[0], order.index(s[1]), s[2]))
        rows = []
        for ev, train, method in series:
            row = [ev, f"{short(train)}->{short(ev)}", method]
            for d in deltas:
                c = cells.get(cell_id(dataset, train, ev, method, d))
                p = paper_reference.cell(dataset, train, ev, d) if method in (IN_DOMAIN, paper_reference.METHOD) else None
                row.append(_with_paper(fmt_cell(c), p, reference))
            rows.append(row)
        out.append(Section(f"δ-curves: {dataset}",
                           "Words trained inside a ball of relative radius δ around their anchor. Cell: mean [95% CI] n.",
                           ["evaluated", "trained for", "method"] + [f"δ = {d:g}" for d in deltas], rows,
                           image=plots.get(dataset)))
    return out


def intro(suite: str, n_scores: int, superseded: int, reference: bool) -> Section:
    b = BOOTSTRAP
    note = (f"{n_scores} scores from the store of suite `{suite}`"
            + (f" ({superseded} older duplicates superseded)" if superseded else "")
            + f". CIs: {b['method']} bootstrap of the mean over trials, {b['resamples']} resamples, seed {b['seed']}, "
            f"{b['confidence']:.0%}; n = 1 gives the value itself."
            + (" `paper` values: PROTOCOL.md section 11 (read off the paper's plots)." if reference else ""))
    return Section(f"vwbench leaderboard: {suite}", note, level=1)


def markdown(sections: list[Section]) -> str:
    parts = []
    for s in sections:
        parts.append("#" * s.level + " " + s.title + "\n")
        if s.note:
            parts.append(s.note + "\n")
        if s.rows:
            parts.append(tabulate(s.rows, headers=s.headers, tablefmt="github", disable_numparse=True) + "\n")
        if s.image:
            parts.append(f"![{s.title}]({s.image})\n")
    return "\n".join(parts)


def html_page(sections: list[Section]) -> str:
    title = html.escape(sections[0].title) if sections else "vwbench leaderboard"
    body = []
    for s in sections:
        body.append(f"<h{s.level}>{html.escape(s.title)}</h{s.level}>")
        if s.note:
            body.append(f"<p>{html.escape(s.note)}</p>")
        if s.rows:
            body.append(tabulate(s.rows, headers=s.headers, tablefmt="html", disable_numparse=True))
        if s.image:
            body.append(f'<p><img src="{html.escape(s.image)}" alt="{html.escape(s.title)}"></p>')
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:4px 8px;font-size:90%}")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f"<style>{style}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")
