"""GPU readiness check: peak memory, learner speed, evaluation time and bf16 numerics at the paper's full model
sizes and training configuration, random weights, no hub.

    python benchmarks/gpu_check.py --device cuda                       # one H200: well under 8 minutes
    python benchmarks/gpu_check.py --tiny --device cpu --out /tmp/gc   # the same code path on toy sizes, seconds

The configuration is the paper suite's own (vwbench/specs): each task's CUDA dtype (bf16), and its effective
train block (`vwbench.spec.effective_train`: words per batch K, micro-batch, gradient checkpointing; see
docs/learning.md, Memory). Writes benchmarks/results/gpu_check.json (default --out), whose `tasks` block
`vwbench plan` reads: {"device", "date", "tasks": {task: {"peak_memory_gib", "concepts_per_batch",
"micro_batch", "dtype", "step_s", "eval_s_per_word"}}} (peak_memory_gib: torch.cuda.max_memory_allocated over
the timed learner steps; on CPU the process's peak resident memory, `memory_source` says which).

Builds the paper's three models from configs with random weights (nothing is downloaded):
  generation      SD 2.1: UNet2DConditionModel (SD 2.1 config, 96x96 latents) + OpenCLIP-H text encoder
                  (CLIPTextModel: width 1024, 23 layers, 16 heads) + the SD VAE (768 px images)
  detection       OWLv2 B/16 at 960 px (Owlv2Config with vision image_size 960, patch 16)
  classification  CLIP ViT-L/14 at 224 px in open_clip (DFN's ViT-L-14-quickgelu config)
and wraps them in vwbench's own adapters, so what is timed is the real learner (`vwbench.learn.learn`: K words
per batch, cached frozen features, float32 trainable vectors) with bf16 weights at the paper's batch size 8.

For each task it reports
  - numerics: one loss + backward of the bf16 model against the same weights in float32 (TF32 off) on the same
    batch; relative difference of the loss and of the gradient on the float32 vector, and their cosine;
  - speed: learner steps per second at the paper configuration (K, micro-batch, checkpointing; the micro-batch
    halved on out-of-memory, as `vwbench run` does) after warm-up steps, words trained per second
    (= steps/s x K / steps per word) and peak memory;
  - evaluation: seconds to score one word with the task metric (generation: the images of one word, 50 steps);
and the projected wall time of the constrained study on one GPU (PROTOCOL.md 8: 4,800 words = 1,600 per task
family, 1,000 steps each):
    hours = sum over families f of 1,600 x 1,000 / (steps_per_second_f x K_f) / 3,600
(the 1,200-word unconstrained study is a quarter of that). Feature caching, evaluation and model loading are
not included. Writes DIR/gpu_check.json and DIR/gpu_check.txt.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
try:
    import vwbench  # noqa: F401
except ImportError:  # run from a checkout without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

STUDY_WORDS_PER_FAMILY = 4800 // 3  # constrained study: 40 concepts x 10 anchors x 4 deltas per family
STUDY_STEPS = 1000  # paper Table 2
BATCH = 8  # paper Table 2
TASKS = ("generation", "detection", "classification")
SPECS = {
    False: {"generation": "generation", "detection": "detection", "classification": "classification"},
    True: {"generation": "tiny-generation", "detection": "tiny-detection", "classification": "tiny-classification"},
}


# ------------------------------------------------------------------------------------------ full-size models


def sd21(device):
    """SD 2.1's UNet, text encoder (OpenCLIP ViT-H/14 text tower as CLIPTextModel) and VAE, random weights."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from vwbench.tokenizer import BOS_ID, EOS_ID, VOCAB_SIZE, clip_tokenizer

    with torch.device(device):
        unet = UNet2DConditionModel(
            sample_size=96,
            in_channels=4,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            attention_head_dim=(5, 10, 20, 20),
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=1024,
            use_linear_projection=True,
            upcast_attention=True,
            norm_num_groups=32,
        )
        text = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=VOCAB_SIZE,
                hidden_size=1024,
                intermediate_size=4096,
                num_hidden_layers=23,
                num_attention_heads=16,
                max_position_embeddings=77,
                hidden_act="gelu",
                projection_dim=512,
                bos_token_id=BOS_ID,
                eos_token_id=EOS_ID,
                pad_token_id=0,
            )
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            norm_num_groups=32,
            sample_size=768,
            scaling_factor=0.18215,
        )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="v_prediction",
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=clip_tokenizer(),
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe, None


