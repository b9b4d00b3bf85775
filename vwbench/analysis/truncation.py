"""Text-encoder truncation (PROTOCOL.md section 10, the paper's Fig 7): generate from learned and anchor words
with only the first N blocks of the generation model's text encoder, with and without its final LayerNorm, and
score the images as the generation metric does. N = 0 is the token and position embeddings alone; N = L (all
blocks, with the final LayerNorm) is the in-domain score."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import torch
from tqdm.auto import tqdm

from vwbench.errors import VWBenchError


def text_transformer(model):
    """The transformers CLIPTextTransformer of a generation model (its `.encoder.layers`, `.final_layer_norm`)."""
    enc = getattr(getattr(model, "pipe", None), "text_encoder", None)
    tm = getattr(enc, "text_model", enc)  # transformers 5 folds text_model into CLIPTextModel
    if tm is None or not hasattr(tm, "encoder") or not hasattr(tm, "final_layer_norm"):
        raise VWBenchError(f"{model.spec.name}: truncation needs a CLIP text encoder (transformers CLIPTextModel)")
    return tm


@contextlib.contextmanager
def truncated(model, n: int, final_norm: bool = True):
    """Within the block the generation model's text encoder runs only its first `n` blocks (and, unless
    `final_norm` is False, its final LayerNorm)."""
    tm = text_transformer(model)
    layers, norm = tm.encoder.layers, tm.final_layer_norm
    if not 0 <= n <= len(layers):
        raise VWBenchError(f"cannot truncate after block {n}: the text encoder has {len(layers)} blocks")
    tm.encoder.layers = torch.nn.ModuleList(list(layers)[:n])
    if not final_norm:
        tm.final_layer_norm = torch.nn.Identity()
    try:
        yield
    finally:
        tm.encoder.layers, tm.final_layer_norm = layers, norm


def default_blocks(total: int, count: int = 7) -> list[int]:
    """0..total, all of them for small encoders, else `count` evenly spaced (0 and total included)."""
    if total + 1 <= count:
        return list(range(total + 1))
    return sorted({round(i * total / (count - 1)) for i in range(count)})


def run(words, out: Path, blocks: list[int] | None = None, progress: bool = True) -> dict:
    """Score every word at every truncation; write truncation-<dataset>.json/.png/.svg and the images figure."""
    from vwbench import pictures as kept
    from vwbench.models.base import TaskModel  # noqa: F401 - the adapters' interface
    from vwbench.report.aggregate import bootstrap_ci
    from vwbench.tokenizer import single_token_id

    model, data = words.model, words.data
    total = len(text_transformer(model).encoder.layers)
    blocks = default_blocks(total) if blocks is None else blocks
    bad = [n for n in blocks if not 0 <= n <= total]
    if bad:
        raise VWBenchError(f"--blocks {bad}: the text encoder of {model.spec.name} has {total} blocks (0..{total})")
    ids = [single_token_id(t.anchor) for t in words.trials]
    concepts = [t.concept for t in words.trials]
    result = {
        "task": words.task.name,
        "dataset": data.name,
        "blocks_total": total,
        "blocks": blocks,
        "concepts": concepts,
        "anchors": [t.anchor for t in words.trials],
        "images_per_word": int(model.spec.metric.get("images_per_trial", 8)),
        "curves": {},
    }
    pictures = {}
    jobs = [(kind, norm, n) for kind in ("learned", "anchor") for norm in (True, False) for n in blocks]
    with torch.no_grad():
        for kind, norm, n in tqdm(jobs, desc=f"truncation {data.name}", disable=not progress, unit="setting"):
            vectors = words.learned if kind == "learned" else words.anchors
            with truncated(model, n, norm), kept.capture(model, "generation") as cap:
                scores = [r["value"] for r in model.evaluate(vectors.to(model.device), ids, concepts, data)]
            mean, lo, hi = bootstrap_ci(scores)
            result["curves"].setdefault(f"{kind}{'' if norm else ', no final LayerNorm'}", []).append(
                {
                    "blocks": n,
                    "mean": round(mean, 6),
                    "ci": [round(lo, 6), round(hi, 6)],
                    "scores": [round(s, 6) for s in scores],
                }
            )
            if norm:
                pictures[(kind, n)] = cap.pictures(0)
    result["chance"] = 1 / len(data.concepts)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"truncation-{data.name}.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    plot(result, out / f"truncation-{data.name}")
    images(result, pictures, out / f"truncation-{data.name}-images")
    return result


def plot(result: dict, path: Path) -> None:
    from vwbench.report.plots import RC, _pyplot, save

    plt = _pyplot()
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        for label, pts in result["curves"].items():
            color = f"C{0 if label.startswith('learned') else 1}"
            ls = "-" if "LayerNorm" not in label else "--"
            xs = [p["blocks"] for p in pts]
            kind, _, rest = label.partition(", ")
            ax.plot(
                xs,
                [p["mean"] for p in pts],
                marker="o",
                ls=ls,
                color=color,
                label=f"{kind} word" + (f", {rest}" if rest else ", final LayerNorm"),
            )
            ax.fill_between(xs, [p["ci"][0] for p in pts], [p["ci"][1] for p in pts], color=color, alpha=0.12, lw=0)
        ax.axhline(result["chance"], color="k", ls=":", lw=1, label="chance (1/K)")
        ax.set_xlabel(f"text-encoder blocks kept, N (of {result['blocks_total']})")
        ax.set_xticks(result["blocks"])
        ax.set_ylabel("generation accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(
            f"{result['dataset']}: generating from a truncated text encoder "
            f"({len(result['concepts'])} concepts, {result['images_per_word']} images each)",
            fontsize=9,
        )
        ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        save(fig, path)
        plt.close(fig)


def images(result: dict, pictures: dict, path: Path) -> None:
    """Fig 7: the first concept's generations at every N (with the final LayerNorm), learned word and anchor."""
    from vwbench.report.grids import _figure, _image, _strip

    table = []
    for kind in ("learned", "anchor"):
        cells = []
        for n in result["blocks"]:
            pts = next(p for p in result["curves"][kind] if p["blocks"] == n)
            got = pictures.get((kind, n), [])
            cells.append((_strip([_image(d) for _, d, _ in got]) if got else None, f"accuracy {pts['scores'][0]:.2f}"))
        table.append((f"{kind} word\n({result['anchors'][0]})" if kind == "anchor" else f"{kind} word", cells))
    _figure(
        table,
        [f"N = {n}" for n in result["blocks"]],
        f"{result['dataset']}, concept {result['concepts'][0]}: generations with the first N text-encoder blocks",
        path,
    )
