"""What a suite run will cost, before anything is downloaded (`vwbench plan`): the words, fits and scores it will
produce (counted by the study's own code, `Study.counts`), what is missing and the command that fixes each, the
peak GPU memory per task at the suite's K and batch, and the projected GPU-hours.

Memory and speed come from `benchmarks/gpu_check.py`'s results (benchmarks/results/gpu_check.json) when they
exist ("measured"); otherwise from ESTIMATES ("estimated"), derived on PyTorch's meta device by
`benchmarks/plan_estimates.py`. No model is built or loaded here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from vwbench.data.formats import is_rendered
from vwbench.errors import VWBenchError
from vwbench.store import Store

GPU_CHECK = Path("benchmarks") / "results" / "gpu_check.json"
DEFAULT_TFLOPS = 300.0  # sustained bf16 throughput assumed by estimates: ~30% of an H100/H200's dense peak
MIN_STEP_S = 0.01  # small text towers are kernel-launch bound: no step is taken to be faster than this

# Per model at the paper's image size, in bfloat16 (benchmarks/plan_estimates.py): parameters (millions) of every
# network the task loads (the generation task also loads its CLIP ViT-L/14 evaluator), GiB autograd keeps per
# training sample (UNet at 96x96 latents) and per learned word (its text tower), forward TFLOP per sample and per
# word, and forward TFLOP per image of evaluation (UNet step, VAE decode).
ESTIMATES = {
    ("stable_diffusion", 768): {
        "params_m": 865.9 + 340.4 + 83.7 + 427.6,
        "gib_per_sample": 1.518,
        "gib_per_word": 0.034,
        "tflop_per_sample": 2.149,
        "tflop_per_word": 0.0451,
        "tflop_unet_step": 2.149,
        "tflop_vae_decode": 5.754,
    },
    ("owlv2", 960): {
        "params_m": 155.0,
        "gib_per_sample": 0.0,
        "gib_per_word": 0.0033,
        "tflop_per_sample": 0.0,
        "tflop_per_word": 0.0012,
    },
    ("open_clip", 224): {
        "params_m": 427.6,
        "gib_per_sample": 0.0,
        "gib_per_word": 0.024,
        "tflop_per_sample": 0.0,
        "tflop_per_word": 0.0133,
    },
}
BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def _train_for(suite, task):
    """The training settings (K = concepts_per_batch, batch, micro-batch) a task learns with."""
    from vwbench.spec import effective_train

    return effective_train(suite, task)


class _NoStore:
    """An empty store: what a fresh run would compute."""

    key = staticmethod(Store.key)

    def has_vector(self, key):
        return False

    def get_score(self, key):
        return None


def study_for(suite, options, store=None):
    """A Study that counts (nothing is loaded): against `store`, or as a fresh run when None."""
    import dataclasses

    from vwbench.study import Study

    options = dataclasses.replace(options, allow_unpinned=True, device="cpu", progress=False)
    return Study(suite, store if store is not None else _NoStore(), options)


def counts(study) -> dict:
    """{words, fits, scores, by_task} the study would compute (Study.counts, the code its progress bar uses)."""
    manifests = {ds.name: study.opt.data.get(ds.name) or study.suite.data.get(ds.name) for ds in study.suite.datasets}
    study.depends = study.dependencies(manifests)
    datasets = [(ds, manifests[ds.name]) for ds in study.select.dataset_specs(study.suite)]
    return study.counts(datasets, by_task=True)


def missing(study, suite_arg: str, lock) -> list[dict]:
    """[{what, fix}]: hub models not in the Hugging Face cache, unpinned models, manifests not prepared."""
    from vwbench import hub

    out, seen = [], set()
    for task, role, ref in hub.hub_refs(study.suite, study.tasks):
        if ref.id in seen:
            continue
        seen.add(ref.id)
        rev = ref.revision or "main"
        if not hub.is_pinned(ref.revision):
            out.append(
                {
                    "what": f"{task}.{role} {ref.id}@{rev} is not pinned to a commit",
                    "fix": f"vwbench models lock --suite {suite_arg}",
                }
            )
        if hub.cached_snapshot(ref.id, ref.revision) is None:
            out.append(
                {
                    "what": f"{task}.{role} {ref.id}@{rev} is not in the Hugging Face cache ({hub.cache_root()})",
                    "fix": f"hf download {ref.id} --revision {rev}",
                }
            )
    for ds in study.select.dataset_specs(study.suite):
        if is_rendered(ds):
            continue
        path = study.opt.data.get(ds.name) or study.suite.data.get(ds.name)
        if not path:
            out.append(
                {
                    "what": f"dataset {ds.name} has no manifest (the suite's data: has none)",
                    "fix": f"vwbench data prepare {ds.name} --root /path/to/{ds.name}, then --data {ds.name}=FILE",
                }
            )
        elif not Path(path).is_file():
            out.append(
                {
                    "what": f"manifest {path} of dataset {ds.name} is not prepared",
                    "fix": f"vwbench data prepare {ds.name} --root /path/to/{ds.name} --out {path}",
                }
            )
    if lock is None and hub.hub_refs(study.suite, study.tasks):
        out.append(
            {
                "what": "no lock file: cached weights are not verified",
                "fix": f"vwbench models lock --suite {suite_arg} (optional; pins and verifies the weights)",
            }
        )
    return out


def read_gpu_check(path: str | Path | None) -> dict | None:
    """benchmarks/gpu_check.py's results ({device, date, tasks}); None when the file does not exist."""
    if path is None:
        here = Path(__file__).resolve().parents[1] / GPU_CHECK  # a checkout's committed results
        path = GPU_CHECK if GPU_CHECK.is_file() else here
    path = Path(path)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise VWBenchError(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), dict):
        raise VWBenchError(f"{path}: expected gpu_check.py's results ({{device, date, tasks}})")
    doc["path"] = str(path)
    return doc