def owlv2_b16(device):
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor

    config = Owlv2Config(vision_config={"image_size": 960, "patch_size": 16})  # B/16 otherwise at defaults
    with torch.device(device):
        model = Owlv2ForObjectDetection(config)
    return model, Owlv2ImageProcessor(size={"height": 960, "width": 960})


def clip_l14(device):
    import open_clip

    cfg = open_clip.get_model_config("ViT-L-14-quickgelu")  # DFN2B-CLIP-ViT-L-14's architecture
    with torch.device(device):
        model = open_clip.model.CLIP(**cfg)
    return model, open_clip.image_transform(224, is_train=False)


def clip_l14_evaluator(device):
    """The generation evaluator, OpenAI CLIP L/14 (transformers CLIPModel at its default ViT-L/14 sizes)."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    config = CLIPConfig(
        text_config={"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12},
        vision_config={
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_attention_heads": 16,
            "num_hidden_layers": 24,
            "patch_size": 14,
            "image_size": 224,
        },
        projection_dim=768,
    )
    with torch.device(device):
        model = CLIPModel(config)
    return model, CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})


FULL = {"generation": sd21, "detection": owlv2_b16, "classification": clip_l14}  # task -> builder(device)


def build_fp32(kind: str, tiny: bool, spec, device):
    """The float32 model bundle (vwbench.models.zoo.Loaded) of a task, frozen, on `device`."""
    from vwbench.models import zoo
    from vwbench.models.initialize import seeded

    if tiny:  # the tiny zoo's own builders (seeded), at the tiny spec's image size
        model, processor = zoo.build_tiny(spec.model.id, spec.family)
        model = model.to(device)
    else:
        with seeded(0):
            model, processor = FULL[kind](device)
    return _frozen(zoo.Loaded(family=spec.family, model=model, processor=processor))


def _frozen(loaded):
    from vwbench.models.zoo import _modules

    for m in _modules(loaded.model):
        m.eval()
        m.requires_grad_(False)
    return loaded


def to_dtype(loaded, dtype):
    """A copy of a model bundle with its weights in `dtype`."""
    from vwbench.models import zoo

    if hasattr(loaded.model, "components"):  # a diffusers pipeline: a new one over copied modules
        src = loaded.model
        model = type(src)(
            vae=copy.deepcopy(src.vae).to(dtype),
            text_encoder=copy.deepcopy(src.text_encoder).to(dtype),
            tokenizer=src.tokenizer,
            unet=copy.deepcopy(src.unet).to(dtype),
            scheduler=src.scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        model.set_progress_bar_config(disable=True)
    else:
        model = copy.deepcopy(loaded.model).to(dtype)
    return _frozen(zoo.Loaded(family=loaded.family, model=model, processor=loaded.processor))


def adapter(kind: str, spec, loaded, device, evaluator=None):
    from vwbench.models.classification import ClassificationModel
    from vwbench.models.detection import DetectionModel
    from vwbench.models.generation import GenerationModel

    cls = {"generation": GenerationModel, "detection": DetectionModel, "classification": ClassificationModel}[kind]
    return cls(spec, loaded, device) if kind != "generation" else cls(spec, loaded, device, evaluator=evaluator)


def evaluator(tiny: bool, spec, device, dtype):
    """The generation task's CLIP evaluator (random weights) in `dtype`."""
    from vwbench.models import zoo
    from vwbench.models.generation import CLIPEvaluator
    from vwbench.models.initialize import seeded

    if tiny:
        model, processor = zoo.build_tiny(spec.evaluator["model"]["id"], "hf_clip")
        model = model.to(device)
    else:
        with seeded(0):
            model, processor = clip_l14_evaluator(device)
    loaded = _frozen(zoo.Loaded(family="hf_clip", model=model.to(dtype), processor=processor))
    return CLIPEvaluator(loaded, spec.evaluator["template"], device, spec.evaluator.get("classes", "names"))


