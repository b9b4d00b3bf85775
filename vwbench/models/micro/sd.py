"""The micro-world Stable Diffusion: real diffusers/transformers classes at toy size, trained from seeds on CPU.

Architecture (the `CONFIG` dict, stored in `sd.json`): an AutoencoderKL from 32x32 RGB to 8x8x4 latents, a
2-layer CLIPTextModel of width 32 over the shared 49,408-token CLIP vocabulary, and a UNet2DConditionModel with
channels (32, 64) and cross-attention of width 32; a DDIM scheduler with SD 2.1's settings (v-prediction).

Training (`train`): (1) the VAE on rendered known-world images (32x32): L1 + MSE weighted towards object pixels
(their colour is what prompts name) + a small KL term; the latent scale is then fitted to unit variance;
(2) text encoder and UNet jointly on the v-prediction loss (min-SNR-5 weighted) over the frozen VAE's latents,
with 10% empty captions (for classifier-free guidance) and an EMA of both. Captions are padded to 77 with 0 (as
the benchmark's `encode` pads, SD 2.x-style) or, for half the rows, with end-of-text (as the pipeline's own
tokenizer pads), so prompts work either way.

`sd_colour.colour_accuracy` is a quick self-check without the evaluator: the prompted colour vs the colour of the
brightest, most saturated pixels of generations.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import torch

from vwbench.clock import Clock
from vwbench.models.initialize import seeded
from vwbench.models.micro.sd_colour import vae_colour_accuracy
from vwbench.models.micro.store import load_weights, save_weights
from vwbench.models.micro.training import EMA, render_pool, trained_token_ids
from vwbench.tokenizer import BOS_ID, EOS_ID, VOCAB_SIZE, clip_tokenizer, encode

NAME = "sd"
IMAGE_SIZE = 32

CONFIG: dict = {
    "image_size": IMAGE_SIZE,
    "vae": {
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 4,
        "block_out_channels": [32, 64, 64],
        "down_block_types": ["DownEncoderBlock2D"] * 3,
        "up_block_types": ["UpDecoderBlock2D"] * 3,
        "layers_per_block": 1,
        "norm_num_groups": 16,
        "sample_size": IMAGE_SIZE,
        "scaling_factor": 1.0,
    },
    "text_encoder": {
        "vocab_size": VOCAB_SIZE,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "pad_token_id": 0,
        "projection_dim": 32,
    },
    "unet": {
        "sample_size": IMAGE_SIZE // 4,
        "in_channels": 4,
        "out_channels": 4,
        "layers_per_block": 1,
        "block_out_channels": [32, 64],
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "cross_attention_dim": 32,
        "attention_head_dim": 4,
        "norm_num_groups": 16,
    },
    # SD 2.1's scheduler settings: a v-prediction model
    "scheduler": {
        "num_train_timesteps": 1000,
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "clip_sample": False,
        "set_alpha_to_one": False,
        "steps_offset": 1,
        "prediction_type": "v_prediction",
    },
}

# step counts and optimiser settings at scale 1.0 (multiply the step counts by `scale`)
TRAINING: dict = {
    "pool": 20000,
    "novel_rate": 0.3,
    "max_objects": 1,
    "vae_steps": 1000,
    "vae_batch": 32,
    "vae_lr": 2e-3,
    "vae_kl": 1e-6,
    "vae_object_weight": 9.0,
    "unet_steps": 2200,
    "unet_batch": 128,
    "unet_lr": 2e-3,
    "text_lr": 2e-3,
    "empty_rate": 0.1,
    "ema": 0.995,
    "eos_pad_rate": 0.5,
}


# ------------------------------------------------------------------------------------------- architecture


def build(config: dict | None = None):
    """A randomly initialised StableDiffusionPipeline from a config dict (see `CONFIG`)."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    config = config or CONFIG
    tuples = lambda d: {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    vae = AutoencoderKL(**tuples(config["vae"]))
    text_encoder = CLIPTextModel(CLIPTextConfig(**config["text_encoder"]))
    unet = UNet2DConditionModel(**tuples(config["unet"]))
    scheduler = DDIMScheduler(**config["scheduler"])
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _steps(n: int, scale: float) -> int:
    return max(2, round(n * scale))


def _lr_at(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warmup, then cosine decay to a tenth of `base`."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def _set_lr(opt: torch.optim.Optimizer, step: int, total: int, warmup: int):
    for group in opt.param_groups:
        group["lr"] = _lr_at(step, total, group["base_lr"], warmup)


def tokenize(captions: list[str], pad_id: int = 0) -> torch.Tensor:
    """Token ids [N, 77]: start, tokens, end, then `pad_id`. The benchmark pads with 0 (SD 2.x, `encode`), the
    pipeline's own tokenizer with end-of-text; training sees both, so either way of prompting works."""
    return encode(captions, 77, pad_id)


# ------------------------------------------------------------------------------------------------ training


def _object_weight(x: torch.Tensor, weight: float) -> torch.Tensor:
    """Per-pixel loss weights [n, 1, H, W]: 1 + `weight` where a pixel differs from its image's background (the
    per-channel median), so the few object pixels, whose colour is the point, are reconstructed faithfully."""
    bg = x.flatten(2).median(dim=2).values[:, :, None, None]
    return 1 + weight * ((x - bg).abs().sum(1, keepdim=True) > 0.3).float()


def _train_vae(
    vae,
    images: torch.Tensor,
    rng: np.random.Generator,
    steps: int,
    batch: int,
    lr: float,
    kl: float,
    progress: bool,
    object_weight: float = 0.0,
) -> float:
    """Train the autoencoder on images in [0, 1] ([N, 3, 32, 32]) on object-weighted L1 + MSE and a small KL;
    returns the mean loss of the last steps."""
    from tqdm.auto import tqdm

    vae.train()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    for g in opt.param_groups:
        g["base_lr"] = lr
    losses = []
    bar = tqdm(range(steps), desc="sd vae", disable=not progress, mininterval=10)
    for step in bar:
        _set_lr(opt, step, steps, warmup=max(1, steps // 20))
        x = images[torch.from_numpy(rng.integers(0, len(images), batch))] * 2 - 1
        post = vae.encode(x).latent_dist
        rec = vae.decode(post.sample()).sample
        w = _object_weight(x, object_weight)
        err = rec - x
        loss = ((err.abs() + err.pow(2)) * w).mean() / w.mean() + kl * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
    vae.eval()
    return float(np.mean(losses[-max(1, min(50, steps // 5)) :]))


@torch.no_grad()
def _latent_stats(vae, images: torch.Tensor, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and std of every image (the UNet samples latents from them)."""
    means, stds = [], []
    for i in range(0, len(images), batch):
        post = vae.encode(images[i : i + batch] * 2 - 1).latent_dist
        means.append(post.mean)
        stds.append(post.std)
    return torch.cat(means), torch.cat(stds)


def _train_denoiser(
    pipe,
    mean: torch.Tensor,
    std: torch.Tensor,
    ids: torch.Tensor,
    rng: np.random.Generator,
    hp: dict,
    steps: int,
    progress: bool,
) -> float:
    """Text encoder + UNet on the v-prediction (or epsilon) loss with min-SNR weighting, empty captions and EMA;
    the EMA weights are copied into the pipeline at the end. Returns the mean loss of the last steps."""
    from tqdm.auto import tqdm

    unet, text_encoder, sched = pipe.unet, pipe.text_encoder, pipe.scheduler
    models = torch.nn.ModuleDict({"unet": unet, "text_encoder": text_encoder}).train()
    ema = EMA(models, decay=hp["ema"])
    emb = text_encoder.get_input_embeddings().weight
    other_te = [p for p in text_encoder.parameters() if p is not emb]
    opt = torch.optim.AdamW(
        [
            {"params": list(unet.parameters()), "base_lr": hp["unet_lr"], "weight_decay": 1e-2},
            {"params": other_te, "base_lr": hp["text_lr"], "weight_decay": 1e-2},
            {"params": [emb], "base_lr": hp["text_lr"], "weight_decay": 0.0},
        ],
        lr=hp["unet_lr"],
    )
    empty = tokenize([""])[0]
    eos_pad = hp.get("eos_pad_rate", 0.0)
    alphas = sched.alphas_cumprod
    snr = alphas / (1 - alphas)
    prediction = sched.config.prediction_type
    batch = min(hp["unet_batch"], len(mean))
    losses = []
    bar = tqdm(range(steps), desc="sd unet", disable=not progress, mininterval=10)
    for step in bar:
        _set_lr(opt, step, steps, warmup=max(1, steps // 30))
        idx = torch.from_numpy(rng.integers(0, len(mean), batch))
        z0 = (mean[idx] + std[idx] * torch.randn_like(std[idx])) * pipe.vae.config.scaling_factor
        tok = ids[idx].clone()
        tok[torch.rand(batch) < hp["empty_rate"]] = empty
        tok[(tok == 0) & (torch.rand(batch, 1) < eos_pad)] = EOS_ID  # pipeline-style padding for some rows
        t = torch.randint(0, sched.config.num_train_timesteps, (batch,))
        noise = torch.randn_like(z0)
        zt = sched.add_noise(z0, noise, t)
        cond = text_encoder(tok)[0]
        out = unet(zt, t, cond).sample
        if prediction == "v_prediction":
            target, weight = sched.get_velocity(z0, noise, t), snr[t].clamp(max=5.0) / (snr[t] + 1)
        else:
            target, weight = noise, snr[t].clamp(max=5.0) / snr[t]
        loss = (weight * (out - target).pow(2).mean(dim=(1, 2, 3))).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(models.parameters(), 1.0)
        opt.step()
        ema.decay = min(hp["ema"], (1 + step) / (10 + step))
        ema.update(models)
        losses.append(loss.item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    ema.copy_to(models)
    models.eval()
    return float(np.mean(losses[-max(1, min(100, steps // 5)) :]))


def fit(seed: int = 0, progress: bool = True, scale: float = 1.0, hp: dict | None = None, config: dict | None = None):
    """Train the micro SD pipeline from `seed`; returns (pipeline, config with the fitted latent scale, report,
    captions). `scale` multiplies step counts and the scene pool (tests use ~0.002)."""
    hp = {**TRAINING, **(hp or {})}
    config = copy.deepcopy(config or CONFIG)
    clock = Clock()
    report: dict = {"seed": seed, "scale": scale}
    pool = render_pool(
        max(64, int(hp["pool"] * min(1.0, scale * 10))),
        seed,
        max_objects=hp["max_objects"],
        novel_rate=hp["novel_rate"],
        progress=progress,
        named=hp.get("named", False),
    )
    images = pool.tensors(config["image_size"])
    ids = tokenize(pool.captions)
    rng = np.random.default_rng(seed)
    with seeded(seed):
        pipe = build(config)
        vae_clock = Clock()
        steps = _steps(hp["vae_steps"], scale)
        report["vae_loss"] = _train_vae(
            pipe.vae,
            images,
            rng,
            steps,
            min(hp["vae_batch"], len(images)),
            hp["vae_lr"],
            hp["vae_kl"],
            progress,
            hp.get("vae_object_weight", 0.0),
        )
        report["vae_steps"], report["vae_seconds"] = steps, vae_clock.seconds()
        report["vae_colour_accuracy"] = vae_colour_accuracy(pipe.vae, IMAGE_SIZE, n=200 if scale >= 0.1 else 16)
        if progress:
            from tqdm.auto import tqdm

            tqdm.write(
                f"sd vae: loss {report['vae_loss']:.4f}, colour accuracy of reconstructions "
                f"{report['vae_colour_accuracy']:.3f}"
            )
        mean, std = _latent_stats(pipe.vae, images)
        # SD's latent scale: unit variance of the scaled latents
        factor = float(1.0 / mean.flatten().std().clamp(min=1e-6))
        config["vae"]["scaling_factor"] = round(factor, 6)
        pipe.vae.register_to_config(scaling_factor=config["vae"]["scaling_factor"])
        unet_clock = Clock()
        steps = _steps(hp["unet_steps"], scale)
        report["unet_loss"] = _train_denoiser(pipe, mean, std, ids, rng, hp, steps, progress)
        report["unet_steps"], report["unet_seconds"] = steps, unet_clock.seconds()
    for module in (pipe.vae, pipe.unet, pipe.text_encoder):
        module.eval().requires_grad_(False)
    report.update(
        seconds=clock.seconds(),
        pool=len(images),
        latent_scale=config["vae"]["scaling_factor"],
        prediction_type=config["scheduler"]["prediction_type"],
    )
    return pipe, config, report, pool.captions


def state_of(pipe) -> dict[str, torch.Tensor]:
    """The pipeline's weights under the `vae.`, `unet.` and `text_encoder.` prefixes."""
    return {
        f"{prefix}.{k}": v
        for prefix in ("vae", "unet", "text_encoder")
        for k, v in getattr(pipe, prefix).state_dict().items()
    }


def save(pipe, config: dict, report: dict, captions: list[str], folder: Path | None = None) -> Path:
    """Write the fitted pipeline as `sd.safetensors` + `sd.json` (only the captions' token rows are stored)."""
    meta = {
        **config,
        "training": {
            **TRAINING,
            "seed": report["seed"],
            "scale": report["scale"],
            "vae_steps": report["vae_steps"],
            "unet_steps": report["unet_steps"],
        },
    }
    return save_weights(NAME, state_of(pipe), meta, trained_token_ids(captions), folder)


def train(folder: Path | None = None, seed: int = 0, progress: bool = True, scale: float = 1.0) -> dict:
    """Train from `seed` and save `sd.safetensors` + `sd.json` in `folder`; returns the report."""
    pipe, config, report, captions = fit(seed, progress, scale)
    path = save(pipe, config, report, captions, folder)
    report.update(path=str(path), bytes=path.stat().st_size)
    return report


def load(folder: Path | None = None):
    """The saved micro SD pipeline (built from its JSON config, weights loaded), in eval mode."""
    state, meta = load_weights(NAME, folder)
    config = {k: v for k, v in meta["config"].items() if k != "training"}
    with seeded(0):
        pipe = build(config)
    for prefix in ("vae", "unet", "text_encoder"):
        module = getattr(pipe, prefix)
        sub = {k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")}
        module.load_state_dict(sub)
        module.eval().requires_grad_(False)
    pipe.trained_token_ids = meta["trained_ids"]
    return pipe


# ------------------------------------------------------------------------------------------------ checking
