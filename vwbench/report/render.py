"""Leaderboard sections (title, note, table, image) rendered as Markdown and HTML with tabulate."""

from __future__ import annotations

from dataclasses import dataclass, field

from tabulate import tabulate

from vwbench import paper_reference
from vwbench.report.aggregate import (
    ANCHOR,
    ANCHOR_VIA,
    CONTROL_METHODS,
    IN_DOMAIN,
    TASK_ORDER,
    Cell,
    anchor_cell,
    cell_id,
    deltas_of,
    matrix_cell,
    short,
    task_order,
    transfer_methods,
)
from vwbench.report.stats import BOOTSTRAP, PERMUTATIONS

DEGENERATE = "†"
DEGENERATE_NOTE = f"{DEGENERATE}: zero-width CI (one concept, or every trial scored the same); it shows no uncertainty."
VERSUS = {"anchor": "A", "constant": "C", "random_map": "R", "nearest_token": "N", "linear_transfer": "L"}


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
    mark = DEGENERATE if c.degenerate else ""
    return f"{c.mean:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}]{mark} n={c.n}"


def fmt_ratio(r: dict | None, total: int | None = None) -> str:
    if r is None or r["value"] is None:
        return "n/a"
    ci = "[unbounded]" if r["ci"] is None else f"[{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]"
    of = f" ({r['defined']}/{total} directions)" if total is not None and r.get("defined", total) < total else ""
    return f"{r['value']:.2f} {ci}{of}"


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
        metrics = ", ".join(
            f"{ev}: {next(c.metric for c in here if c.eval_task == ev)}"
            for ev in tasks
            if any(c.eval_task == ev for c in here)
        )
        for method in methods:
            rows = []
            for train in tasks:
                row = [f"{train} ({short(train)})"]
                for ev in tasks:
                    p = paper_reference.cell(dataset, train, ev) if method == paper_reference.METHOD else None
                    row.append(_with_paper(fmt_cell(matrix_cell(cells, dataset, train, ev, method)), p, reference))
                rows.append(row)
                if any(c.method == ANCHOR for c in here):
                    rows.append(
                        [f"{short(train)} anchor, untrained"]
                        + [fmt_cell(anchor_cell(cells, dataset, train, ev, method)) for ev in tasks]
                    )
            control = " (a control: it carries no learned meaning)" if method in CONTROL_METHODS else ""
            out.append(
                Section(
                    f"Transfer matrix: {dataset}, {method}{control}",
                    f"Unconstrained words. Rows: task trained for; columns: task evaluated ({metrics}). "
                    "Diagonal: in-domain. `anchor, untrained` rows: the anchor word itself, the word learning starts "
                    f"from, scored in-domain and transferred the same way. Cell: mean [95% CI] n. {DEGENERATE_NOTE}",
                    ["trained for \\ evaluated"] + tasks,
                    rows,
                )
            )
        out.append(controls_section(cells, dataset, tasks))
        secondary = secondary_section(here, dataset, tasks, methods)
        if secondary is not None:
            out.append(secondary)
    return out


def secondary_section(here: list[Cell], dataset: str, tasks: list[str], methods: list[str]) -> Section | None:
    """The secondary metrics the tasks tabulate (`metric.table`), one row per unconstrained cell; None if none."""
    shown = list(dict.fromkeys(m for c in here for m in c.table))
    if not shown:
        return None
    rank = {m: i for i, m in enumerate([IN_DOMAIN, ANCHOR, *methods])}
    rows = []
    for c in sorted(
        (c for c in here if c.table),
        key=lambda c: (
            tasks.index(c.eval_task),
            c.train_task != c.eval_task,
            tasks.index(c.train_task),
            rank.get(c.method, len(rank)),
            c.method,
        ),
    ):
        values = {m: (v, lo, hi) for m, v, lo, hi in c.metrics if m in c.table}
        rows.append(
            [
                c.eval_task,
                f"{short(c.train_task)}->{short(c.eval_task)}",
                c.method,
                *(
                    f"{values[m][0]:.3f} [{values[m][1]:.3f}, {values[m][2]:.3f}]" if m in values else "–"
                    for m in shown
                ),
                str(c.n),
            ]
        )
    return Section(
        f"Secondary metrics: {dataset}",
        "Unconstrained words: the secondary metrics each evaluated task tabulates (`metric.table` of its task spec; "
        "results.json holds every secondary of `metric.also`). Cell: mean [95% CI]; n as in the matrices.",
        ["evaluated", "direction", "method", *shown, "n"],
        rows,
        level=3,
    )