def paper_config(kind: str, k_max: int | None):
    """(dtype name on CUDA, effective TrainConfig) of the paper suite's task `kind`; K capped at `k_max`."""
    from vwbench.spec import SpecLibrary, effective_train

    paper = SpecLibrary().suite("paper")
    task = paper.task(kind)
    cfg = effective_train(paper, task)
    if k_max is not None:
        cfg = dataclasses.replace(cfg, concepts_per_batch=min(cfg.concepts_per_batch, k_max))
    return task.dtype.get("cuda", "float32"), cfg


def dataset_for(spec, train_images: int, image_size: int):
    """The tiny-objects shapes rendered at the task's image size: 3 concepts, `train_images` each, 1 test image."""
    from vwbench.data.synthetic import synthetic_dataset
    from vwbench.spec import SpecLibrary

    ds = SpecLibrary().dataset("tiny-objects")
    ds = dataclasses.replace(
        ds,
        source={**ds.source, "image_size": image_size},
        split={**ds.split, "train_images": train_images, "test_images": 1},
    )
    return ds, synthetic_dataset(ds)


# ------------------------------------------------------------------------------------------ measurements


class _Enough(Exception):
    pass


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _flat(cache: dict) -> torch.Tensor:
    """Every float tensor of a feature cache's training split, flattened and concatenated (float64, CPU)."""
    out = []

    def walk(x):
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            out.append(x.detach().double().flatten().cpu())
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(cache["train"])
    return torch.cat(out)


def numerics(ref, test, data, trials, batch: int) -> dict:
    """bf16 model `test` against its float32 copy `ref`, in two parts.

    cache: the frozen training features each computes once (relative difference). Random weights make some of
    them discontinuous (OWLv2's positive regions are chosen by IoU of random boxes), so this is reported only.
    step: one loss + backward from the SAME cached features (the float32 ones) and the same batch: the bf16 work
    done on every training step. Losses that are differences of near-equal means (classification, detection)
    have a large relative error whenever the loss is near 0, so the verdict rests on the gradient.
    """
    from vwbench.learn import generators
    from vwbench.tokenizer import single_token_id

    ids = [single_token_id(t.anchor) for t in trials]
    concepts = [t.concept for t in trials]
    anchors = ref.token_embeddings()[ids][:, None].to(ref.device)
    ref.prepare(data)
    test.prepare(data)
    c32, c16 = _flat(ref.cache(data.name)), _flat(test.cache(data.name))
    own = test._cache[data.name]
    test._cache[data.name] = ref._cache[data.name]
    out = {}
    try:
        for name, model in (("fp32", ref), ("bf16", test)):
            v = torch.nn.Parameter(anchors.clone())
            loss = model.loss(v, ids, concepts, data.name, generators(trials, "numerics"), batch)
            loss.sum().backward()
            out[name] = (loss.detach().double().cpu(), v.grad.detach().double().cpu())
    finally:
        test._cache[data.name] = own
    (l32, g32), (l16, g16) = out["fp32"], out["bf16"]
    res = {
        "cache_rel_diff": float((c16 - c32).norm() / c32.norm().clamp_min(1e-30)),
        "loss_fp32": l32.tolist(),
        "loss_bf16": l16.tolist(),
        "loss_abs_diff": float((l16 - l32).abs().max()),
        "loss_rel_diff": float(((l16 - l32).abs() / l32.abs().clamp_min(1e-12)).max()),
        "grad_rel_diff": float((g16 - g32).norm() / g32.norm().clamp_min(1e-30)),
        "grad_cosine": float(torch.nn.functional.cosine_similarity(g16.flatten(), g32.flatten(), dim=0)),
        "k": len(trials),
        "batch": batch,
    }
    res["ok"] = res["grad_cosine"] > 0.99 and res["grad_rel_diff"] < 0.1
    return res


