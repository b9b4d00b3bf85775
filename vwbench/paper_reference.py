"""The paper's own numbers (PROTOCOL.md section 11, read off its plots, about ±0.01) as data.

Each row is one plotted mean with its 95% CI over 100 trials; `ci_low`/`ci_high` are None where the plot shows no
legible interval ("≈" in PROTOCOL.md). The paper transfers with least squares (`linear_transfer`); its detection
"mAP" is AP at IoU 0.5 in vwbench's naming (`ap50`).
"""

from __future__ import annotations

from typing import NamedTuple

DATASETS = ("imagenet", "dreambooth", "coco", "voc")
TASKS = ("generation", "detection", "classification")
DELTAS = (0.1, 0.2, 0.5, 1.0)
METHOD = "linear_transfer"
METRICS = {"generation": "generation_accuracy", "detection": "ap50", "classification": "accuracy"}
TRIALS_PER_CELL = 100


class PaperCell(NamedTuple):
    dataset: str
    train_task: str
    eval_task: str
    delta: float | None
    mean: float
    ci_low: float | None
    ci_high: float | None


# Figure 3, unconstrained: (dataset, trained for, evaluated in, mean, ci_low, ci_high)
_FIGURE3 = [
    ("imagenet", "generation", "generation", 0.99, 0.96, 1.0),
    ("dreambooth", "generation", "generation", 0.97, 0.94, 1.0),
    ("coco", "generation", "generation", 0.99, 0.97, 1.0),
    ("voc", "generation", "generation", 1.0, 1.0, 1.0),
    ("imagenet", "detection", "generation", 0.16, 0.09, 0.23),
    ("dreambooth", "detection", "generation", 0.13, 0.07, 0.2),
    ("coco", "detection", "generation", 0.19, 0.12, 0.26),
    ("voc", "detection", "generation", 0.3, 0.21, 0.39),
    ("imagenet", "classification", "generation", 0.67, 0.58, 0.76),
    ("dreambooth", "classification", "generation", 0.3, 0.21, 0.39),
    ("coco", "classification", "generation", 0.57, 0.48, 0.66),
    ("voc", "classification", "generation", 0.84, 0.77, 0.91),
    ("imagenet", "generation", "detection", 0.163, 0.101, 0.233),
    ("dreambooth", "generation", "detection", 0.187, 0.122, 0.259),
    ("coco", "generation", "detection", 0.058, 0.024, 0.1),
    ("voc", "generation", "detection", 0.107, 0.057, 0.165),
    ("imagenet", "detection", "detection", 0.594, 0.52, 0.669),
    ("dreambooth", "detection", "detection", 0.95, 0.92, 0.975),
    ("coco", "detection", "detection", 0.647, 0.587, 0.705),
    ("voc", "detection", "detection", 0.801, 0.74, 0.854),
    ("imagenet", "classification", "detection", 0.167, 0.105, 0.239),
    ("dreambooth", "classification", "detection", 0.173, 0.113, 0.237),
    ("coco", "classification", "detection", 0.07, 0.032, 0.113),
    ("voc", "classification", "detection", 0.159, 0.102, 0.218),
    ("imagenet", "generation", "classification", 0.446, 0.372, 0.523),
    ("dreambooth", "generation", "classification", 0.369, 0.309, 0.439),
    ("coco", "generation", "classification", 0.416, 0.352, 0.484),
    ("voc", "generation", "classification", 0.38, 0.302, 0.465),
    ("imagenet", "detection", "classification", 0.122, 0.077, 0.178),
    ("dreambooth", "detection", "classification", 0.093, 0.052, 0.138),
    ("coco", "detection", "classification", 0.184, 0.126, 0.242),
    ("voc", "detection", "classification", 0.124, 0.076, 0.172),
    ("imagenet", "classification", "classification", 0.995, 0.985, 1.0),
    ("dreambooth", "classification", "classification", 0.95, 0.915, 0.98),
    ("coco", "classification", "classification", 0.7, 0.63, 0.765),
    ("voc", "classification", "classification", 0.758, 0.678, 0.84),
]

