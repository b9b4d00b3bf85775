"""Speed benchmarks: the batched learner against a naive textual-inversion loop, evaluation, transfer fits.

The FAST path is `vwbench.learn.learn`: K concepts per batch, the frozen per-image work cached once by
`model.prepare`, one separate float32 parameter for the K vectors. The NAIVE reference mirrors common
textual-inversion practice (diffusers' examples/textual_inversion/textual_inversion.py): one concept per run,
the frozen image encoder run on every step's batch, and Adam over the WHOLE input-embedding table, every row
but the placeholder's restored after each step. Both run in the same process, on the same model objects, data,
batch draws (trial k's own generator) and hyperparameters, so their ratio measures only the loop.

Image decoding and preprocessing happen once per run in both: in `prepare` for the fast path (once for all K
words), at the start of each one-word run for the naive loop. The diffusers script redoes them on every step,
so the naive loop here is if anything faster than common practice, and the reported ratio conservative.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vwbench.clock import Clock
from vwbench.errors import VWBenchError
from vwbench.learn import generators, learn
from vwbench.models.base import TaskModel, sample_indices
from vwbench.records import Trial
from vwbench.spec import TrainConfig
from vwbench.tokenizer import single_token_id

GOALS = {"generation": 3.0, "detection": 10.0, "classification": 10.0}  # issue #5: fast/naive ratio goals
TRANSFER_SHAPE = (49408, 1024, 768)  # SD 2.1 (OpenCLIP-H text, 1024) -> CLIP L/14 text (768) tables
TRANSFER_GOAL_S = 5.0  # linear_transfer fit on TRANSFER_SHAPE


def bench_trials(suite_name: str, ds, task_kind: str, k: int, seed: int = 0) -> list[Trial]:
    """K trials on dataset spec `ds`: its (concept, anchor) pairs in order, repeated with the next seed if K is larger."""
    pairs = [(c.id, a) for c in ds.concepts for a in ds.anchors_for(c, "all")]
    return [
        Trial(
            suite_name,
            ds.name,
            pairs[i % len(pairs)][0],
            pairs[i % len(pairs)][1],
            task_kind,
            None,
            seed + i // len(pairs),
        )
        for i in range(k)
    ]


# ------------------------------------------------------------------------------------------ naive loops


@contextlib.contextmanager
def trainable_table(embedding: torch.nn.Embedding):
    """The whole input-embedding table as the trainable parameter (as diffusers' textual_inversion.py does);
    its values and requires_grad flag are restored on exit."""
    weight = embedding.weight
    orig, flag = weight.detach().clone(), weight.requires_grad
    weight.requires_grad_(True)
    try:
        yield weight, orig
    finally:
        with torch.no_grad():
            weight.copy_(orig)
        weight.grad = None
        weight.requires_grad_(flag)


def _gen_frozen(model, data, concept: str):
    pixels = model.image_processor.preprocess(
        [e.image() for e in data.train[concept]],
        height=model.spec.image_size,
        width=model.spec.image_size,
        resize_mode="crop",
    )
    return pixels.to(model.device, model.dtype)


def _gen_loss(model, pixels, prompt, g, batch_size):
    """VAE-encode the batch (every step), noise it, and regress the UNet's target, as the diffusers script does."""
    sched, vae, scale = model.noise_scheduler, model.pipe.vae, model.pipe.vae.config.scaling_factor
    idx = sample_indices(len(pixels), batch_size, g)
    with torch.no_grad():
        dist = vae.encode(pixels[idx]).latent_dist
        mean, std = dist.mean.float(), dist.std.float()
    latents = (mean + std * torch.randn(mean.shape, generator=g).to(model.device)) * scale
    t = torch.randint(0, sched.config.num_train_timesteps, (batch_size,), generator=g).to(model.device)
    noise = torch.randn(latents.shape, generator=g).to(model.device)
    target = noise if model.prediction_type == "epsilon" else sched.get_velocity(latents, noise, t)
    hidden = model.text_features(prompt.ids).repeat_interleave(batch_size, 0)
    pred = model.pipe.unet(sched.add_noise(latents, noise, t).to(model.dtype), t, hidden).sample.float()
    return F.mse_loss(pred, target)


def _cls_frozen(model, data, concept: str):
    def pix(examples):
        return torch.stack([model.loaded.processor(e.image()) for e in examples]).to(model.device, model.dtype)

    others = [e for c in data.concepts if c != concept for e in data.train[c]]  # the adapter's negative order
    return pix(data.train[concept]), pix(others)


def _cls_loss(model, pixels, prompt, g, batch_size):
    """Encode the batch's positive and negative images (every step); −mean cos(pos) + mean cos(neg)."""
    pos, neg = pixels
    batch = torch.cat([pos[sample_indices(len(pos), batch_size, g)], neg[sample_indices(len(neg), batch_size, g)]])
    with torch.no_grad():
        feats = F.normalize(model.model.encode_image(batch).float(), dim=-1)
    text = model.text_features(prompt.ids)[0]
    return -(feats[:batch_size] @ text).mean() + (feats[batch_size:] @ text).mean()


def _det_frozen(model, data, concept: str):
    examples = data.train[concept]
    images = [e.image() for e in examples]
    pixels = torch.cat([model.loaded.processor(images=im, return_tensors="pt").pixel_values for im in images])
    sides = torch.tensor([float(max(im.size)) for im in images])
    targets = [torch.tensor(e.target_boxes(concept), dtype=torch.float32).reshape(-1, 4) for e in examples]
    return pixels.to(model.device, model.dtype), sides, targets


def _det_loss(model, frozen, prompt, g, batch_size):
    """Vision tower, box head and class head on the batch (every step); IoU-weighted region cosines."""
    from torchvision.ops import box_convert

    from vwbench.models.detection import region_weights

    pixels, sides, targets = frozen
    idx = sample_indices(len(pixels), batch_size, g)
    m, iou = model.model, float(model.spec.loss.get("positive_iou", 0.5))
    with torch.no_grad():
        fmap, _ = m.image_embedder(pixel_values=pixels[idx])
        feats = fmap.reshape(fmap.shape[0], -1, fmap.shape[-1])
        boxes = m.box_predictor(feats, fmap).float()
        embeds = F.normalize(m.class_head.dense0(feats).float(), dim=-1)
        sums = []
        for b, i in enumerate(idx.tolist()):
            xyxy = box_convert(boxes[b], "cxcywh", "xyxy").cpu() * sides[i]
            sums.append(region_weights(xyxy, targets[i], iou).to(embeds) @ embeds[b])
    return (model.text_features(prompt.ids)[0] * torch.stack(sums).mean(0)).sum()


NAIVE = {
    "generation": (_gen_frozen, _gen_loss),
    "detection": (_det_frozen, _det_loss),
    "classification": (_cls_frozen, _cls_loss),
}


def naive_learn(
    model: TaskModel, data, trial: Trial, cfg: TrainConfig, step_hook=None
) -> tuple[torch.Tensor, list[float]]:
    """Train one word the naive way; returns its final vector [1, d] (float32, CPU) and the per-step losses.

    The placeholder is the anchor's own token id (the fast path injects at the same position, so both start from
    the same loss); the model's table is restored afterwards. Draws come from the trial's generator, like learn().
    """
    if model.task not in NAIVE:
        raise VWBenchError(f"no naive reference loop for task kind {model.task!r} (known: {', '.join(NAIVE)})")
    frozen_inputs, step_loss = NAIVE[model.task]
    pid = single_token_id(trial.anchor)
    prompt = model.prompts([pid], 1)
    frozen = frozen_inputs(model, data, trial.concept)
    g = generators([trial])[0]
    losses = []
    with trainable_table(model.text_embedding()) as (weight, orig):
        keep = torch.ones(weight.shape[0], dtype=torch.bool, device=weight.device)
        keep[pid] = False
        opt = torch.optim.Adam([weight], lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)
        for step in range(cfg.steps):
            opt.zero_grad(set_to_none=True)
            loss = step_loss(model, frozen, prompt, g, cfg.batch_size)
            loss.backward()
            opt.step()
            with torch.no_grad():
                weight[keep] = orig[keep]  # only the placeholder row may change
            losses.append(float(loss.detach()))
            if step_hook is not None:
                step_hook(weight[pid].detach(), step)
        vector = weight[pid].detach().float().cpu().clone()[None]
    return vector, losses


# ------------------------------------------------------------------------------------------ timing


@dataclass
class LearnerRow:
    task: str
    model: str
    k: int
    steps: int
    fast: tuple[float, float]  # (wall, cpu) s: prepare (feature cache rebuilt) + learn() on K trials
    prepare: tuple[float, float]  # (wall, cpu) s of that prepare
    naive: tuple[float, float]  # (wall, cpu) s: naive_learn on `naive_n` trials, one run each
    naive_n: int
    evaluate: tuple[float, float]  # (wall, cpu) s: model.evaluate on every trial of the dataset
    eval_n: int

    @property
    def fast_rate(self) -> float:
        """Words trained per wall-clock second."""
        return self.k / self.fast[0]

    @property
    def naive_rate(self) -> float:
        return self.naive_n / self.naive[0]

    @property
    def ratio(self) -> float:
        return self.fast_rate / self.naive_rate

    @property
    def ratio_cpu(self) -> float:
        return (self.k / self.fast[1]) / (self.naive_n / self.naive[1])

    def as_dict(self) -> dict:
        return {
            **dataclasses.asdict(self),
            "fast_rate": self.fast_rate,
            "naive_rate": self.naive_rate,
            "ratio": self.ratio,
            "ratio_cpu": self.ratio_cpu,
        }


def time_fast(model: TaskModel, data, trials: list[Trial], cfg: TrainConfig) -> tuple[Clock, Clock]:
    """Clocks of (prepare + learn, prepare); the dataset's feature cache is rebuilt from scratch."""
    with Clock(model.device) as total:
        with Clock(model.device) as prep:
            model.prepare(data, fresh=True)
        for _ in learn(model, data, trials, dataclasses.replace(cfg, concepts_per_batch=len(trials)), progress=False):
            pass
    return total, prep


def time_naive(model: TaskModel, data, trials: list[Trial], cfg: TrainConfig) -> Clock:
    with Clock(model.device) as clock:
        for trial in trials:
            naive_learn(model, data, trial, cfg)
    return clock


def time_evaluate(model: TaskModel, data, trials: list[Trial], k: int) -> Clock:
    """Score every trial (anchor embeddings as the words) with model.evaluate, K at a time."""
    table = model.token_embeddings()
    with Clock(model.device) as clock:
        for i in range(0, len(trials), k):
            chunk = trials[i : i + k]
            ids = [single_token_id(t.anchor) for t in chunk]
            model.evaluate(table[ids][:, None].to(model.device), ids, [t.concept for t in chunk], data)
    return clock


def bench_task(model: TaskModel, data, ds, suite, steps: int, k: int, naive_n: int = 3) -> LearnerRow:
    """Fast vs naive learner and evaluation time for one task model on one dataset (after one untimed warm-up step
    of each). The naive loop trains the first `naive_n` of the fast path's K trials."""
    cfg = dataclasses.replace(suite.train, steps=steps, num_vectors=1)
    trials = bench_trials(suite.name, ds, model.task, k, cfg.seed)
    warm = dataclasses.replace(cfg, steps=1)
    for _ in learn(model, data, trials[:1], warm, progress=False):
        pass
    naive_learn(model, data, trials[0], warm)
    fast, prep = time_fast(model, data, trials, cfg)
    naive_trials = trials[: max(1, min(naive_n, k))]
    naive = time_naive(model, data, naive_trials, cfg)
    all_trials = [
        Trial(suite.name, ds.name, c.id, a, model.task, None, cfg.seed)
        for c in ds.concepts
        for a in ds.anchors_for(c, suite.anchors)
    ]
    ev = time_evaluate(model, data, all_trials, k)
    return LearnerRow(
        model.task,
        model.spec.name,
        k,
        steps,
        fast.pair,
        prep.pair,
        naive.pair,
        len(naive_trials),
        ev.pair,
        len(all_trials),
    )


def learner_table(rows: list[LearnerRow]) -> str:
    from tabulate import tabulate

    out = []
    for r in rows:
        goal = GOALS.get(r.task)
        verdict = "-" if goal is None else f"≥{goal:g}x {'met' if r.ratio >= goal else 'MISSED'}"
        out.append(
            (
                r.task,
                r.model,
                r.k,
                r.steps,
                f"{r.fast[0]:.2f} ({r.prepare[0]:.2f})",
                f"{r.fast_rate:.3f}",
                f"{r.naive[0] / r.naive_n:.2f}",
                f"{r.naive_rate:.3f}",
                f"{r.ratio:.1f}x",
                verdict,
                f"{r.ratio_cpu:.1f}x",
                f"{r.evaluate[0]:.2f} ({r.eval_n})",
            )
        )
    return tabulate(
        out,
        headers=[
            "task",
            "model",
            "K",
            "steps",
            "fast s (cache)",
            "fast emb/s",
            "naive s/emb",
            "naive emb/s",
            "ratio fast/naive",
            "goal",
            "ratio (CPU s)",
            "evaluate s (trials)",
        ],
    )


# ------------------------------------------------------------------------------------------ transfer fits


@dataclass
class TransferRow:
    method: str
    shape: tuple[int, int, int]
    fit_s: float
    apply_s: float
    note: str = ""


def random_spaces(n: int, d_src: int, d_tgt: int, seed: int = 0):
    """Two random float32 tables over the real CLIP vocabulary (first n tokens): stand-ins for real models' tables."""
    from vwbench.models.space import EmbeddingSpace
    from vwbench.tokenizer import BOS_ID, EOS_ID, token_strings

    g = torch.Generator().manual_seed(seed)
    tokens = token_strings()[:n]
    special = [i for i in (BOS_ID, EOS_ID) if i < n]
    src = EmbeddingSpace.from_table("source", tokens, torch.randn(n, d_src, generator=g), exclude=special)
    tgt = EmbeddingSpace.from_table("target", tokens, torch.randn(n, d_tgt, generator=g), exclude=special)
    return src, tgt


def bench_transfer(
    methods: list[str] | None = None, shape: tuple[int, int, int] = TRANSFER_SHAPE, n_vectors: int = 40
) -> list[TransferRow]:
    """Fit each method on two random tables of `shape` (vocab, d_src, d_tgt), then map `n_vectors` vectors.
    The fit includes pairing the shared tokens and the float64 cast, as in a study run."""
    from vwbench.transfer import registry

    src, tgt = random_spaces(*shape)
    vectors = torch.randn(n_vectors, shape[1], generator=torch.Generator().manual_seed(1))
    rows = []
    for name in methods or list(registry.BUILTINS):
        method = registry.get(name)
        with Clock() as fit:
            method.fit(src, tgt)
        with Clock() as apply:
            method(vectors)
        rows.append(TransferRow(name, shape, fit.wall, apply.wall))
    return rows


def transfer_table(rows: list[TransferRow]) -> str:
    from tabulate import tabulate

    out = []
    for r in rows:
        goal = (
            f"≤{TRANSFER_GOAL_S:g}s {'met' if r.fit_s <= TRANSFER_GOAL_S else 'MISSED'}"
            if r.method == "linear_transfer" and r.shape == TRANSFER_SHAPE
            else "-"
        )
        out.append(
            (
                r.method,
                f"{r.shape[0]:,} x {r.shape[1]:,} -> {r.shape[2]:,}",
                f"{r.fit_s:.2f}",
                f"{r.apply_s * 1e3:.1f}",
                goal,
            )
        )
    return tabulate(
        out, headers=["transfer method", "shape (vocab x d_src -> d_tgt)", "fit s", "apply ms (40 vectors)", "goal"]
    )
