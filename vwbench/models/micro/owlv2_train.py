"""Training of the micro-world OWLv2 (`vwbench zoo build micro`): DETR-style set prediction on multi-object
known-world scenes (the loss: set_loss.py); the model, its forward pieces and its AP check are in owlv2.py."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from vwbench.clock import Clock
from vwbench.data.micro import world
from vwbench.models.initialize import seeded
from vwbench.models.micro.owlv2 import (
    CONFIG,
    NAME,
    TRAIN,
    CompactTokens,
    build,
    class_logits,
    count_parameters,
    evaluate_ap50,
    image_outputs,
    normalize,
    object_key,
    phrase_key,
    text_queries,
)
from vwbench.models.micro.set_loss import set_prediction_loss
from vwbench.models.micro.store import save_weights
from vwbench.models.micro.training import AppearanceHeads, render_pool, trained_token_ids


def _pool_seed(seed: int) -> int:
    return 1_000 + seed


def _eval_seed(seed: int) -> int:
    return 7_000_000 + seed  # never a training pool seed (those are 1000 + seed)


# ------------------------------------------------------------------------------------------------- batches


def _boxes_cxcywh(objs: list[world.Obj], flip: bool) -> torch.Tensor:
    b = torch.tensor([o.box for o in objs], dtype=torch.float32).reshape(-1, 4) / world.SIZE
    if flip:
        b = torch.stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]], -1)
    b = b.clamp(0, 1)
    return torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], -1)


def make_batch(pool, idx: list[int], phrases: list[list[str]], flips: list[bool], named: bool = False):
    """Images uint8 [B, H, W, 3], the batch's query texts and per-image gt boxes / own query / positive queries."""
    images = torch.from_numpy(pool.images[idx])
    flip_t = torch.tensor(flips)
    if flip_t.any():
        images = torch.where(flip_t.view(-1, 1, 1, 1), images.flip(2), images)
    texts = list(dict.fromkeys(p for i in idx for p in phrases[i]))
    index = {t: k for k, t in enumerate(texts)}
    qkeys = [phrase_key(t) for t in texts]
    gt_boxes, gt_query, gt_pos = [], [], []
    for i, f in zip(idx, flips):
        objs = pool.objects[i]
        gt_boxes.append(_boxes_cxcywh(objs, f))
        gt_query.append(torch.tensor([index[p] for p in phrases[i]], dtype=torch.long))
        gt_pos.append(
            torch.tensor([[object_key(o, named) == k for k in qkeys] for o in objs], dtype=torch.bool).reshape(
                len(objs), len(texts)
            )
        )
    return images, texts, gt_boxes, gt_query, gt_pos


def _scene_phrases(pool, seed: int, named: bool = False) -> list[list[str]]:
    """Each object's query: its phrase in a random caption template (the templates' words are part of the
    known vocabulary every micro model shares), drawn once per scene; objects of one image with the same key
    share one query."""
    rng = np.random.default_rng(seed)
    out = []
    for objs in pool.objects:
        by_key: dict = {}
        out.append(
            [
                by_key.setdefault(
                    object_key(o, named),
                    world.TEMPLATES[int(rng.integers(len(world.TEMPLATES)))].format(
                        world.phrase(o, rng, size_word=rng.random() < 0.2, named=named)
                    ),
                )
                for o in objs
            ]
        )
    return out


# --------------------------------------------------------------------------------------------------- train


def _appearance_regions(matches, boxes, gt_boxes, which: str) -> list[tuple[int, int, int]]:
    """(image, region, object) triples whose class embeddings read out the object's appearance: the Hungarian-matched
    region of each object (`matched`), or also every region whose predicted box has IoU >= 0.5 with an object, for
    the object it overlaps most (`overlap`). A learned word is scored on whichever region covers the object best,
    which is often not the matched one."""
    out = [(b, int(r), int(c)) for b, (rows, cols) in enumerate(matches) for r, c in zip(rows, cols)]
    if which == "matched":
        return out
    if which != "overlap":
        raise ValueError(f"appearance_regions: 'matched' or 'overlap', not {which!r}")
    from torchvision.ops import box_iou

    from vwbench.models.micro.set_loss import cxcywh_to_xyxy

    seen = {(b, r) for b, r, _ in out}
    for b, gt in enumerate(gt_boxes):
        if not len(gt):
            continue
        best, obj = box_iou(cxcywh_to_xyxy(boxes[b].detach()), cxcywh_to_xyxy(gt)).max(1)
        out += [
            (b, int(r), int(obj[r])) for r in torch.nonzero(best >= 0.5).flatten().tolist() if (b, int(r)) not in seen
        ]
    return out


