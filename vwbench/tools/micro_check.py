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

from vwbench.data.micro import world

GATES = {"clip": 0.95, "owlv2": 0.60, "sd": 0.90}
NEWNESS_MARGIN = 0.2  # a dataset's learned words beat the best known-word prompts by this much AP, on average
NEWNESS_CONCEPT_MARGIN = 0.1  # a concept whose learned word beats the best known prompt by less is listed...
NEWNESS_REACHED_AP = 0.5  # ...and counts as reached by known words (not new: pick another) when this AP is met


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
    from vwbench.models.micro import clip

    rows = []
    for name, gate in (("clip", GATES["clip"]), ("clip-evaluator", None)):
        model, proc = clip.load(name)
        res, secs = _timed(lambda m=model, p=proc: clip.zero_shot_accuracy(m, p, n_images=n, seed=777))
        rows.append(
            Row(
                name,
                f"zero-shot top-1, {res['classes']} known colour x shape captions",
                res["zero_shot_top1"],
                res["chance"],
                gate,
                n,
                secs,
            )
        )
    return rows


def _evaluator():
    from vwbench.models.generation import CLIPEvaluator
    from vwbench.models.micro import clip
    from vwbench.models.zoo import Loaded

    model, proc = clip.load("clip-evaluator")
    return CLIPEvaluator(Loaded("open_clip", model, proc), "a photo of a {}", "cpu", classes="prototypes")


def check_owlv2(n: int) -> list[Row]:
    from vwbench.models.micro import owlv2

    model, proc = owlv2.load()
    res, secs = _timed(lambda: owlv2.evaluate_ap50(model, proc, n_images=n, seed=777))
    return [
        Row(
            "owlv2",
            "AP50 on fresh multi-object scenes (known phrases as queries)",
            res["ap50"],
            res.get("chance", 0.0),
            GATES["owlv2"],
            n,
            secs,
        ),
        Row("owlv2", "COCO mAP@[.5:.95], same scenes", res["map"], 0.0, None, n, 0.0),
    ]


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
        images += pipe(
            prompt_embeds=hidden[i:j],
            negative_prompt_embeds=neg[i:j],
            num_inference_steps=steps,
            guidance_scale=guidance,
            height=32,
            width=32,
            output_type="pil",
            generator=[torch.Generator().manual_seed(seed + k) for k in range(i, j)],
        ).images
    pred = evaluator.classify(images, evaluator.text_features(prompts)).numpy()
    return float((pred == picks).mean())


def check_sd(n: int, lib) -> list[Row]:
    from vwbench.models.micro import sd

    spec = lib.task("micro-generation")
    pipe = sd.load()
    pipe.set_progress_bar_config(disable=True)
    steps, guidance = int(spec.metric["inference_steps"]), float(spec.metric["guidance_scale"])
    acc, secs = _timed(lambda: generation_accuracy(pipe, _evaluator(), n, steps, guidance))
    return [
        Row(
            "sd",
            f"generations labelled as the prompt by the evaluator (DDIM {steps}, guidance {guidance:g})",
            acc,
            1 / 100,
            GATES["sd"],
            n,
            secs,
        )
    ]


def check_prototypes(lib) -> list[Row]:
    """How well the generation evaluator tells the 40 concepts apart on real test images: the ceiling of the
    generation metric."""
    from vwbench.data.manifest import load_dataset

    ev = _evaluator()
    rows = []
    for ds in lib.suite("micro").datasets:
        name, data = ds.name, load_dataset(ds)
        classes = ev.class_features(data)
        hits = [
            (ev.classify([e.image() for e in data.test[c]], classes) == i).float() for i, c in enumerate(data.concepts)
        ]
        rows.append(
            Row(
                "clip-evaluator",
                f"prototype accuracy on real {name} test images (generation ceiling)",
                float(torch.cat(hits).mean()),
                1 / len(data.concepts),
                None,
                len(torch.cat(hits)),
            )
        )
    return rows


def free_query(regions: dict, positive: torch.Tensor, steps: int = 300) -> torch.Tensor:
    """The unit query that best tells `positive` regions from the rest under OWLv2's logits (`region_logits`):
    logistic regression on the normalized region embeddings (`regions` as the detector's, [R] regions), positives
    up-weighted to balance. No word goes through the text tower, so no learned word can be expected to do better
    on these regions."""
    from vwbench.models.detection import region_logits

    y = positive.float()
    v = torch.nn.functional.normalize(regions["embeds"][positive].mean(0), dim=0).clone().requires_grad_(True)
    opt = torch.optim.Adam([v], lr=0.05)
    balance = (1 - y).sum() / y.sum().clamp(min=1)
    with torch.enable_grad():
        for _ in range(steps):
            logits = region_logits(regions, torch.nn.functional.normalize(v, dim=0))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=balance)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return torch.nn.functional.normalize(v.detach(), dim=0)


