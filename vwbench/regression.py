"""Regression check: compare a run's cell means with a golden leaderboard (results.json), cell by cell.

A cell within the tolerance of its golden mean never moves. Otherwise it *moves* when its mean differs from the
golden mean by more than the tolerance or leaves the golden 95% CI widened by the tolerance on each side
(`rule="either"`, the default), or only when both hold (`rule="both"`, for noisy GPU runs). A move down is a
regression and fails the check; a move up is reported as an improvement and does not fail. A golden cell the run
lacks fails (unless `allow_missing`); a cell the golden file lacks is reported as new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from vwbench.errors import VWBenchError

RULES = ("either", "both")
EPS = 1e-9


@dataclass
class Finding:
    cell: str
    kind: str  # regression | improvement | missing | new
    golden: dict | None
    current: dict | None

    def line(self) -> str:
        if self.kind == "missing":
            g = self.golden
            return f"MISSING     {self.cell}: golden {g['mean']:.4f} [{g['ci'][0]:.4f}, {g['ci'][1]:.4f}] n={g['n']}, not in this run"
        if self.kind == "new":
            return f"NEW         {self.cell}: {self.current['mean']:.4f} n={self.current['n']} (not in the golden file)"
        g, c = self.golden, self.current
        label = "REGRESSION " if self.kind == "regression" else "IMPROVEMENT"
        return (
            f"{label} {self.cell}: {c['mean']:.4f} (n={c['n']}) vs golden {g['mean']:.4f} "
            f"[{g['ci'][0]:.4f}, {g['ci'][1]:.4f}] (n={g['n']}), change {c['mean'] - g['mean']:+.4f}"
        )


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    compared: int = 0

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.kind in ("regression", "missing")]

    @property
    def ok(self) -> bool:
        return not self.failures


def load_results(path) -> dict:
    """The `cells` of a leaderboard results.json (validated), or a clear error."""
    from vwbench.report import validate_doc

    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VWBenchError(f"{path}: no such file; build it with `vwbench leaderboard`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VWBenchError(f"{path}: not a readable leaderboard JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise VWBenchError(f"{path}: expected a JSON object (a leaderboard results.json)")
    validate_doc(doc, str(path))
    return doc


def moved(golden: dict, current: dict, tolerance: float, rule: str = "either") -> bool:
    """Whether a cell moved: never within `tolerance` of the golden mean; beyond it, always under "either"
    (the widened CI cannot catch a cell the tolerance lets through) and, under "both", only when the mean
    also lies outside the golden CI widened by `tolerance` on each side."""
    beyond = abs(current["mean"] - golden["mean"]) > tolerance + EPS
    if not beyond:
        return False
    lo, hi = golden["ci"]
    outside = current["mean"] < lo - tolerance - EPS or current["mean"] > hi + tolerance + EPS
    return rule == "either" or outside


def compare(
    golden: dict, current: dict, tolerance: float = 0.0, rule: str = "either", allow_missing: bool = False
) -> CheckResult:
    """Compare two `cells` mappings (cell id -> {mean, ci, n, ...})."""
    if rule not in RULES:
        raise VWBenchError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
    if tolerance < 0:
        raise VWBenchError(f"tolerance must be >= 0, got {tolerance}")
    result = CheckResult()
    for cid in sorted(golden):
        g, c = golden[cid], current.get(cid)
        if c is None:
            if not allow_missing:
                result.findings.append(Finding(cid, "missing", g, None))
            continue
        result.compared += 1
        if moved(g, c, tolerance, rule):
            kind = "improvement" if c["mean"] > g["mean"] else "regression"
            result.findings.append(Finding(cid, kind, g, c))
    for cid in sorted(set(current) - set(golden)):
        result.findings.append(Finding(cid, "new", None, current[cid]))
    return result


def cells_from_store(store, suite: str) -> dict:
    from vwbench.report import leaderboard_doc

    scores = store.scores(suite)
    if not scores:
        raise VWBenchError(f"the store at {store.root} holds no scores of suite {suite!r}")
    return leaderboard_doc(scores, suite, reference=False)["cells"]