def task_costs(suite, task, n: dict, gpu: dict | None, tflops: float = DEFAULT_TFLOPS) -> dict:
    """Peak memory and GPU-hours of one task: measured by gpu_check when it has the task, else estimated."""
    cfg = _train_for(suite, task)
    k, batch, steps = cfg.concepts_per_batch, cfg.batch_size, cfg.steps
    words, evaluations = n.get("words", 0), n.get("evaluations", 0)
    m = (gpu or {}).get("tasks", {}).get(task.name) or (gpu or {}).get("tasks", {}).get(task.task)
    if m:
        k_used = int(m.get("concepts_per_batch") or k)
        learn_h = math.ceil(words / max(1, k_used)) * steps * float(m["step_s"]) / 3600
        eval_h = evaluations * float(m.get("eval_s_per_word") or 0.0) / 3600
        basis = f"measured (gpu_check, {gpu.get('device')}, {gpu.get('date')})"
        return {
            "source": basis,
            "memory_gib": float(m["peak_memory_gib"]),
            "concepts_per_batch": k_used,
            "micro_batch": m.get("micro_batch"),
            "batch_size": batch,
            "dtype": m.get("dtype"),
            "step_s": float(m["step_s"]),
            "eval_s_per_word": m.get("eval_s_per_word"),
            "gpu_hours": {"learn": learn_h, "evaluate": eval_h, "total": learn_h + eval_h},
            "basis": f"{gpu.get('path')}: step_s x steps x ceil(words / K); eval_s_per_word x evaluations",
        }
    est = ESTIMATES.get((task.family, task.image_size)) if not task.model.is_builtin else None
    if est is None:
        return {
            "source": "none",
            "memory_gib": None,
            "concepts_per_batch": k,
            "batch_size": batch,
            "gpu_hours": None,
            "basis": f"no gpu_check measurement and no estimate for {task.family} at "
            f"{task.image_size}px (estimates cover the paper's models)",
        }
    dtype = task.dtype.get("cuda", "float16")
    samples = k * batch
    rows = min(samples, cfg.micro_batch or samples)  # rows whose activations are held at once
    weights = est["params_m"] * 1e6 * BYTES.get(dtype, 2) / 2**30
    memory = weights + rows * est["gib_per_sample"] + k * est["gib_per_word"]
    step_s = max(MIN_STEP_S, 2 * (samples * est["tflop_per_sample"] + k * est["tflop_per_word"]) / tflops)
    if task.task == "generation":
        mt = task.metric
        images = int(mt.get("images_per_trial", 8))
        cfg_factor = 2 if float(mt.get("guidance_scale", 7.5)) > 1 else 1  # classifier-free guidance
        per_word = images * (
            int(mt.get("inference_steps", 50)) * cfg_factor * est["tflop_unet_step"] + est["tflop_vae_decode"]
        )
        eval_s = max(MIN_STEP_S, per_word / tflops)
    else:
        eval_s = max(MIN_STEP_S, est["tflop_per_word"] / tflops)
    learn_h = math.ceil(words / max(1, k)) * steps * step_s / 3600
    eval_h = evaluations * eval_s / 3600
    return {
        "source": "estimated",
        "memory_gib": memory,
        "concepts_per_batch": k,
        "batch_size": batch,
        "dtype": dtype,
        "step_s": step_s,
        "eval_s_per_word": eval_s,
        "gpu_hours": {"learn": learn_h, "evaluate": eval_h, "total": learn_h + eval_h},
        "micro_batch": cfg.micro_batch,
        "gradient_checkpointing": cfg.gradient_checkpointing,
        "basis": (
            f"weights {weights:.1f} GiB ({est['params_m']:.0f}M params in {dtype}) + {rows} of {samples} "
            f"samples held at once (micro-batch) x "
            f"{est['gib_per_sample']} GiB + {k} words x {est['gib_per_word']} GiB of saved activations "
            f"(meta-device count without checkpointing, benchmarks/plan_estimates.py; no allocator overhead "
            f"or workspace{'; gradient checkpointing lowers it' if cfg.gradient_checkpointing else ''}); "
            f"time: forward+backward FLOPs at {tflops:g} TFLOP/s sustained (an assumption), at least "
            f"{MIN_STEP_S * 1000:.0f} ms a step; image features cached once per dataset are not counted"
        ),
    }


def make_plan(
    suite, options, suite_arg: str, lock=None, store=None, gpu_check=None, tflops: float = DEFAULT_TFLOPS
) -> dict:
    """The plan document (`vwbench plan --json`)."""
    study = study_for(suite, options, store)
    n = counts(study)
    gpu = read_gpu_check(gpu_check) if gpu_check is not False else None
    tasks = {
        t.name: {
            **n["by_task"].get(t.name, {}),
            **task_costs(study.suite, t, n["by_task"].get(t.name, {}), gpu, tflops),
        }
        for t in study.tasks
    }
    hours = [t["gpu_hours"]["total"] for t in tasks.values() if t.get("gpu_hours")]
    return {
        "suite": study.name,
        "path": suite.path,
        "words": n["words"],
        "fits": n["fits"],
        "scores": n["scores"],
        "steps": study.train.steps,
        "against_store": str(store.root) if store is not None else None,
        "missing": missing(study, suite_arg, lock),
        "lock": (lock or {}).get("path"),
        "gpu_check": (gpu or {}).get("path"),
        "tasks": tasks,
        "gpu_hours_total": sum(hours) if len(hours) == len(tasks) else None,
    }