@torch.no_grad()
def check_region_ceiling(lib, datasets: list[str] | None = None) -> list[Row]:
    """How well the detector's region embeddings tell each dataset's concepts apart, two rows per dataset, each a
    free query (no text tower) per concept scored on the test images exactly as a learned word is (AP50 against
    every other concept's test images); chance is the zero query's AP50 (`datasets`: only these of the micro
    suite's):
    - the detection loss's own optimum: the loss is linear in the unit query, so its minimizer over all unit
      vectors is the normalized negative mean of the training images' weighted region sums. A learned word that
      minimizes the loss perfectly scores this;
    - a discriminative free query (`free_query`), fitted on the training images' regions with the concept's
      regions as positives and every other region of every training image, other concepts' included, as
      negatives: what the region embeddings allow, an estimate of the metric's ceiling."""
    from vwbench.data.manifest import load_dataset
    from vwbench.metrics.detection import ap50
    from vwbench.models.detection import region_scores, region_weights
    from vwbench.models.factory import build_task_model

    model = build_task_model(lib.task("micro-detection"), "cpu")
    iou = float(model.spec.loss.get("positive_iou", 0.5))
    rows = []
    for ds in lib.suite("micro").datasets:
        if datasets is not None and ds.name not in datasets:
            continue
        t = time.perf_counter()
        data = load_dataset(ds)
        model.prepare(data)
        regions = []  # (owner concept, regions, positive mask)
        for c in data.concepts:
            for e in data.train[c]:
                r = model.regions(e.image())
                targets = torch.tensor(e.target_boxes(c), dtype=torch.float32).reshape(-1, 4)
                regions.append((c, r, region_weights(r["boxes"], targets, iou) < 0))  # the loss's positives
        pooled = {k: torch.cat([r[k] for _, r, _ in regions]) for k in ("embeds", "shift", "scale")}
        scores = {"loss": [], "discriminative": [], "zero": []}
        for c in data.concepts:
            positive = torch.cat([p if owner == c else torch.zeros_like(p) for owner, _, p in regions])
            queries = {
                "loss": torch.nn.functional.normalize(-model.cache(data.name)["train"][c].mean(0), dim=0),
                "discriminative": free_query(pooled, positive),
            }
            images = model.eval_images(c, data)
            for name, q in queries.items():
                out = model.predictions(images, c, data, lambda r, q=q: region_scores(r, q))
                scores[name].append(ap50(out))
            scores["zero"].append(ap50(model.zero_query(c, data, images)))
        seconds = round(time.perf_counter() - t, 1)
        for name, what in (
            ("loss", "the detection loss's optimal free query"),
            ("discriminative", "a free query fitted to tell the concepts apart"),
        ):
            rows.append(
                Row(
                    "owlv2",
                    f"AP50 of {what} on real {ds.name} test images",
                    float(np.mean(scores[name])),
                    float(np.mean(scores["zero"])),
                    None,
                    len(data.concepts),
                    seconds if name == "loss" else 0.0,
                )
            )
    return rows


def known_prompts() -> list[str]:
    """Every description the known vocabulary allows of one object: [pattern] [colour] shape-or-thing."""
    out = []
    for pat, col, shp in itertools.product(
        ("", *world.PATTERNS), ("", *world.KNOWN_COLOURS), (*world.KNOWN_SHAPES, "thing")
    ):
        out.append(" ".join(w for w in (pat, col, shp) if w))
    return out


def fresh_test_set(ds, n: int, seed_offset: int = 1000):
    """`n` newly rendered test images per concept of a micro dataset spec, from a split seed the dataset does not
    use, so a check does not reuse the images anything was chosen on."""
    from dataclasses import replace

    from vwbench.data.micro.datasets import micro_dataset

    # one throw-away training image per concept: a ConceptDataset needs examples in both splits
    split = {**ds.split, "train_images": 1, "test_images": n, "seed": int(ds.split["seed"]) + seed_offset}
    return micro_dataset(replace(ds, name=f"{ds.name}-fresh", split=split)).test


def _stacked(split: dict, concepts: list[str]):
    feats = torch.cat([split[c] for c in concepts])
    owner = torch.cat([torch.full((len(split[c]),), i) for i, c in enumerate(concepts)])
    return feats, owner


def _retrieval_ap(split: dict, concepts: list[str], k: int, texts: torch.Tensor) -> torch.Tensor:
    """Average precision of concept k's images among all of `split`, ranked by cosine to each text [T, d]."""
    from torchmetrics.functional.classification import binary_average_precision

    feats, owner = _stacked(split, concepts)
    target = (owner == k).long()
    return torch.tensor([float(binary_average_precision(feats @ t, target)) for t in texts])