# Figure 6, constrained: (dataset, trained for, evaluated in, delta, mean, ci_low, ci_high)
_FIGURE6 = [
    ("imagenet", "generation", "generation", 0.1, 0.1, 0.04, 0.16),
    ("imagenet", "generation", "generation", 0.2, 0.27, 0.18, 0.35),
    ("imagenet", "generation", "generation", 0.5, 0.97, 0.93, 1.0),
    ("imagenet", "generation", "generation", 1.0, 1.0, 1.0, 1.0),
    ("imagenet", "detection", "generation", 0.1, 0.1, 0.05, 0.17),
    ("imagenet", "detection", "generation", 0.2, 0.09, 0.04, 0.14),
    ("imagenet", "detection", "generation", 0.5, 0.09, 0.04, 0.15),
    ("imagenet", "detection", "generation", 1.0, 0.13, 0.06, 0.2),
    ("imagenet", "classification", "generation", 0.1, 0.1, 0.05, 0.16),
    ("imagenet", "classification", "generation", 0.2, 0.1, 0.05, 0.16),
    ("imagenet", "classification", "generation", 0.5, 0.1, 0.04, 0.16),
    ("imagenet", "classification", "generation", 1.0, 0.37, 0.28, 0.46),
    ("dreambooth", "generation", "generation", 0.1, 0.1, 0.04, 0.17),
    ("dreambooth", "generation", "generation", 0.2, 0.18, 0.11, 0.26),
    ("dreambooth", "generation", "generation", 0.5, 0.97, 0.93, 1.0),
    ("dreambooth", "generation", "generation", 1.0, 0.95, 0.91, 0.99),
    ("dreambooth", "detection", "generation", 0.1, 0.09, 0.04, 0.15),
    ("dreambooth", "detection", "generation", 0.2, 0.09, 0.04, 0.15),
    ("dreambooth", "detection", "generation", 0.5, 0.08, 0.03, 0.14),
    ("dreambooth", "detection", "generation", 1.0, 0.14, 0.07, 0.21),
    ("dreambooth", "classification", "generation", 0.1, 0.12, 0.06, 0.19),
    ("dreambooth", "classification", "generation", 0.2, 0.11, 0.05, 0.17),
    ("dreambooth", "classification", "generation", 0.5, 0.11, 0.05, 0.17),
    ("dreambooth", "classification", "generation", 1.0, 0.24, 0.16, 0.32),
    ("coco", "generation", "generation", 0.1, 0.1, 0.04, 0.16),
    ("coco", "generation", "generation", 0.2, 0.2, 0.13, 0.27),
    ("coco", "generation", "generation", 0.5, 0.89, 0.83, 0.95),
    ("coco", "generation", "generation", 1.0, 0.96, 0.92, 0.99),
    ("coco", "detection", "generation", 0.1, 0.1, 0.04, 0.17),
    ("coco", "detection", "generation", 0.2, 0.08, 0.03, 0.13),
    ("coco", "detection", "generation", 0.5, 0.12, 0.06, 0.19),
    ("coco", "detection", "generation", 1.0, 0.15, 0.08, 0.22),
    ("coco", "classification", "generation", 0.1, 0.1, 0.05, 0.16),
    ("coco", "classification", "generation", 0.2, 0.1, None, None),
    ("coco", "classification", "generation", 0.5, 0.1, 0.05, 0.16),
    ("coco", "classification", "generation", 1.0, 0.23, 0.15, 0.32),
    ("voc", "generation", "generation", 0.1, 0.1, 0.05, 0.16),
    ("voc", "generation", "generation", 0.2, 0.35, 0.26, 0.45),
    ("voc", "generation", "generation", 0.5, 0.96, 0.92, 0.99),
    ("voc", "generation", "generation", 1.0, 0.98, 0.95, 1.0),
    ("voc", "detection", "generation", 0.1, 0.1, 0.05, 0.16),
    ("voc", "detection", "generation", 0.2, 0.09, 0.04, 0.14),
    ("voc", "detection", "generation", 0.5, 0.1, 0.05, 0.17),
    ("voc", "detection", "generation", 1.0, 0.16, 0.09, 0.23),
    ("voc", "classification", "generation", 0.1, 0.1, 0.05, 0.16),
    ("voc", "classification", "generation", 0.2, 0.1, None, None),
    ("voc", "classification", "generation", 0.5, 0.11, 0.05, 0.18),
    ("voc", "classification", "generation", 1.0, 0.55, 0.46, 0.65),
    ("imagenet", "generation", "detection", 0.1, 0.049, 0.01, 0.09),
    ("imagenet", "generation", "detection", 0.2, 0.046, 0.01, 0.09),
    ("imagenet", "generation", "detection", 0.5, 0.046, 0.01, 0.08),
    ("imagenet", "generation", "detection", 1.0, 0.057, 0.02, 0.1),
    ("imagenet", "detection", "detection", 0.1, 0.072, 0.03, 0.12),
    ("imagenet", "detection", "detection", 0.2, 0.365, 0.28, 0.45),
    ("imagenet", "detection", "detection", 0.5, 0.591, 0.51, 0.67),
    ("imagenet", "detection", "detection", 1.0, 0.593, 0.52, 0.66),
    ("imagenet", "classification", "detection", 0.1, 0.059, 0.02, 0.1),
    ("imagenet", "classification", "detection", 0.2, 0.059, 0.02, 0.11),
    ("imagenet", "classification", "detection", 0.5, 0.06, 0.02, 0.11),
    ("imagenet", "classification", "detection", 1.0, 0.055, 0.02, 0.1),
    ("dreambooth", "generation", "detection", 0.1, 0.065, 0.02, 0.11),
    ("dreambooth", "generation", "detection", 0.2, 0.065, 0.02, 0.12),
    ("dreambooth", "generation", "detection", 0.5, 0.066, 0.02, 0.12),
    ("dreambooth", "generation", "detection", 1.0, 0.144, 0.08, 0.21),
    ("dreambooth", "detection", "detection", 0.1, 0.085, 0.03, 0.14),
    ("dreambooth", "detection", "detection", 0.2, 0.57, 0.48, 0.67),
    ("dreambooth", "detection", "detection", 0.5, 0.935, 0.89, 0.97),
    ("dreambooth", "detection", "detection", 1.0, 0.95, 0.92, 0.98),
    ("dreambooth", "classification", "detection", 0.1, 0.085, 0.03, 0.14),
    ("dreambooth", "classification", "detection", 0.2, 0.085, None, None),
    ("dreambooth", "classification", "detection", 0.5, 0.085, 0.03, 0.14),
    ("dreambooth", "classification", "detection", 1.0, 0.085, 0.03, 0.14),
    ("coco", "generation", "detection", 0.1, 0.04, 0.01, 0.08),
    ("coco", "generation", "detection", 0.2, 0.019, 0.0, 0.04),
    ("coco", "generation", "detection", 0.5, 0.012, 0.0, 0.02),
    ("coco", "generation", "detection", 1.0, 0.031, 0.01, 0.06),
    ("coco", "detection", "detection", 0.1, 0.072, 0.03, 0.12),
    ("coco", "detection", "detection", 0.2, 0.232, 0.16, 0.31),
    ("coco", "detection", "detection", 0.5, 0.689, 0.64, 0.74),
    ("coco", "detection", "detection", 1.0, 0.683, 0.63, 0.73),
    ("coco", "classification", "detection", 0.1, 0.072, 0.03, 0.12),
    ("coco", "classification", "detection", 0.2, 0.072, None, None),
    ("coco", "classification", "detection", 0.5, 0.072, 0.03, 0.12),
    ("coco", "classification", "detection", 1.0, 0.08, 0.04, 0.13),
    ("voc", "generation", "detection", 0.1, 0.049, 0.01, 0.09),
    ("voc", "generation", "detection", 0.2, 0.038, 0.01, 0.08),
    ("voc", "generation", "detection", 0.5, 0.07, 0.03, 0.12),
    ("voc", "generation", "detection", 1.0, 0.048, 0.01, 0.09),
    ("voc", "detection", "detection", 0.1, 0.067, 0.03, 0.12),
    ("voc", "detection", "detection", 0.2, 0.402, 0.32, 0.49),
    ("voc", "detection", "detection", 0.5, 0.78, 0.72, 0.83),
    ("voc", "detection", "detection", 1.0, 0.787, 0.73, 0.84),
    ("voc", "classification", "detection", 0.1, 0.059, 0.02, 0.1),
    ("voc", "classification", "detection", 0.2, 0.059, None, None),
    ("voc", "classification", "detection", 0.5, 0.059, 0.02, 0.1),
    ("voc", "classification", "detection", 1.0, 0.059, 0.02, 0.11),
    ("imagenet", "generation", "classification", 0.1, 0.1, 0.05, 0.16),
    ("imagenet", "generation", "classification", 0.2, 0.09, 0.04, 0.15),
    ("imagenet", "generation", "classification", 0.5, 0.125, 0.06, 0.19),
    ("imagenet", "generation", "classification", 1.0, 0.292, 0.21, 0.36),
    ("imagenet", "detection", "classification", 0.1, 0.083, 0.03, 0.14),
    ("imagenet", "detection", "classification", 0.2, 0.073, 0.03, 0.13),
    ("imagenet", "detection", "classification", 0.5, 0.078, 0.03, 0.13),
    ("imagenet", "detection", "classification", 1.0, 0.159, 0.1, 0.22),
    ("imagenet", "classification", "classification", 0.1, 0.09, 0.04, 0.15),
    ("imagenet", "classification", "classification", 0.2, 0.253, 0.18, 0.33),
    ("imagenet", "classification", "classification", 0.5, 0.94, 0.89, 0.98),
    ("imagenet", "classification", "classification", 1.0, 0.98, 0.95, 1.0),
    ("dreambooth", "generation", "classification", 0.1, 0.09, 0.03, 0.14),
    ("dreambooth", "generation", "classification", 0.2, 0.098, 0.04, 0.15),
    ("dreambooth", "generation", "classification", 0.5, 0.133, 0.08, 0.19),
    ("dreambooth", "generation", "classification", 1.0, 0.265, 0.2, 0.33),
    ("dreambooth", "detection", "classification", 0.1, 0.1, 0.04, 0.16),
    ("dreambooth", "detection", "classification", 0.2, 0.1, 0.05, 0.17),
    ("dreambooth", "detection", "classification", 0.5, 0.093, 0.04, 0.15),
    ("dreambooth", "detection", "classification", 1.0, 0.12, 0.06, 0.19),
    ("dreambooth", "classification", "classification", 0.1, 0.095, 0.04, 0.16),
    ("dreambooth", "classification", "classification", 0.2, 0.34, 0.25, 0.43),
    ("dreambooth", "classification", "classification", 0.5, 0.975, 0.95, 1.0),
    ("dreambooth", "classification", "classification", 1.0, 0.96, 0.93, 0.98),
    ("coco", "generation", "classification", 0.1, 0.09, 0.04, 0.14),
    ("coco", "generation", "classification", 0.2, 0.08, 0.03, 0.14),
    ("coco", "generation", "classification", 0.5, 0.108, 0.06, 0.16),
    ("coco", "generation", "classification", 1.0, 0.203, 0.14, 0.27),
    ("coco", "detection", "classification", 0.1, 0.1, 0.05, 0.15),
    ("coco", "detection", "classification", 0.2, 0.075, 0.03, 0.12),
    ("coco", "detection", "classification", 0.5, 0.108, 0.06, 0.16),
    ("coco", "detection", "classification", 1.0, 0.13, 0.08, 0.19),
    ("coco", "classification", "classification", 0.1, 0.08, 0.03, 0.13),
    ("coco", "classification", "classification", 0.2, 0.17, 0.1, 0.25),
    ("coco", "classification", "classification", 0.5, 0.75, 0.67, 0.82),
    ("coco", "classification", "classification", 1.0, 0.76, 0.69, 0.82),
    ("voc", "generation", "classification", 0.1, 0.065, 0.02, 0.12),
    ("voc", "generation", "classification", 0.2, 0.065, 0.02, 0.11),
    ("voc", "generation", "classification", 0.5, 0.073, 0.03, 0.12),
    ("voc", "generation", "classification", 1.0, 0.15, 0.09, 0.21),
    ("voc", "detection", "classification", 0.1, 0.08, 0.03, 0.13),
    ("voc", "detection", "classification", 0.2, 0.08, 0.03, 0.13),
    ("voc", "detection", "classification", 0.5, 0.078, 0.03, 0.13),
    ("voc", "detection", "classification", 1.0, 0.119, 0.07, 0.18),
    ("voc", "classification", "classification", 0.1, 0.06, 0.02, 0.11),
    ("voc", "classification", "classification", 0.2, 0.17, 0.1, 0.24),
    ("voc", "classification", "classification", 0.5, 0.69, 0.59, 0.78),
    ("voc", "classification", "classification", 1.0, 0.74, 0.66, 0.82),
]

FIGURE3 = tuple(PaperCell(d, tr, ev, None, m, lo, hi) for d, tr, ev, m, lo, hi in _FIGURE3)
FIGURE6 = tuple(PaperCell(*row) for row in _FIGURE6)


def cell(dataset: str, train_task: str, eval_task: str, delta: float | None = None) -> PaperCell | None:
    """The paper's value for one cell, or None where the paper has none (other datasets or tasks)."""
    for c in FIGURE3 if delta is None else FIGURE6:
        if (c.dataset, c.train_task, c.eval_task) == (dataset, train_task, eval_task) and (
            delta is None or abs(c.delta - delta) < 1e-9
        ):
            return c
    return None


def transfer_ratio(dataset: str, train_task: str, eval_task: str) -> float | None:
    """Figure 3's transferred mean over the in-domain mean of the evaluated task (the method leaderboard's metric)."""
    moved, home = cell(dataset, train_task, eval_task), cell(dataset, eval_task, eval_task)
    if moved is None or home is None or home.mean == 0:
        return None
    return moved.mean / home.mean
