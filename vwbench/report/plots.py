"""δ-curves as PNG (matplotlib Agg, no timestamps or version in the file, so rebuilds are byte-identical)."""

from __future__ import annotations

from pathlib import Path

from vwbench import paper_reference
from vwbench.report.aggregate import IN_DOMAIN, Cell, cell_id, deltas_of, short, task_order

_RC = {"svg.hashsalt": "vwbench", "font.family": "DejaVu Sans", "font.size": 9, "axes.grid": True,
       "grid.alpha": 0.3}


def delta_plot(cells: dict[str, Cell], dataset: str, path: Path, reference: bool = False) -> Path | None:
    """One figure per dataset, one panel per evaluated task: score against δ for the in-domain word and every
    transferred one, mean with a 95% CI band (like the paper's Figure 6); the paper's values dashed if asked."""
    deltas = deltas_of(cells, dataset)
    here = [c for c in cells.values() if c.dataset == dataset and c.delta is not None]
    if not deltas:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    evals = task_order({c.eval_task for c in here})
    order = task_order({c.train_task for c in here} | set(evals))
    xs = list(range(len(deltas)))
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(1, len(evals), figsize=(4.2 * len(evals), 3.4), squeeze=False)
        for ax, ev in zip(axes[0], evals):
            series = sorted({(c.train_task, c.method) for c in here if c.eval_task == ev},
                            key=lambda s: (s[0] != ev, order.index(s[0]), s[1]))
            for i, (train, method) in enumerate(series):
                pts = [(x, cells.get(cell_id(dataset, train, ev, method, d))) for x, d in zip(xs, deltas)]
                pts = [(x, c) for x, c in pts if c is not None]
                label = f"{short(train)} (in-domain)" if method == IN_DOMAIN else f"{short(train)}->{short(ev)} {method}"
                color = f"C{i % 10}"
                ax.plot([x for x, _ in pts], [c.mean for _, c in pts], "o-", color=color, label=label,
                        lw=2.2 if method == IN_DOMAIN else 1.4)
                ax.fill_between([x for x, _ in pts], [c.ci_low for _, c in pts], [c.ci_high for _, c in pts],
                                color=color, alpha=0.2, lw=0)
                if reference and method in (IN_DOMAIN, paper_reference.METHOD):
                    ref = [(x, paper_reference.cell(dataset, train, ev, d)) for x, d in zip(xs, deltas)]
                    ref = [(x, p) for x, p in ref if p is not None]
                    if ref:
                        ax.plot([x for x, _ in ref], [p.mean for _, p in ref], "x--", color=color, alpha=0.7,
                                label="paper " + (f"{short(train)} (in-domain)" if train == ev else f"{short(train)}->{short(ev)}"))
            metric = next(c.metric for c in here if c.eval_task == ev)
            ax.set_title(f"{dataset}: evaluated in {ev}")
            ax.set_xticks(xs, [f"{d:g}" for d in deltas])
            ax.set_xlabel("δ (relative radius)")
            ax.set_ylabel(metric)
            ax.set_ylim(-0.02, 1.02)
            ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100, metadata={"Software": None})
        plt.close(fig)
    return path
