"""`vwbench zoo check micro`: is each micro model good at the known world, and are the 40 concepts new words?

Gates (issue #8): CLIP zero-shot top-1 >= 0.95 over every known colour x shape; OWLv2 AP50 >= 0.60 on fresh
multi-object scenes; generations of known prompts labelled as the prompted concept by the evaluator >= 0.90.
Newness: for every concept, the best prompt made of known words scores clearly below a learned word in
zero-shot classification (the cheapest task to learn in).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np
import torch

from vwbench.micro import world

GATES = {"clip": 0.95, "owlv2": 0.60, "sd": 0.90}
NEWNESS_MARGIN = 0.2  # a learned word must beat the best known-word prompt by this much, on average


@dataclass
class Row:
    model: str
    measure: str
    value: float
    chance: float
    gate: float | None = None
    n: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool | None:
        return None if self.gate is None else self.value >= self.gate


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t, 1)


def check_clip(n: int) -> list[Row]:
    from vwbench.micro import clip

    rows = []
    for name, gate in (("clip", GATES["clip"]), ("clip-evaluator", None)):
        model, proc = clip.load(name)
        res, secs = _timed(lambda m=model, p=proc: clip.zero_shot_accuracy(m, p, n_images=n, seed=777))
        rows.append(Row(name, f"zero-shot top-1, {res['classes']} known colour x shape captions",
                        res["zero_shot_top1"], res["chance"], gate, n, secs))
    return rows


def _evaluator():
    from vwbench.micro import clip
    from vwbench.models.generation import CLIPEvaluator
    from vwbench.models.zoo import Loaded

    model, proc = clip.load("clip-evaluator")
    return CLIPEvaluator(Loaded("open_clip", model, proc), "a photo of a {}", "cpu", classes="prototypes")


def check_owlv2(n: int) -> list[Row]:
    from vwbench.micro import owlv2

    model, proc = owlv2.load()
    res, secs = _timed(lambda: owlv2.evaluate_ap50(model, proc, n_images=n, seed=777))
    return [Row("owlv2", "AP50 on fresh multi-object scenes (known phrases as queries)", res["ap50"],
                res.get("chance", 0.0), GATES["owlv2"], n, secs),
            Row("owlv2", "COCO mAP@[.5:.95], same scenes", res["map"], 0.0, None, n, 0.0)]


@torch.no_grad()
def generation_accuracy(pipe, evaluator, n: int, steps: int, guidance: float, seed: int = 777) -> float:
    """Generate one image for each of n known colour x shape prompts; the fraction the evaluator labels as the
    prompted class among all known colour x shape captions."""
    from vwbench.tokenizer import encode

    classes = [(c, s) for c in world.KNOWN_COLOURS for s in world.KNOWN_SHAPES]
    picks = np.random.default_rng(seed).choice(len(classes), size=n, replace=n > len(classes))
    prompts = [f"a photo of a {c} {s}" for c, s in classes]
    hidden = pipe.text_encoder(encode([prompts[k] for k in picks], 77, 0))[0]
    neg = pipe.text_encoder(encode([""], 77, 0))[0].expand(len(picks), -1, -1)
    images = []
    for i in range(0, len(picks), 50):
        j = min(i + 50, len(picks))
        images += pipe(prompt_embeds=hidden[i:j], negative_prompt_embeds=neg[i:j], num_inference_steps=steps,
                       guidance_scale=guidance, height=32, width=32, output_type="pil",
                       generator=[torch.Generator().manual_seed(seed + k) for k in range(i, j)]).images
    pred = evaluator.classify(images, evaluator.text_features(prompts)).numpy()
    return float((pred == picks).mean())


def check_sd(n: int, lib) -> list[Row]:
    from vwbench.micro import sd

    spec = lib.task("micro-generation")
    pipe = sd.load()
    pipe.set_progress_bar_config(disable=True)
    steps, guidance = int(spec.metric["inference_steps"]), float(spec.metric["guidance_scale"])
    acc, secs = _timed(lambda: generation_accuracy(pipe, _evaluator(), n, steps, guidance))
    return [Row("sd", f"generations labelled as the prompt by the evaluator (DDIM {steps}, guidance {guidance:g})",
                acc, 1 / 100, GATES["sd"], n, secs)]


def check_prototypes(lib) -> list[Row]:
    """How well the generation evaluator tells the 40 concepts apart on real test images: the ceiling of the
    generation metric."""
    from vwbench.data.manifest import load_dataset

    ev = _evaluator()
    rows = []
    for ds in lib.suite("micro").datasets:
        name, data = ds.name, load_dataset(ds)
        classes = ev.class_features(data)
        hits = [(ev.classify([e.image() for e in data.test[c]], classes) == i).float() for i, c in enumerate(data.concepts)]
        rows.append(Row("clip-evaluator", f"prototype accuracy on real {name} test images (generation ceiling)",
                        float(torch.cat(hits).mean()), 1 / len(data.concepts), None, len(torch.cat(hits))))
    return rows


def known_prompts() -> list[str]:
    """Every description the known vocabulary allows of one object: [pattern] [colour] shape-or-thing."""
    out = []
    for pat, col, shp in itertools.product(("", *world.PATTERNS), ("", *world.KNOWN_COLOURS),
                                           (*world.KNOWN_SHAPES, "thing")):
        out.append(" ".join(w for w in (pat, col, shp) if w))
    return out


def newness(lib, steps: int | None = None, progress: bool = False) -> list[dict]:
    """Per concept: the best known-word prompt (chosen on the training images among every [pattern] [colour]
    shape-or-thing description) vs a word learned from the own anchor, in zero-shot 10-way classification on
    the test images, scored as accuracy − false-positive rate (a prompt that wins on every image, like "thing"
    for every unnamed shape, reaches no concept in particular)."""
    from vwbench.data.manifest import load_dataset
    from vwbench.learn import learn
    from vwbench.models.factory import build_task_model
    from vwbench.records import Trial
    from vwbench.tokenizer import single_token_id

    suite = lib.suite("micro")
    cfg = suite.train if steps is None else type(suite.train)(**{**suite.train.__dict__, "steps": steps})
    model = build_task_model(lib.task("micro-classification"), "cpu")
    prompts = known_prompts()
    out = []
    for ds in suite.datasets:
        name, data = ds.name, load_dataset(ds)
        model.prepare(data)
        test = model.cache(name)["test"]
        with torch.no_grad():
            names = model.encode_texts([model.spec.template.format(data.names[c]) for c in data.concepts])
            cand = torch.cat([model.encode_texts([model.spec.template.format(p) for p in prompts[i : i + 256]])
                              for i in range(0, len(prompts), 256)])
        trials = [Trial("micro", name, c.id, c.anchor, "classification", None, cfg.seed) for c in ds.concepts]
        learned = {r.trial.concept: r for r in learn(model, data, trials, cfg, progress=progress)}
        vecs = torch.stack([learned[c].vector for c in data.concepts])
        ids = [single_token_id(c.anchor) for c in ds.concepts]
        scores = model.evaluate(vecs, ids, data.concepts, data)
        def rates(split, k):
            """Accuracy and false-positive rate of every candidate prompt as concept k's class text."""
            feats = torch.cat([split[c] for c in data.concepts])
            owner = torch.cat([torch.full((len(split[c]),), i) for i, c in enumerate(data.concepts)])
            rivals = torch.cat([feats @ names[:k].T, feats @ names[k + 1 :].T], 1).max(1).values
            wins = ((feats @ cand.T) > rivals[:, None]).float()
            return wins[owner == k].mean(0), wins[owner != k].mean(0)

        for k, c in enumerate(data.concepts):
            # the prompt is chosen on the training images, as the learned word is trained on them
            train_acc, train_fpr = rates(model.cache(name)["train"], k)
            best = int((train_acc - train_fpr).argmax())
            acc, fpr = rates(test, k)
            learned_fpr = scores[k]["extra"]["false_positive_rate"]
            out.append({"dataset": name, "concept": c, "best_known_prompt": prompts[best],
                        "known_acc": float(acc[best]), "known_fpr": float(fpr[best]),
                        "best_known": float(acc[best] - fpr[best]), "learned_acc": scores[k]["value"],
                        "learned_fpr": learned_fpr, "learned": scores[k]["value"] - learned_fpr,
                        "anchor": ds.concepts[k].anchor})
    return out
