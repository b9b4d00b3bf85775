"""Image grids from the pictures kept by the scoring pass (pictures.py), one pair per dataset:

- `grid-<dataset>.png` (the paper's Fig 4): per concept, training images, then generations from the untrained
  anchor word, the learned word, and the words transferred from detection and from classification;
- `detections-<dataset>.png` (Fig 5): the top detections of the anchor, learned and transferred words on held-out
  images of the concept (red, with their scores) beside the target boxes (green).

Each strip is captioned with the score of the word it shows. A concept without kept pictures (a store written
before pictures were kept) is left out; a dataset with none gets no grid.
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

from vwbench import paper_reference
from vwbench.report.aggregate import ANCHOR, CONTROL_METHODS, IN_DOMAIN, task_order
from vwbench.report.plots import RC, _pyplot, direction, method_label, metric_label, save

CELL = 64  # pixels per kept image in a strip (nearest-neighbour upscaling of small images)


def _image(data: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(data)).convert("RGB")


def _strip(images, height: int = CELL, gap: int = 3):
    import numpy as np
    from PIL import Image

    ims = [im.resize((max(1, round(im.width * height / im.height)), height), Image.NEAREST) for im in images]
    width = sum(im.width for im in ims) + gap * (len(ims) - 1)
    out = Image.new("RGB", (max(width, 1), height), "white")
    x = 0
    for im in ims:
        out.paste(im, (x, 0))
        x += im.width + gap
    return np.asarray(out)


def _drawn(row: dict, height: int = 2 * CELL):
    """A test image upscaled with its target boxes (green) and top detections (red, score above the box)."""
    from PIL import Image, ImageDraw

    im = _image(row["data"])
    s = height / im.height
    im = im.resize((round(im.width * s), height), Image.NEAREST)
    draw = ImageDraw.Draw(im)
    m = row["meta"]
    for b in m.get("targets", []):
        draw.rectangle([v * s for v in b], outline=(0, 220, 0), width=2)
    for b, score in reversed(list(zip(m.get("boxes", []), m.get("scores", [])))):
        box = [v * s for v in b]
        draw.rectangle(box, outline=(230, 20, 20), width=2)
        draw.text((box[0] + 2, max(0, box[1] - 11)), f"{score:.2f}", fill=(230, 20, 20))
    return im


def _method(rows: list[dict]) -> str | None:
    """The transfer method the grids show: the paper's if kept, else the first kept non-control one."""
    found = sorted({r["meta"]["method"] for r in rows} - {IN_DOMAIN, ANCHOR, *CONTROL_METHODS})
    return paper_reference.METHOD if paper_reference.METHOD in found else (found[0] if found else None)


def _latest(rows: list[dict]) -> dict[tuple, list[dict]]:
    """Kept pictures per (concept, trained for, evaluated in, method): those of the newest score only."""
    by_score: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    newest: dict[tuple, tuple] = {}
    for r in rows:
        m = r["meta"]
        k = (r["concept"], m["train_task"], m["eval_task"], m["method"])
        by_score[k][m["score_key"]].append(r)
        newest[k] = max(newest.get(k, (0.0, "")), (r["created"], m["score_key"]))
    return {k: sorted(by_score[k][newest[k][1]], key=lambda r: r["key"]) for k in by_score}


def _figure(table: list[tuple[str, list]], columns: list[str], title: str, path: Path) -> Path:
    """Rows (label, [(strip array or None, caption)]) under column titles, written as PNG."""
    plt = _pyplot()
    import numpy as np

    found = [c[0].shape[1] for _, cells in table for c in cells if c[0] is not None]
    widths = [
        max((cells[j][0].shape[1] for _, cells in table if cells[j][0] is not None), default=max(found, default=CELL))
        for j in range(len(columns))
    ]
    heights = [max((c[0].shape[0] for c in cells if c[0] is not None), default=CELL) for _, cells in table]
    dpi = 100
    with plt.rc_context({**RC, "axes.grid": False}):
        fig = plt.figure(
            figsize=((sum(widths) + 30 * len(widths) + 140) / dpi, (sum(heights) + 34 * len(heights) + 70) / dpi)
        )
        gs = fig.add_gridspec(
            len(table),
            len(columns),
            width_ratios=widths,
            height_ratios=heights,
            left=120 / (sum(widths) + 30 * len(widths) + 140),
            right=0.99,
            top=1 - 60 / (sum(heights) + 34 * len(heights) + 70),
            bottom=0.02,
            wspace=0.12,
            hspace=0.5,
        )
        for i, (label, cells) in enumerate(table):
            for j, (strip, caption) in enumerate(cells):
                ax = fig.add_subplot(gs[i, j])
                ax.set_axis_off()
                ax.imshow(
                    strip if strip is not None else np.full((heights[i], widths[j], 3), 245, np.uint8),
                    interpolation="nearest",
                )
                ax.set_xlim(-0.5, widths[j] - 0.5)
                if strip is None:
                    ax.text(
                        widths[j] / 2, heights[i] / 2, "not kept", ha="center", va="center", color="0.5", fontsize=7
                    )
                ax.text(0.0, -0.04, caption, transform=ax.transAxes, ha="left", va="top", fontsize=7)
                if i == 0:
                    ax.set_title(columns[j], fontsize=8, loc="left")
                if j == 0:
                    ax.text(-0.04, 0.5, label, transform=ax.transAxes, ha="right", va="center", fontsize=8)
        fig.suptitle(title, fontsize=9, y=1 - 12 / (sum(heights) + 34 * len(heights) + 70))
        save(fig, path, formats=("png",))
        plt.close(fig)
    return path.with_suffix(".png")