def _fit(seed: int, scale: float, progress: bool, config: dict | None = None, hp: dict | None = None):
    """Train from seeds; returns (model, processor, config, hp, trained_ids, log)."""
    from tqdm.auto import tqdm

    config = {**CONFIG, **(config or {})}
    hp = {**TRAIN, **(hp or {})}
    steps = max(2, round(hp["steps"] * scale))
    pool_n = max(2 * hp["batch"], round(hp["pool"] * min(1.0, scale)))
    pool = render_pool(
        pool_n,
        _pool_seed(seed),
        max_objects=hp["max_objects"],
        novel_rate=hp["novel_rate"],
        progress=progress,
        named=hp.get("named", False),
    )
    phrases = _scene_phrases(pool, _pool_seed(seed), hp.get("named", False))
    trained_ids = trained_token_ids(sorted({p for ps in phrases for p in ps}))

    with seeded(seed):
        model, processor = build(config)
    compact = CompactTokens(model, trained_ids)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    aux = AppearanceHeads(model.config.projection_dim)
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": hp["weight_decay"]},
            {"params": rest + list(aux.parameters()), "weight_decay": 0.0},
        ],
        lr=hp["lr"],
        betas=(0.9, 0.98),
    )
    warmup = max(1, min(hp["warmup"], steps // 10))

    def lr_at(step):
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, steps - warmup)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    g = torch.Generator().manual_seed(seed)
    order, cursor = torch.randperm(pool_n, generator=g), 0
    log, ema = [], None
    bar = tqdm(range(steps), desc="owlv2", disable=not progress)
    for step in bar:
        if cursor + hp["batch"] > pool_n:
            order, cursor = torch.randperm(pool_n, generator=g), 0
        idx = order[cursor : cursor + hp["batch"]].tolist()
        cursor += hp["batch"]
        flips = (torch.rand(len(idx), generator=g) < 0.5).tolist() if hp["flip"] else [False] * len(idx)
        images, texts, gt_boxes, gt_query, gt_pos = make_batch(pool, idx, phrases, flips, hp.get("named", False))
        feats, boxes, objectness = image_outputs(model, normalize(images, processor))
        logits = class_logits(model, feats, text_queries(model, texts, compact))
        loss, parts = set_prediction_loss(logits, boxes, objectness, gt_boxes, gt_query, gt_pos, hp)
        # the class embeddings of an object's regions also read out its appearance (AppearanceHeads)
        matched = _appearance_regions(parts["matches"], boxes, gt_boxes, hp.get("appearance_regions", "matched"))
        if matched and hp.get("appearance_weight", 0.0) > 0:
            embeds = model.class_head.dense0(torch.stack([feats[b, r] for b, r, _ in matched]))
            objs = [pool.objects[idx[b]][int(c)] for b, _, c in matched]
            loss = loss + hp["appearance_weight"] * aux(embeds, objs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), hp["grad_clip"])
        opt.step()
        sched.step()
        value = loss.item()
        ema = value if ema is None else 0.98 * ema + 0.02 * value
        if step % 50 == 0 or step == steps - 1:
            log.append(
                {"step": step, "loss": round(value, 4), **{k: round(v, 4) for k, v in parts.items() if k != "matches"}}
            )
            bar.set_postfix(loss=f"{ema:.3f}", cls=f"{parts['class']:.3f}", giou=f"{parts['giou']:.3f}")
    compact.restore()
    model.eval()
    return model, processor, config, hp, compact.ids, {"steps": steps, "pool": pool_n, "final_loss": ema, "log": log}


def train(folder: Path, seed: int = 0, progress: bool = True, scale: float = 1.0, hp: dict | None = None) -> dict:
    """Train the micro OWLv2 from `seed` (with `hp` overriding TRAIN), save `owlv2.safetensors` + `owlv2.json` in
    `folder`; a report."""
    clock = Clock()
    model, processor, config, hp, trained_ids, log = _fit(seed, scale, progress, hp=hp)
    train_seconds = clock.seconds()
    meta = {**config, "train": {**hp, "seed": seed, "scale": scale, "steps_run": log["steps"], "pool_run": log["pool"]}}
    # trained_ids: trained_token_ids of the query texts plus the start and end tokens (see CompactTokens)
    path = save_weights(NAME, model.state_dict(), meta, trained_ids, folder)
    n_eval = max(8, round(hp["eval_images"] * min(1.0, scale)))
    metrics = evaluate_ap50(model, processor, n_eval, _eval_seed(seed))
    return {
        "name": NAME,
        "path": str(path),
        "bytes": path.stat().st_size,
        "seconds": clock.seconds(),
        "train_seconds": train_seconds,
        "steps": log["steps"],
        "batch": hp["batch"],
        "pool": log["pool"],
        "final_loss": round(log["final_loss"], 4),
        "params": count_parameters(model),
        "trained_ids": len(trained_ids),
        **metrics,
    }