def speed(model, data, ds, cfg, warmup: int, timed: int, budget_s: float) -> dict:
    """Learner steps per second at train config `cfg` (its K, batch, micro-batch and checkpointing; the real
    learn() loop, stopped by its step hook)."""
    from vwbench.bench import bench_trials
    from vwbench.learn import learn

    k, batch = cfg.concepts_per_batch, cfg.batch_size
    trials = bench_trials("gpu-check", ds, model.task, k)
    cfg = dataclasses.replace(cfg, steps=warmup + timed + 1)
    stamps = []
    started = time.perf_counter()

    def hook(vectors, step):
        _sync(model.device)
        stamps.append(time.perf_counter())
        if len(stamps) >= warmup + timed or (len(stamps) > warmup + 1 and time.perf_counter() - started > budget_s):
            raise _Enough

    if torch.device(model.device).type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        for _ in learn(model, data, trials, cfg, progress=False, step_hook=hook):
            pass
    except _Enough:
        pass
    n = len(stamps) - warmup
    if n < 1:
        raise RuntimeError(f"{model.task}: fewer than {warmup + 1} steps ran")
    sps = n / (stamps[-1] - stamps[warmup - 1]) if warmup else n / (stamps[-1] - started)
    return {
        "k": k,
        "batch": batch,
        "micro_batch": cfg.micro_batch,
        "gradient_checkpointing": cfg.gradient_checkpointing,
        "timed_steps": n,
        "steps_per_s": sps,
        "words_per_s": sps * k / STUDY_STEPS,
        "peak_gib": peak_gib(model.device),
    }


def peak_gib(device) -> float:
    """Peak memory since the last reset: CUDA's allocator on a GPU, else the process's peak resident memory."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def eval_time(model, data, ds, words: int = 1) -> float:
    """Seconds per word of the task metric (`model.evaluate`), features already cached."""
    from vwbench.bench import bench_trials
    from vwbench.tokenizer import single_token_id

    trials = bench_trials("gpu-check", ds, model.task, words)
    ids = [single_token_id(t.anchor) for t in trials]
    vectors = model.token_embeddings()[ids][:, None].to(model.device)
    model.prepare(data)
    _sync(model.device)
    t = time.perf_counter()
    with torch.no_grad():
        model.evaluate(vectors, ids, [t.concept for t in trials], data)
    _sync(model.device)
    return (time.perf_counter() - t) / words


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _free(device) -> None:
    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()


def check_task(kind: str, args, device) -> dict:
    from vwbench.spec import SpecLibrary

    spec = SpecLibrary().task(SPECS[args.tiny][kind])
    if args.image_size:
        spec = dataclasses.replace(spec, image_size=args.image_size)
    ds, data = dataset_for(spec, args.batch, spec.image_size)
    t0 = time.perf_counter()
    dtype_name, cfg = paper_config(kind, args.k_max)
    cfg = dataclasses.replace(cfg, batch_size=args.batch)
    dtype = getattr(torch, dtype_name)
    ref_loaded = build_fp32(kind, args.tiny, spec, device)
    test_loaded = to_dtype(ref_loaded, dtype)
    built_s = time.perf_counter() - t0
    from vwbench.bench import bench_trials

    result = {"task": kind, "spec": spec.name, "image_size": spec.image_size, "build_s": built_s, "dtype": dtype_name}
    ref = adapter(kind, spec, ref_loaded, device)
    ev = evaluator(args.tiny, spec, device, dtype) if kind == "generation" else None
    test = adapter(kind, spec, test_loaded, device, ev)
    trials = bench_trials("gpu-check", ds, kind, 1)
    batches = list(dict.fromkeys((args.batch, min(2, args.batch))))
    for batch in batches:
        try:
            result["numerics"] = numerics(ref, test, data, trials, batch)
            break
        except RuntimeError as exc:
            if not _is_oom(exc) or batch == batches[-1]:
                raise
        _free(device)  # outside the except block, where the traceback no longer pins the step's tensors
    del ref, ref_loaded
    _free(device)
    rows = cfg.concepts_per_batch * test.rows_per_trial(cfg.batch_size)
    while True:
        try:
            result["speed"] = speed(test, data, ds, cfg, args.warmup, args.steps, args.budget)
            break
        except RuntimeError as exc:
            micro = min(cfg.micro_batch or rows, rows)
            if not _is_oom(exc) or micro <= 1:
                raise
        result.setdefault("oom_at_micro_batch", []).append(micro)
        cfg = dataclasses.replace(cfg, micro_batch=micro // 2)  # as the study backs off (vwbench.study)
        _free(device)
    test.set_gradient_checkpointing(False)
    result["eval_s_per_word"] = eval_time(test, data, ds)
    result["total_s"] = time.perf_counter() - t0
    del test, test_loaded
    _free(device)
    return result


def projection(results: list[dict]) -> dict:
    per = {
        r["task"]: STUDY_WORDS_PER_FAMILY * STUDY_STEPS / (r["speed"]["steps_per_s"] * r["speed"]["k"]) / 3600
        for r in results
    }
    return {
        "formula": "hours = sum_f 1600 words x 1000 steps / (steps_per_s_f x K_f) / 3600",
        "hours_per_family": per,
        "hours_total": sum(per.values()),
        "unconstrained_hours_total": sum(per.values()) / 4,
    }


def summary(r: dict, device) -> dict:
    """One task's entry of the `tasks` block (the part `vwbench plan` reads)."""
    s = r["speed"]
    return {
        "peak_memory_gib": float(s["peak_gib"]),
        "concepts_per_batch": s["k"],
        "micro_batch": s["micro_batch"],
        "gradient_checkpointing": s["gradient_checkpointing"],
        "dtype": r["dtype"],
        "batch": s["batch"],
        "step_s": 1.0 / s["steps_per_s"],
        "eval_s_per_word": r["eval_s_per_word"],
        "memory_source": "torch.cuda.max_memory_allocated"
        if torch.device(device).type == "cuda"
        else "process peak resident memory (cpu)",
    }


