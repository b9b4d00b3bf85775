"""Per-layer analysis of the pooled token (PROTOCOL.md section 10, the paper's Figs 12-18): prompts holding each
learned word or its untrained anchor, in several templates, run through a task model's text tower; the output of
every block at the end-of-text (pooling) position is kept. Per layer, a logistic-regression probe decodes the
concept from those activations (leave-one-template-out cross-validation, so it must generalise to an unseen
context), and a t-SNE of four evenly spaced layers shows how the words cluster, coloured by concept."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import torch

from vwbench.errors import VWBenchError

TEMPLATES = (
    "{}",
    "a {}",
    "the {}",
    "a photo of a {}",
    "a photo of the {}",
    "a photo of {}",
    "photo of a {}",
    "a {} photo",
)


def layers_of(model) -> list:
    """The transformer blocks of a task model's text tower, input to output."""
    for path in (
        "pipe.text_encoder.text_model.encoder.layers",
        "pipe.text_encoder.encoder.layers",
        "model.owlv2.text_model.encoder.layers",
        "model.owlv2.text_model.layers",
        "model.text_model.encoder.layers",
        "model.transformer.resblocks",
    ):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return list(obj)
    raise VWBenchError(f"{model.spec.name}: no text-tower blocks found for the layer analysis")


@contextlib.contextmanager
def recording(blocks: list):
    """Within the block, every forward of `blocks` appends its hidden states ([B, L, d] or [L, B, d]) per block."""
    got: list[list[torch.Tensor]] = [[] for _ in blocks]
    handles = []
    for i, b in enumerate(blocks):

        def hook(module, args, out, i=i):
            got[i].append((out[0] if isinstance(out, tuple) else out).detach().float().cpu())

        handles.append(b.register_forward_hook(hook))
    try:
        yield got
    finally:
        for h in handles:
            h.remove()


def pooled_activations(model, vectors: torch.Tensor, ids: list[int], template: str) -> np.ndarray:
    """[layers, K, d]: each block's output at the end-of-text position of `template` holding `vectors` [K, n, d]."""
    from vwbench.models.base import injected
    from vwbench.tokenizer import EOS_ID

    prompt = model.prompts(ids, vectors.shape[1], template)
    eos = (prompt.ids == EOS_ID).int().argmax(-1).cpu()
    blocks = layers_of(model)
    with (
        torch.no_grad(),
        recording(blocks) as got,
        injected(model.text_embedding(), prompt.mask, vectors.to(model.device)),
    ):
        model.text_features(prompt.ids)
    out = []
    for states in got:
        h = states[-1]
        if h.shape[0] != len(ids) and h.shape[1] == len(ids):  # sequence-first (older open_clip)
            h = h.transpose(0, 1)
        out.append(h[torch.arange(len(ids)), eos].numpy())
    return np.stack(out)


def probe(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0) -> float:
    """Leave-one-group-out accuracy of a standardised logistic-regression probe predicting y from x."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(set(y)) < 2:
        return float("nan")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    return float(cross_val_score(clf, x, y, groups=groups, cv=LeaveOneGroupOut()).mean())


def analyse(words, templates=TEMPLATES) -> dict:
    """Activations, probe accuracies per layer and kind (learned, anchor) of one tower's words."""
    from vwbench.tokenizer import single_token_id

    ids = [single_token_id(t.anchor) for t in words.trials]
    concepts = [t.concept for t in words.trials]
    acts = {
        kind: np.stack([pooled_activations(words.model, v, ids, tpl) for tpl in templates], 1)
        for kind, v in (("learned", words.learned), ("anchor", words.anchors))
    }  # [layers, T, K, d]
    n_layers, n_t, k = acts["learned"].shape[:3]
    y = np.array(concepts * n_t)
    groups = np.repeat(np.arange(n_t), k)
    accuracy = {
        kind: [probe(a[layer].reshape(n_t * k, -1), y, groups) for layer in range(n_layers)] for kind, a in acts.items()
    }
    return {
        "task": words.task.name,
        "kind": words.task.task,
        "dataset": words.data.name,
        "layers": n_layers,
        "templates": list(templates),
        "concepts": concepts,
        "anchors": [t.anchor for t in words.trials],
        "chance": 1 / len(set(concepts)),
        "probe_accuracy": {k: [round(a, 6) for a in v] for k, v in accuracy.items()},
        "_acts": acts,
    }


def shown_layers(n: int, count: int = 4) -> list[int]:
    """`count` evenly spaced block indices from the first to the last (0-based)."""
    return sorted({round(i * (n - 1) / (count - 1)) for i in range(count)}) if n > 1 else [0]