def _score(rows: list[dict], metric: str) -> str:
    return f"{metric} {rows[0]['meta']['value']:.2f}" if rows else ""


def _columns(words: dict, task: str) -> list[tuple[str, str, str]]:
    """(method, source task, header) of a grid's word columns in `task`: the anchor word, the in-domain word, and
    the word transferred from each other task by the kept pictures' method."""
    method = _method([r for v in words.values() for r in v])
    others = task_order({k[1] for k in words} - {task})
    specs = [(ANCHOR, task, "anchor word (untrained)"), (IN_DOMAIN, task, "learned word (in-domain)")]
    return specs + [(method, src, f"{direction(src, task)}, {method_label(method)}") for src in others if method]


def _cells(words: dict, concept: str, task: str, specs, picture, metric: str, height: int = CELL) -> list[tuple]:
    """A concept's row of word cells: the kept pictures of each column's word (None where none were kept), each
    drawn by `picture(row)` and captioned with its score."""
    cells = []
    for m, src, _ in specs:
        kept = words.get((concept, src, task, m), [])
        cells.append((_strip([picture(r) for r in kept], height=height) if kept else None, _score(kept, metric)))
    return cells


def _file(prefix: str, dataset: str, task: str, kind: str) -> str:
    """A grid's file name: `<prefix>-<dataset>`, and the task's name after it when the task is not named by its kind."""
    return f"{prefix}-{dataset}" if task == kind else f"{prefix}-{dataset}-{task}"


def generation_grid(
    rows: list[dict], dataset: str, concepts: list[str], names: dict, out: Path, task: str = "generation"
) -> Path | None:
    here = [r for r in rows if r["dataset"] == dataset]
    train = defaultdict(list)
    for r in sorted((r for r in here if r["kind"] == "train"), key=lambda r: r["key"]):
        train[r["concept"]].append(r)
    words = _latest([r for r in here if r["kind"] == "generated" and r["meta"]["eval_task"] == task])
    if not words:
        return None
    gen = task
    specs = _columns(words, gen)
    table = []
    for c in concepts:
        cells = _cells(words, c, gen, specs, lambda r: _image(r["data"]), "accuracy")
        if any(s is not None for s, _ in cells):
            anchor = next((r["meta"]["anchor"] for v in words.values() for r in v if r["concept"] == c), "")
            train_cell = (_strip([_image(r["data"]) for r in train[c]]) if train[c] else None, "")
            table.append((f"{names.get(c, c)}\n(anchor: {anchor})", [train_cell, *cells]))
    if not table:
        return None
    return _figure(
        table,
        ["training images"] + [s[2] for s in specs],
        f"{dataset}: generations of each concept's words, seeds 0.. (caption: the word's generation accuracy)",
        out / _file("grid", dataset, task, "generation"),
    )


def detection_grid(
    rows: list[dict], dataset: str, concepts: list[str], names: dict, out: Path, task: str = "detection"
) -> Path | None:
    words = _latest(
        [r for r in rows if r["dataset"] == dataset and r["kind"] == "detections" and r["meta"]["eval_task"] == task]
    )
    if not words:
        return None
    det = task
    specs = _columns(words, det)
    table = []
    for c in concepts:
        cells = _cells(words, c, det, specs, _drawn, metric_label("ap50"), height=2 * CELL)
        if any(s is not None for s, _ in cells):
            table.append((names.get(c, c), cells))
    if not table:
        return None
    return _figure(
        table,
        [s[2] for s in specs],
        f"{dataset}: top-3 detections (red, score) and target boxes (green) on held-out images "
        "(caption: the word's AP50)",
        out / _file("detections", dataset, task, "detection"),
    )


def grids(
    rows: list[dict], datasets: list[str], concepts: dict[str, list[str]], names: dict, out: Path
) -> dict[str, dict[str, str]]:
    """Write the grids of every dataset with kept pictures, one per generation and detection task:
    {dataset: {"generation" | "detection" | "<kind>: <task name>": file name}} (a task named by its kind is keyed by
    the kind alone)."""
    done: dict[str, dict[str, str]] = {}
    for ds in datasets:
        order = concepts.get(ds) or sorted({r["concept"] for r in rows if r["dataset"] == ds})
        for kind, fn, picture in (
            ("generation", generation_grid, "generated"),
            ("detection", detection_grid, "detections"),
        ):
            tasks = sorted({r["meta"]["eval_task"] for r in rows if r["dataset"] == ds and r["kind"] == picture})
            for task in tasks:
                p = fn(rows, ds, order, names, out, task)
                if p is not None:
                    done.setdefault(ds, {})[kind if task == kind else f"{kind}: {task}"] = p.name
    return done
