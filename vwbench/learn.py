"""Soft-prompt tuning of new words: K trials trained together, each its own float32 vector, optional δ-ball PGD.

The loop knows only the TaskModel interface. Every random draw of trial k (batch images, timesteps, noise) comes
from trial k's own generator, and Adam is elementwise, so training K trials in one batch gives the same vectors
as K separate runs. With δ set, after every step each vector is projected onto the l2 ball of radius
δ · d_nn(anchor) around the anchor embedding (PROTOCOL.md 14.9); the optimizer state is left untouched.

With `cfg.micro_batch` set, a step's rows (TaskModel.rows_per_trial: K x batch UNet passes for generation, K
text passes otherwise) are drawn first, then run `micro_batch` at a time with their gradients accumulated:
the same gradient as one pass, to float rounding (docs/learning.md, Memory). Models with fp16 weights get a
dynamic loss scale per word (LossScale), so that their gradients do not underflow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import torch
from tqdm.auto import tqdm

from vwbench.data.types import ConceptDataset
from vwbench.errors import VWBenchError
from vwbench.models.base import TaskModel
from vwbench.records import LearnResult, Trial
from vwbench.spec import TrainConfig


def trial_seed(trial: Trial, salt: str = "") -> int:
    """A stable 63-bit seed from everything that identifies a trial."""
    text = f"{trial.dataset}|{trial.concept}|{trial.anchor}|{trial.train_task}|{trial.delta}|{trial.seed}|{salt}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def generators(trials: list[Trial], salt: str = "") -> list[torch.Generator]:
    return [torch.Generator().manual_seed(trial_seed(t, salt)) for t in trials]


def project(vectors: torch.Tensor, anchors: torch.Tensor, radii: torch.Tensor) -> None:
    """In place: v ← a + (v − a) · min(1, r / ‖v − a‖) for each vector (radii [K], inf = unconstrained)."""
    diff = vectors - anchors
    norm = diff.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    scale = torch.clamp(radii.view(-1, 1, 1) / norm, max=1.0)
    vectors.copy_(anchors + diff * scale)


class LossScale:
    """Dynamic loss scaling for fp16 weights, one scale per word: word k's loss is multiplied by scale[k] (a power
    of two) before backward and its gradient divided by it after, which is exact. When a word's gradient is not
    finite its scale halves and the whole step is redone with the same draws (never skipped: a skipped step
    would desynchronise Adam between words trained together); a scale doubles after `growth_interval` finite
    steps. Scales are per word so that K words together still learn what K separate runs do."""

    def __init__(self, k: int, init: float = 2.0**16, growth_interval: int = 100):
        self.scale = torch.full((k,), float(init))
        self.clean = torch.zeros(k, dtype=torch.long)
        self.growth_interval = growth_interval

    def unscale(self, grad: torch.Tensor) -> bool:
        """Divide `grad` [K, ...] by the scales and return True, or lower the scales of the words whose gradient
        overflowed and return False (the step must be redone)."""
        finite = torch.isfinite(grad.reshape(len(self.scale), -1)).all(1).cpu()
        if not finite.all():
            if (self.scale[~finite] <= 1.0).any():
                raise VWBenchError("fp16 gradient is not finite even at loss scale 1; use dtype bfloat16 or float32")
            self.scale[~finite] /= 2
            self.clean[~finite] = 0
            return False
        grad.div_(self.scale.to(grad.device, grad.dtype).view(-1, *[1] * (grad.dim() - 1)))
        self.clean += 1
        grow = self.clean >= self.growth_interval
        self.scale[grow] *= 2
        self.clean[grow] = 0
        return True


def train_step(
    model: TaskModel,
    vectors: torch.nn.Parameter,
    ids,
    concepts,
    data_name: str,
    gens,
    cfg: TrainConfig,
    scaler: LossScale | None = None,
) -> torch.Tensor:
    """Leave one step's gradient in `vectors.grad` (loss-scaled and unscaled when `scaler` is given); returns
    the per-trial losses."""
    states = [g.get_state() for g in gens] if scaler is not None else []
    while True:
        vectors.grad = None
        losses = step_losses(
            model, vectors, ids, concepts, data_name, gens, cfg, True, None if scaler is None else scaler.scale
        )
        if scaler is None or scaler.unscale(vectors.grad):
            return losses
        for g, state in zip(gens, states):  # the same draws again
            g.set_state(state)


def step_losses(
    model: TaskModel,
    vectors: torch.Tensor,
    ids: list[int],
    concepts: list[str],
    data_name: str,
    gens: list[torch.Generator],
    cfg: TrainConfig,
    backward: bool,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-trial losses [K] (CPU, detached) of one step; with `backward`, the gradient of their sum (each times
    its `scale`, when given) is left in `vectors.grad`. Without a micro-batch smaller than the step's rows this
    is one `model.loss` call."""
    rows = len(ids) * model.rows_per_trial(cfg.batch_size)
    micro = cfg.micro_batch
    if scale is not None:
        scale = scale.to(model.device)
    if micro is None or micro >= rows:
        losses = model.loss(vectors, ids, concepts, data_name, gens, cfg.batch_size)
        if backward:
            (losses if scale is None else losses * scale).sum().backward()
        return losses.detach().cpu()
    drawn = model.draw(concepts, data_name, gens, cfg.batch_size)
    per = rows // len(ids)
    total = torch.zeros(len(ids), dtype=torch.float64)
    for start in range(0, rows, micro):
        idx = torch.arange(start, min(start + micro, rows))
        part = model.row_losses(vectors, ids, drawn, idx)
        if backward:
            (part if scale is None else part * scale[(idx // per).to(model.device)]).sum().backward()
        total.index_add_(0, idx // per, part.detach().cpu().double())
    return total.float()


def learn(
    model: TaskModel,
    data: ConceptDataset,
    trials: list[Trial],
    cfg: TrainConfig,
    progress: bool = True,
    step_hook=None,
    d_cache: dict | None = None,
) -> Iterator[LearnResult]:
    """Train the vectors of `trials` (all on `data`), `cfg.concepts_per_batch` at a time; yields results as
    each chunk finishes. `step_hook(vectors, step)` is called after every projected step (for tests).
    `d_cache` ({token id: d_nn}) may be shared between calls on the same model."""
    from vwbench.models.space import nearest_tokens, nn_distance

    model.prepare(data)
    space = model.vocabulary()
    table = space.table
    k_max = max(1, cfg.concepts_per_batch)
    chunks = [trials[i : i + k_max] for i in range(0, len(trials), k_max)]
    d_cache = (
        {} if d_cache is None else d_cache
    )  # d_nn scans the whole vocabulary: once per distinct anchor, not per trial
    for n_chunk, chunk in enumerate(chunks):
        ids = [model.tokenizer.single_token_id(t.anchor) for t in chunk]
        anchors = table[ids].unsqueeze(1).repeat(1, cfg.num_vectors, 1).to(model.device)
        for i in set(ids) - d_cache.keys():
            d_cache[i] = nn_distance(space, i)
        d_nn = torch.tensor([d_cache[i] for i in ids])
        radii = torch.tensor([t.delta * d if t.delta is not None else float("inf") for t, d in zip(chunk, d_nn)]).to(
            model.device
        )
        concepts = [t.concept for t in chunk]
        vectors = torch.nn.Parameter(anchors.clone().float())
        opt = torch.optim.Adam([vectors], lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)
        gens = generators(chunk)

        def fixed_loss(vectors=vectors, ids=ids, concepts=concepts, chunk=chunk) -> torch.Tensor:
            with torch.no_grad():
                return step_losses(model, vectors, ids, concepts, data.name, generators(chunk, "eval"), cfg, False)

        model.set_gradient_checkpointing(cfg.gradient_checkpointing)
        scaler = LossScale(len(chunk)) if model.dtype == torch.float16 else None
        loss_start = fixed_loss()
        bar = tqdm(
            range(cfg.steps),
            disable=not progress,
            leave=False,
            desc=f"learn {model.task} {data.name} [{n_chunk + 1}/{len(chunks)}: {len(chunk)} words]",
        )
        for step in bar:
            losses = train_step(model, vectors, ids, concepts, data.name, gens, cfg, scaler)
            opt.step()
            with torch.no_grad():
                project(vectors.data, anchors, radii)
            if step_hook is not None:
                step_hook(vectors.detach(), step)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{losses.mean().item():.4f}")
        loss_end = fixed_loss()
        final = vectors.detach().cpu()
        nearest = nearest_tokens(space, final[:, 0], k=1)[0][:, 0]
        for k, trial in enumerate(chunk):
            word = space.tokens[int(nearest[k])]
            dist = float((final[k] - anchors[k].cpu()).norm(dim=-1).max()) / float(d_nn[k])
            yield LearnResult(
                trial=trial,
                vector=final[k].clone(),
                loss_start=float(loss_start[k]),
                loss_end=float(loss_end[k]),
                nearest_token=word,
                anchor_distance=dist,
                extra={"d_nn": float(d_nn[k]), "steps": cfg.steps, "chunk_size": len(chunk)},
            )