def plot_probe(results: list[dict], path: Path) -> None:
    from vwbench.report.plots import RC, _pyplot, save

    plt = _pyplot()
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(results), figsize=(3.6 * len(results), 3.4), squeeze=False)
        for ax, r in zip(axes[0], results):
            xs = list(range(1, r["layers"] + 1))
            for kind, color, style in (("learned", "C0", "o-"), ("anchor", "C1", "s--")):
                ax.plot(xs, r["probe_accuracy"][kind], style, color=color, label=f"{kind} word", mfc="none")
            ax.axhline(r["chance"], color="k", ls=":", lw=1, label="chance (1/K)")
            ax.set_title(f"{r['kind']} ({r['task']})", fontsize=9)
            ax.set_xlabel("text-tower block")
            ax.set_xticks(xs if len(xs) <= 12 else xs[:: max(1, len(xs) // 8)])
            ax.set_ylim(-0.02, 1.02)
            if ax is axes[0][0]:
                ax.set_ylabel("probe accuracy (held-out template)")
        axes[0][-1].legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        fig.suptitle(f"{results[0]['dataset']}: is the concept linearly decodable from the pooled token?", fontsize=9)
        fig.tight_layout()
        save(fig, path)
        plt.close(fig)


def plot_embedding(r: dict, path: Path, seed: int = 0) -> None:
    """t-SNE of the pooled activations at four evenly spaced blocks; colour: concept, marker: learned / anchor."""
    from sklearn.manifold import TSNE

    from vwbench.report.plots import RC, _pyplot, save

    plt = _pyplot()
    acts = r["_acts"]
    shown = shown_layers(r["layers"])
    concepts = sorted(set(r["concepts"]))
    with plt.rc_context({**RC, "axes.grid": False}):
        fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown) + 1.6, 3.3), squeeze=False)
        for ax, layer in zip(axes[0], shown):
            x = np.concatenate([acts[k][layer].reshape(-1, acts[k].shape[-1]) for k in ("learned", "anchor")])
            x = (x - x.mean(0)) / (x.std(0) + 1e-6)
            perplexity = max(2.0, min(30.0, (len(x) - 1) / 3))
            xy = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
            n_t, k = acts["learned"].shape[1:3]
            half = n_t * k
            labels = np.array(r["concepts"] * n_t)
            for ci, c in enumerate(concepts):
                m = labels == c
                color = plt.get_cmap("tab20")(ci % 20)
                ax.scatter(
                    xy[:half][m, 0],
                    xy[:half][m, 1],
                    s=14,
                    color=color,
                    marker="o",
                    label=c if layer == shown[0] else None,
                )
                ax.scatter(xy[half:][m, 0], xy[half:][m, 1], s=18, color=color, marker="x")
            ax.set_title(f"block {layer + 1} of {r['layers']}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        handles, labels = axes[0][0].get_legend_handles_labels()
        from matplotlib.lines import Line2D

        handles += [Line2D([], [], color="0.3", marker="o", ls=""), Line2D([], [], color="0.3", marker="x", ls="")]
        labels += ["learned word", "anchor word"]
        axes[0][-1].legend(
            handles,
            labels,
            fontsize=6.5,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            frameon=False,
            ncol=1 + len(labels) // 16,
        )
        fig.suptitle(f"{r['dataset']}, {r['kind']} text tower: t-SNE of the pooled token (colour: concept)", fontsize=9)
        save(fig, path)
        plt.close(fig)


def run(all_words: list, out: Path, progress: bool = True) -> list[dict]:
    """Analyse every tower of every dataset; write layers-<dataset>.json, the probe plot and one t-SNE per tower."""
    from tqdm.auto import tqdm

    out.mkdir(parents=True, exist_ok=True)
    by_ds: dict[str, list[dict]] = {}
    for w in tqdm(all_words, desc="layers", disable=not progress, unit="tower"):
        r = analyse(w)
        by_ds.setdefault(r["dataset"], []).append(r)
        if len(set(r["concepts"])) >= 2:
            plot_embedding(r, out / f"layers-tsne-{r['kind']}-{r['dataset']}")
    for ds, results in by_ds.items():
        plot_probe(results, out / f"layers-probe-{ds}")
        clean = [{k: v for k, v in r.items() if k != "_acts"} for r in results]
        (out / f"layers-{ds}.json").write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
    return [{k: v for k, v in r.items() if k != "_acts"} for rs in by_ds.values() for r in rs]
