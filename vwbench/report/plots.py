"""Figures a paper can use: δ-curves and transfer-matrix heatmaps, as PNG and SVG (matplotlib Agg; no
timestamps or version in the files, so rebuilds from the same store are byte-identical)."""

from __future__ import annotations

from pathlib import Path

from vwbench import paper_reference
from vwbench.report.aggregate import (
    ANCHOR,
    ANCHOR_VIA,
    CONTROL_METHODS,
    IN_DOMAIN,
    Cell,
    cell_id,
    deltas_of,
    short,
    task_order,
    transfer_methods,
)

RC = {
    "svg.hashsalt": "vwbench",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
METRICS = {
    "generation_accuracy": "generation accuracy",
    "ap50": "AP50",
    "auroc": "AUROC",
    "accuracy": "accuracy",
    "map": "mAP 0.5:0.95",
    "false_positive_rate": "false-positive rate",
}
METHODS = {
    IN_DOMAIN: "learned (in-domain)",
    ANCHOR: "anchor word, untrained",
    "linear_transfer": "linear map",
    "nearest_token": "nearest token",
    "constant": "constant vector",
    "random_map": "random map",
    "procrustes": "Procrustes",
    "ridge": "ridge",
    "cca": "CCA",
}
ARROW = "→"
CONTROL_STYLE = {"constant": ("0.45", "s"), "random_map": ("0.6", "^"), "nearest_token": ("0.3", "v")}
SHORT_METRICS = {"generation_accuracy": "accuracy"}


def metric_label(metric: str) -> str:
    return METRICS.get(metric, metric.replace("_", " "))


def method_label(method: str) -> str:
    if method.startswith(ANCHOR_VIA):
        return f"anchor word via {method_label(method[len(ANCHOR_VIA) :])}"
    return METHODS.get(method, method.replace("_", " "))


def direction(train: str, ev: str) -> str:
    return f"{short(train)} {ARROW} {short(ev)}"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path, formats=("png", "svg")) -> list[Path]:
    """Write `fig` as `path` with each suffix in `formats` (PNG at 150 dpi); returns the files written."""
    out = []
    path.parent.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        p = path.with_suffix("." + fmt)
        meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
        fig.savefig(p, format=fmt, dpi=150 if fmt == "png" else None, metadata=meta, bbox_inches="tight")
        out.append(p)
    return out


def _chance(cells: list[Cell]) -> float | None:
    vals = [c.chance for c in cells if c.chance is not None]
    return sum(vals) / len(vals) if vals else None


def delta_plot(cells: dict[str, Cell], dataset: str, path: Path, reference: bool = False) -> Path | None:
    """One figure per dataset, one panel per evaluated task: score against δ (mean and 95% CI band) for the
    in-domain word and every transferred one. δ = 0 is the untrained anchor word, `free` the unconstrained
    word; the controls are thin dashed rows, the metric's chance a dotted line; the paper's values dashed
    if asked. Writes `path` (PNG) and the same name as SVG; None when the dataset has no δ-ball scores."""
    deltas = deltas_of(cells, dataset)
    if not deltas:
        return None
    plt = _pyplot()
    here = [c for c in cells.values() if c.dataset == dataset]
    evals = task_order({c.eval_task for c in here if c.delta is not None})
    order = task_order({c.train_task for c in here} | set(evals))
    xs = {d: i + 1 for i, d in enumerate(deltas)}
    free = len(deltas) + 1
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(evals), figsize=(4.2 * len(evals), 5.2), squeeze=False)
        for ax, ev in zip(axes[0], evals):
            seen: set[str] = set()
            series = sorted(
                {(c.train_task, c.method) for c in here if c.eval_task == ev and c.delta is not None},
                key=lambda s: (s[1] in CONTROL_METHODS, s[0] != ev, order.index(s[0]), s[1]),
            )
            for i, (train, method) in enumerate(series):
                control = method in CONTROL_METHODS
                start = (
                    None
                    if control
                    else cells.get(
                        cell_id(dataset, train, ev, ANCHOR if method == IN_DOMAIN else ANCHOR_VIA + method, None)
                    )
                )
                pts = ([(0, start)] if start else []) + [
                    (xs[d], cells.get(cell_id(dataset, train, ev, method, d))) for d in deltas
                ]
                end = cells.get(cell_id(dataset, train, ev, method, None))
                pts = [(x, c) for x, c in pts + [(free, end)] if c is not None]
                label = (
                    method_label(IN_DOMAIN)
                    if method == IN_DOMAIN
                    else f"{direction(train, ev)}, {method_label(method)}"
                )
                if control:  # one legend entry per control method, its sources alike
                    label = None if method in seen else f"{method_label(method)} (control)"
                    seen.add(method)
                color = CONTROL_STYLE.get(method, ("0.5", "."))[0] if control else f"C{i % 10}"
                style = (
                    {"ls": "--", "lw": 1.0, "marker": CONTROL_STYLE.get(method, ("", "."))[1], "ms": 4, "alpha": 0.8}
                    if control
                    else {"ls": "-", "lw": 2.2 if method == IN_DOMAIN else 1.5, "marker": "o", "ms": 4}
                )
                ax.plot([x for x, _ in pts], [c.mean for _, c in pts], color=color, label=label, **style)
                if not control:
                    ax.fill_between(
                        [x for x, _ in pts],
                        [c.ci_low for _, c in pts],
                        [c.ci_high for _, c in pts],
                        color=color,
                        alpha=0.15,
                        lw=0,
                    )
                if reference and method in (IN_DOMAIN, paper_reference.METHOD):
                    ref = [(xs[d], paper_reference.cell(dataset, train, ev, d)) for d in deltas]
                    ref = [(x, p) for x, p in ref if p is not None]
                    if ref:
                        ax.plot(
                            [x for x, _ in ref],
                            [p.mean for _, p in ref],
                            "x:",
                            color=color,
                            alpha=0.7,
                            label=f"paper: {label}",
                        )
            chance = _chance([c for c in here if c.eval_task == ev and c.method == IN_DOMAIN])
            if chance is not None:
                ax.axhline(chance, color="k", ls=":", lw=1.0, label="chance")
            metric = next(c.metric for c in here if c.eval_task == ev)
            ax.set_title(f"evaluated in {ev}")
            ax.set_xticks([0, *xs.values(), free], ["0\n(anchor)", *[f"{d:g}" for d in deltas], "free"])
            ax.set_xlabel("δ, radius relative to the anchor's norm")
            ax.set_ylabel(metric_label(metric))
            ax.set_ylim(-0.02, 1.02)
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.28), frameon=False, ncol=1)
        fig.suptitle(f"{dataset}: words trained inside a δ-ball around their anchor (mean, 95% CI over concepts)")
        fig.subplots_adjust(bottom=0.42, top=0.86, wspace=0.3)
        save(fig, Path(path).with_suffix(""))
        plt.close(fig)
    return Path(path)