def controls_section(cells: dict[str, Cell], dataset: str, tasks: list[str]) -> Section:
    """What trivial words score in each evaluated task beside the metric's analytic chance and the learned word."""
    rows = []
    for ev in tasks:
        home = cells.get(cell_id(dataset, ev, ev, IN_DOMAIN, None))
        anchor = cells.get(cell_id(dataset, ev, ev, ANCHOR, None))
        row = [
            ev,
            home.metric if home else "–",
            "–" if home is None or home.chance is None else f"{home.chance:.3f}",
            fmt_cell(anchor),
            fmt_cell(home),
        ]
        for m in CONTROL_METHODS:
            got = [(a, cells.get(cell_id(dataset, a, ev, m, None))) for a in tasks if a != ev]
            row.append(" · ".join(f"{short(a)}: {c.mean:.3f}" for a, c in got if c is not None) or "–")
        rows.append(row)
    return Section(
        f"Controls: {dataset}",
        "Unconstrained trials. Chance: the metric's analytic chance (1/K labels for generation, 0.5 AUROC for "
        "classification, the zero query, objectness alone, for detection); the control "
        "methods' means per source task are its empirical chance. A learned or transferred word is worth "
        "something only where it beats these (docs/metrics.md).",
        ["evaluated", "metric", "chance", "anchor, untrained", "learned (in-domain)", *CONTROL_METHODS],
        rows,
        level=3,
    )


def method_section(board: list[dict], paper_row: dict | None) -> Section:
    names = {d for r in board for d in r["directions"]} | set(paper_row["directions"] if paper_row else ())
    rank = {short(t): i for i, t in enumerate(TASK_ORDER)}
    directions = sorted(names, key=lambda d: [(rank.get(t, len(rank)), t) for t in d.split("->")])
    rows = []
    for r in board:
        cols = []
        for d in directions:
            e = r["directions"].get(d)
            if e is None:
                cols.append("–")
                continue
            beats = "".join(VERSUS[o] for o in VERSUS if e["versus"].get(o, {}).get("beats"))
            cols.append(f"{fmt_ratio(e['corrected'].get(r['score_baseline']))} {beats or '·'}")
        raw = "n/a" if r["mean_ratio"] is None else f"{r['mean_ratio']:.3f}"
        total = r["directions_total"]
        rows.append(
            [
                str(r["rank"]),
                r["method"] + (" (control)" if r["control"] else ""),
                fmt_ratio(r["score"], total),
                fmt_ratio(r["corrected"].get("chance"), total),
                raw,
                str(r["n"]),
            ]
            + cols
        )
    if paper_row:
        rows.append(
            ["ref", paper_row["method"], "–", "–", f"{paper_row['mean_ratio']:.3f}", str(paper_row["n"])]
            + [
                f"raw {paper_row['directions'][d]['ratio']:.3f}" if d in paper_row["directions"] else "–"
                for d in directions
            ]
        )
    p = PERMUTATIONS
    return Section(
        "Method leaderboard",
        "Ranked by the corrected transfer ratio: per direction a->b, (transferred − anchor) / (in-domain − anchor) "
        "summed over matched unconstrained trials of every dataset, the anchor being the untrained anchor word "
        "scored in b; a method that does no better than the anchor word scores 0, one that carries all of "
        "b's in-domain gain scores 1. `vs chance`: the same with the metric's analytic chance as baseline. "
        "`raw`: the paper's uncorrected mean transferred / mean in-domain. [CI]: 95% bootstrap over concepts; "
        "n/a or unbounded where the in-domain gain over the baseline is not above 0 (in some resample); the "
        "overall score averages the directions where it is defined. "
        f"Letters: significantly better than (one-sided paired sign-flip permutation test over concepts, "
        f"{p['resamples']} permutations, Holm-corrected over directions, p < {p['level']}) "
        + ", ".join(f"{v} {k}" for k, v in VERSUS.items())
        + "; · none.",
        ["rank", "method", "corrected vs anchor", "vs chance", "raw", "n"] + directions,
        rows,
    )