def _ten_way(split: dict, concepts: list[str], names: torch.Tensor, k: int, texts: torch.Tensor) -> torch.Tensor:
    """Accuracy − false-positive rate of each text [T, d] as concept k's class text against the other names."""
    feats, owner = _stacked(split, concepts)
    rivals = torch.cat([feats @ names[:k].T, feats @ names[k + 1 :].T], 1).max(1).values
    wins = ((feats @ texts.T) > rivals[:, None]).float()
    return wins[owner == k].mean(0) - wins[owner != k].mean(0)


def newness(lib, n_test: int = 30, steps: int | None = None, progress: bool = False) -> list[dict]:
    """Per concept: the best prompt of known words vs a word learned from the concept's own anchor (the suite's
    training settings), scored in the micro CLIP on `n_test` fresh renders per concept.

    Main score: retrieval average precision of the concept's images among all the dataset's images, ranked by
    cosine to the prompt: does the prompt single the concept out? The known prompt is the best of every
    [pattern] [colour] shape-or-thing description, chosen on the training images. Also reported: the
    classification metric of the study (10-way accuracy − false-positive rate against the other concepts'
    names), which measures those names as much as the prompt."""
    from vwbench.data.manifest import load_dataset
    from vwbench.learn import learn
    from vwbench.models.factory import build_task_model
    from vwbench.records import Trial
    from vwbench.tokenizer import single_token_id

    suite = lib.suite("micro")
    cfg = suite.train if steps is None else type(suite.train)(**{**suite.train.__dict__, "steps": steps})
    model = build_task_model(lib.task("micro-classification"), "cpu")
    prompts = known_prompts()
    with torch.no_grad():  # the same 484 prompts for every dataset: encoded once
        cand = torch.cat(
            [
                model.encode_texts([model.spec.template.format(p) for p in prompts[i : i + 256]])
                for i in range(0, len(prompts), 256)
            ]
        )
    out = []
    for ds in suite.datasets:
        data = load_dataset(ds)
        model.prepare(data)
        train = model.cache(ds.name)["train"]
        fresh = fresh_test_set(ds, n_test)
        with torch.no_grad():
            test = {c: model.image_features([e.image() for e in fresh[c]]) for c in data.concepts}
            names = model.encode_texts([model.spec.template.format(data.names[c]) for c in data.concepts])
        trials = [Trial("micro", ds.name, c.id, c.anchor, "classification", None, cfg.seed) for c in ds.concepts]
        learned = {r.trial.concept: r for r in learn(model, data, trials, cfg, progress=progress)}
        with torch.no_grad():
            words = model.encode_with_vectors(
                torch.stack([learned[c].vector for c in data.concepts]),
                [single_token_id(c.anchor) for c in ds.concepts],
            )

        for k, c in enumerate(data.concepts):
            # the known prompt is chosen on the training images, as the word is learned there
            best = int(_retrieval_ap(train, data.concepts, k, cand).argmax())
            known, word = cand[best : best + 1], words[k : k + 1]
            known_ap, learned_ap = (float(_retrieval_ap(test, data.concepts, k, t)[0]) for t in (known, word))
            known_cls, learned_cls = (float(_ten_way(test, data.concepts, names, k, t)[0]) for t in (known, word))
            out.append(
                {
                    "dataset": ds.name,
                    "concept": c,
                    "anchor": ds.concepts[k].anchor,
                    "best_known_prompt": prompts[best],
                    "known_ap": known_ap,
                    "learned_ap": learned_ap,
                    "gap": learned_ap - known_ap,
                    "known_cls": known_cls,
                    "learned_cls": learned_cls,
                    "n_test": n_test,
                }
            )
    return out


def newness_verdict(rows: list[dict]) -> dict:
    """Per dataset: mean AP of both and their mean gap; the concepts whose learned word is not clearly better than
    the best known prompt (gap < NEWNESS_CONCEPT_MARGIN), split into those a known prompt reaches (its AP ≥
    NEWNESS_REACHED_AP: not new words) and those neither reaches; and whether the dataset passes: mean gap ≥
    NEWNESS_MARGIN and no concept reached by known words."""
    out = {}
    for name in dict.fromkeys(r["dataset"] for r in rows):
        rs = [r for r in rows if r["dataset"] == name]
        gap = float(np.mean([r["gap"] for r in rs]))
        close = [r for r in rs if r["gap"] < NEWNESS_CONCEPT_MARGIN]
        out[name] = {
            "gap": gap,
            "known_ap": float(np.mean([r["known_ap"] for r in rs])),
            "learned_ap": float(np.mean([r["learned_ap"] for r in rs])),
            "reached_by_known_words": [r["concept"] for r in close if r["known_ap"] >= NEWNESS_REACHED_AP],
            "reached_by_neither": [r["concept"] for r in close if r["known_ap"] < NEWNESS_REACHED_AP],
        }
        out[name]["passed"] = gap >= NEWNESS_MARGIN and not out[name]["reached_by_known_words"]
    return out
