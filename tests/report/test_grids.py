"""Image grids per generation and detection task (vwbench/report/grids.py): a task named otherwise than its kind
gets its own grid file, the default one keeps its name."""

from __future__ import annotations

import io

from PIL import Image

from vwbench.records import Trial
from vwbench.report.grids import grids


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buf, format="PNG")
    return buf.getvalue()


def _rows(eval_task: str, method: str, train_task: str) -> list[dict]:
    from vwbench.pictures import word_rows

    trial = Trial("s", "ds", "red_square", "square", train_task)
    rows = word_rows(
        f"{eval_task}/{method}/{train_task}", trial, eval_task, method, 0.5, [("generated", _png("red"), {})]
    )
    for r in rows:
        r["created"] = 1.0
    return rows


def test_a_second_generation_task_gets_its_own_grid(tmp_path):
    rows = []
    for task in ("generation", "gen-b"):
        rows += _rows(task, "anchor", task) + _rows(task, "in_domain", task)
    done = grids(rows, ["ds"], {"ds": ["red_square"]}, {"red_square": "red square"}, tmp_path)
    assert done == {"ds": {"generation": "grid-ds.png", "generation: gen-b": "grid-ds-gen-b.png"}}
    assert (tmp_path / "grid-ds.png").is_file() and (tmp_path / "grid-ds-gen-b.png").is_file()


def test_no_pictures_no_grid(tmp_path):
    assert grids([], ["ds"], {}, {}, tmp_path) == {}