def delta_sections(
    cells: dict[str, Cell], datasets: list[str], plots: dict[str, str], reference: bool
) -> list[Section]:
    out = []
    for dataset in datasets:
        deltas = deltas_of(cells, dataset)
        if not deltas:
            continue
        here = [c for c in cells.values() if c.dataset == dataset and c.delta is not None]
        order = task_order({c.eval_task for c in here} | {c.train_task for c in here})
        series = sorted(
            {(c.eval_task, c.train_task, c.method) for c in here},
            key=lambda s: (order.index(s[0]), s[1] != s[0], order.index(s[1]), s[2]),
        )
        rows = []
        for ev, train, method in series:
            label = ANCHOR if method == IN_DOMAIN else ANCHOR_VIA + method
            row = [
                ev,
                f"{short(train)}->{short(ev)}",
                method,
                fmt_cell(cells.get(cell_id(dataset, train, ev, label, None))),
            ]
            for d in deltas:
                c = cells.get(cell_id(dataset, train, ev, method, d))
                p = (
                    paper_reference.cell(dataset, train, ev, d)
                    if method in (IN_DOMAIN, paper_reference.METHOD)
                    else None
                )
                row.append(_with_paper(fmt_cell(c), p, reference))
            rows.append(row)
        out.append(
            Section(
                f"δ-curves: {dataset}",
                "Words trained inside a ball of relative radius δ around their anchor. δ = 0 is the "
                f"untrained anchor word itself. Cell: mean [95% CI] n. {DEGENERATE_NOTE}",
                ["evaluated", "trained for", "method", "δ = 0 (anchor)"] + [f"δ = {d:g}" for d in deltas],
                rows,
                image=plots.get(dataset),
            )
        )
    return out


def snap_section(snap: dict) -> Section:
    directions = sorted({d for dirs in snap.values() for d in dirs})
    rows = [
        [m] + [f"{dirs[d]['rate']:.2f} n={dirs[d]['n']}" if d in dirs else "–" for d in directions]
        for m, dirs in snap.items()
    ]
    return Section(
        "Transferred words that snap to their anchor",
        "Unconstrained trials: the share whose transferred vector's nearest target token is the anchor "
        "word (the paper: transferred words collapse onto the nearest shared word).",
        ["method"] + directions,
        rows,
    )


def concept_sections(trials: list[dict], datasets: list[str]) -> list[Section]:
    """Per dataset, one row per unconstrained trial: distance moved, nearest words, scores before and after transfer."""
    out = []
    for dataset in datasets:
        here = [t for t in trials if t["dataset"] == dataset]
        if not here:
            continue
        rows = []
        for t in here:
            dist = "–" if t["anchor_distance"] is None else f"{t['anchor_distance']:.2f}"
            score = "–" if t["in_domain"] is None else f"{t['in_domain']:.3f}"
            anchor = "–" if t["anchor_score"] is None else f"{t['anchor_score']:.3f}"
            moved = []
            for method, evals in t["transfers"].items():
                for ev, r in evals.items():
                    near = r["nearest_tokens"][0] if r["nearest_tokens"] else "?"
                    moved.append(f"{method} → {short(ev)}: {r['score']:.3f} ({near}{', snap' if r['snapped'] else ''})")
            rows.append(
                [
                    t["concept"],
                    t["anchor"],
                    short(t["train_task"]),
                    dist,
                    ", ".join(t["nearest_tokens"] or []) or "–",
                    f"{score} (anchor {anchor})",
                    "; ".join(moved) or "–",
                ]
            )
        out.append(
            Section(
                f"Per concept: {dataset}",
                "‖v − a‖ / d_nn: how far the learned word moved from its anchor, in units of the anchor's "
                "nearest-neighbour distance. Nearest: the learned word's nearest tokens of its own model. "
                "Transfers: score in the target task and the transferred vector's nearest target token.",
                ["concept", "anchor", "trained", "‖v − a‖ / d_nn", "nearest", "in-domain", "transfers"],
                rows,
                level=3,
            )
        )
    return out


def intro(suite: str, n_scores: int, superseded: int, reference: bool) -> Section:
    b = BOOTSTRAP
    note = (
        f"{n_scores} scores from the store of suite `{suite}`"
        + (f" ({superseded} older duplicates superseded)" if superseded else "")
        + f". CIs: {b['method']} bootstrap of the mean that resamples concepts (a concept's trials share "
        f"its images), {b['resamples']} resamples, seed {b['seed']}, {b['confidence']:.0%}; one concept gives "
        "a zero-width interval, marked †. Metrics and controls: docs/metrics.md."
        + (" `paper` values: PROTOCOL.md section 11 (read off the paper's plots)." if reference else "")
    )
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