def matrix_heatmap(cells: dict[str, Cell], dataset: str, path: Path) -> Path | None:
    """The unconstrained transfer matrix of a dataset as annotated heatmaps: one panel per transfer method (the
    diagonal is the in-domain word) and one for the untrained anchor word; each cell mean, [95% CI] and n."""
    plt = _pyplot()
    import numpy as np

    here = {k: c for k, c in cells.items() if c.dataset == dataset and c.delta is None}
    if not here:
        return None
    tasks = task_order({c.train_task for c in here.values()} | {c.eval_task for c in here.values()})
    panels = [(m, m) for m in transfer_methods(here)]
    if any(c.method == ANCHOR for c in here.values()):
        panels.append(
            (
                ANCHOR,
                paper_reference.METHOD
                if paper_reference.METHOD in dict(panels)
                else (panels[0][0] if panels else None),
            )
        )
    if not panels:
        panels = [(IN_DOMAIN, None)]
    with plt.rc_context({**RC, "axes.grid": False}):
        fig, axes = plt.subplots(
            1, len(panels), figsize=(3.0 * len(panels) + 1.0, 3.6), squeeze=False, gridspec_kw={"wspace": 0.08}
        )
        image = None
        for ax, (panel, via) in zip(axes[0], panels):
            grid = np.full((len(tasks), len(tasks)), np.nan)
            for i, a in enumerate(tasks):
                for j, b in enumerate(tasks):
                    if panel == ANCHOR:
                        cid = cell_id(dataset, a, b, ANCHOR if a == b else ANCHOR_VIA + str(via), None)
                    else:
                        cid = cell_id(dataset, a, b, IN_DOMAIN if a == b else panel, None)
                    c = here.get(cid)
                    if c is None:
                        ax.text(j, i, "–", ha="center", va="center", color="0.4")
                        continue
                    grid[i, j] = c.mean
                    ci = f"[{c.ci_low:.2f}, {c.ci_high:.2f}]" + ("†" if c.degenerate else "")
                    ax.text(
                        j,
                        i,
                        f"{c.mean:.2f}\n{ci}\nn={c.n}",
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if c.mean < 0.55 else "black",
                        fontweight="bold" if a == b else None,
                    )
            image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis")
            metrics = {c.eval_task: c.metric for c in here.values()}
            ax.set_xticks(
                range(len(tasks)),
                [f"{short(t)}\n{SHORT_METRICS.get(metrics.get(t), metric_label(metrics.get(t, '?')))}" for t in tasks],
                fontsize=7.5,
            )
            ax.set_yticks(range(len(tasks)), [short(t) for t in tasks] if ax is axes[0][0] else [], fontsize=7.5)
            ax.set_xlabel("evaluated in")
            if ax is axes[0][0]:
                ax.set_ylabel("trained for")
            title = (
                method_label(panel)
                if panel != ANCHOR
                else f"{method_label(ANCHOR)}\n(off-diagonal via {method_label(str(via))})"
            )
            if panel in CONTROL_METHODS:
                title += " (control)"
            ax.set_title(title, fontsize=8.5)
        fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="score (diagonal: in-domain)")
        fig.suptitle(
            f"{dataset}: transfer matrix, unconstrained words (mean, 95% CI over concepts, n trials)", fontsize=9
        )
        save(fig, Path(path).with_suffix(""))
        plt.close(fig)
    return Path(path)