def report(meta: dict, results: list[dict], proj: dict, complete: bool) -> str:
    title = (
        f"vwbench GPU check ({'tiny sizes' if meta['tiny'] else 'full sizes'}) on {meta['device_name']}, "
        f"torch {meta['torch']}, the paper configuration (dtype, K, micro-batch, checkpointing), float32 vectors, "
        f"batch {meta['batch']}"
        + (
            f", images at {meta['image_size_override']} px (smoke test, not the paper's sizes)"
            if meta.get("image_size_override")
            else ""
        )
    )
    lines = [title, ""]
    head = (
        f"{'task':<15}{'dtype':>9}{'K':>4}{'micro':>6}{'ckpt':>5}{'steps/s':>10}{'words/s':>10}{'peak GiB':>10}"
        f"{'eval s/word':>12}{'cache rel':>11}{'loss rel':>11}{'grad rel':>11}{'grad cos':>10}{'numerics':>10}"
    )
    lines += [head, "-" * len(head)]
    for r in results:
        s, n = r["speed"], r["numerics"]
        peak = "-" if s["peak_gib"] is None else f"{s['peak_gib']:.1f}"
        micro = "all" if s["micro_batch"] is None else s["micro_batch"]
        lines.append(
            f"{r['task']:<15}{r['dtype']:>9}{s['k']:>4}{micro:>6}{'yes' if s['gradient_checkpointing'] else 'no':>5}"
            f"{s['steps_per_s']:>10.3f}{s['words_per_s']:>10.4f}{peak:>10}{r['eval_s_per_word']:>12.2f}"
            f"{n['cache_rel_diff']:>11.2e}{n['loss_rel_diff']:>11.2e}{n['grad_rel_diff']:>11.2e}"
            f"{n['grad_cosine']:>10.4f}{'ok' if n['ok'] else 'CHECK':>10}"
        )
    lines += [
        "",
        "words/s = steps/s x K / 1000 steps per word. micro: rows per forward/backward (generation: word x image",
        "pairs; others: words), 'all' = one pass. peak GiB: "
        + (
            "CUDA allocator peak over the timed steps."
            if meta["device"].startswith("cuda")
            else "process peak resident memory (CPU run)."
        ),
        "Numerics, bf16 weights against the same weights in float32 (TF32 off): 'cache rel' is the relative",
        "difference of the cached frozen training features; loss and gradient (on the float32 vector) come from",
        f"one step on the same cached features and batch (K=1, batch {meta['batch']}; batch 2 if float32 ran out",
        "of memory). 'ok' = gradient cosine > 0.99 and relative gradient difference < 0.1.",
        "",
    ]
    if any("oom_at_micro_batch" in r for r in results):
        lines.append(
            "out of memory at micro-batch "
            + "; ".join(f"{r['task']}: {r['oom_at_micro_batch']}" for r in results if "oom_at_micro_batch" in r)
        )
    if complete:
        lines.append(
            f"Projected constrained study (4,800 words = 1,600 per family x 1,000 steps) on one such device: "
            f"{proj['hours_total']:.1f} h"
        )
        lines.append("  " + proj["formula"])
        lines.append(
            "  "
            + ", ".join(f"{t}: {h:.1f} h" for t, h in proj["hours_per_family"].items())
            + f"; unconstrained 1,200 words: {proj['unconstrained_hours_total']:.1f} h"
        )
        lines.append("  (feature caching, evaluation and model loading not included; eval s/word above)")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tiny", action="store_true", help="toy sizes (the tiny zoo's configs): runs on CPU in seconds")
    p.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parent / "results"),
        metavar="DIR",
        help="folder for gpu_check.json and gpu_check.txt (default: benchmarks/results)",
    )
    p.add_argument("--only", default=",".join(TASKS), help="comma-separated tasks (default: all three)")
    p.add_argument("--steps", type=int, help="timed learner steps per task (default: 10; --tiny: 2)")
    p.add_argument("--warmup", type=int, help="untimed learner steps first (default: 3; --tiny: 1)")
    p.add_argument("--budget", type=float, default=60.0, help="seconds of timed steps per task at most (default: 60)")
    p.add_argument("--k-max", type=int, help="cap on the paper configuration's K (default: none; --tiny: 2)")
    p.add_argument(
        "--image-size",
        type=int,
        metavar="PX",
        help="override every task's image size (a CPU smoke test of the full-size models; not the paper's)",
    )
    p.add_argument("--batch", type=int, help=f"images per word per step (default: the paper's {BATCH}; --tiny: 2)")
    args = p.parse_args(argv)
    defaults = (
        {"steps": 2, "warmup": 1, "k_max": 2, "batch": 2}
        if args.tiny
        else {"steps": 10, "warmup": 3, "k_max": None, "batch": BATCH}
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    tasks = [t.strip() for t in args.only.split(",") if t.strip()]
    if not tasks or any(t not in TASKS for t in tasks) or min(args.steps, args.warmup, args.k_max or 1, args.batch) < 1:
        p.error(f"--only takes {', '.join(TASKS)}; --steps, --warmup, --k-max and --batch must be positive")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but no CUDA device is available (use --tiny --device cpu)")
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()  # not the "modules that should be kept in float32" notes
    torch.backends.cuda.matmul.allow_tf32 = False  # the float32 reference must be float32
    torch.backends.cudnn.allow_tf32 = False
    meta = {
        "tiny": args.tiny,
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "batch": args.batch,
        "image_size_override": args.image_size,
        "k_max": args.k_max,
        "warmup": args.warmup,
        "steps": args.steps,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = []
    for kind in tasks:
        print(f"gpu_check: {kind} ...", file=sys.stderr, flush=True)
        results.append(check_task(kind, args, device))
        (out / "gpu_check.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    complete = set(tasks) == set(TASKS)
    proj = projection(results) if complete else {}
    meta["wall_s"] = time.perf_counter() - started
    text = report(meta, results, proj, complete)
    doc = {
        "device": meta["device_name"],
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tasks": {r["spec"]: summary(r, device) for r in results},
        "meta": meta,
        "results": results,
        "projection": proj,
    }
    (out / "gpu_check.json").write_text(json.dumps(doc, indent=2))
    (out / "gpu_check.txt").write_text(text + "\n")
    print(text)
    print(f"\n({meta['wall_s']:.0f}s; written to {out}/gpu_check.json and gpu_check.txt)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
