"""Load the frozen models behind each task: hub ids with pinned revisions, local folders, or `tiny:` models.

`tiny:` models are the real classes (diffusers StableDiffusionPipeline, transformers Owlv2ForObjectDetection and
CLIPModel, open_clip CLIP) at toy sizes with random weights from a fixed seed, built offline in seconds.
One function serves all three: `load(family, ModelRef, device, dtype)`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vwbench.errors import ModelNotAvailable, VWBenchError
from vwbench.spec import ModelRef
from vwbench.tokenizer import BOS_ID, EOS_ID, VOCAB_SIZE, clip_tokenizer

# text widths of the tiny models differ on purpose, so transfer maps are not square identities
TINY_WIDTHS = {"tiny:sd": 32, "tiny:owlv2": 48, "tiny:open_clip": 64, "tiny:clip-evaluator": 32}
TINY_SEEDS = {"tiny:sd": 1, "tiny:owlv2": 2, "tiny:open_clip": 3, "tiny:clip-evaluator": 4, "tiny:safety-checker": 5}


@dataclass
class Loaded:
    """A loaded model bundle: the model(s), the image processor and where they came from."""

    family: str
    model: Any
    processor: Any = None
    provenance: dict = field(default_factory=dict)
    trained_ids: list[int] | None = None  # token rows the model learned; None = all (hub models)


@contextlib.contextmanager
def _seeded(seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# ------------------------------------------------------------------------------------------- tiny models


def _tiny_text_config(width: int, max_positions: int = 77, **kw):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=VOCAB_SIZE, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=max_positions, bos_token_id=BOS_ID, eos_token_id=EOS_ID,
        pad_token_id=0, projection_dim=width, **kw,
    )


def tiny_stable_diffusion(image_size: int = 32):
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    width = TINY_WIDTHS["tiny:sd"]
    with _seeded(TINY_SEEDS["tiny:sd"]):
        text_encoder = CLIPTextModel(_tiny_text_config(width))
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32),
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=8, sample_size=image_size,
        )
        unet = UNet2DConditionModel(
            sample_size=image_size // 2, in_channels=4, out_channels=4, layers_per_block=1,
            block_out_channels=(16, 32), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=width,
            attention_head_dim=4, norm_num_groups=8,
        )
    # SD 2.1's scheduler settings: a v-prediction model
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        set_alpha_to_one=False, steps_offset=1, prediction_type="v_prediction",
    )
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=clip_tokenizer(), unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_owlv2(image_size: int = 64):
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor

    width = TINY_WIDTHS["tiny:owlv2"]
    config = Owlv2Config(
        text_config=_tiny_text_config(width, max_positions=16).to_dict(),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=image_size, patch_size=image_size // 2),
        projection_dim=width,  # must equal the text width, or the class head's einsum fails
    )
    with _seeded(TINY_SEEDS["tiny:owlv2"]):
        model = Owlv2ForObjectDetection(config)
    # A random box head predicts saturated boxes. With its last layer zeroed, region i predicts exactly the
    # box bias; set that to the patch's own cell, so the 2x2 regions are the cells of the tiny datasets' layout.
    torch.nn.init.zeros_(model.box_head.dense2.weight)
    torch.nn.init.zeros_(model.box_head.dense2.bias)
    n = image_size // config.vision_config.patch_size
    centres = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    cy, cx = torch.meshgrid(centres, centres, indexing="ij")
    cells = torch.stack([cx.flatten(), cy.flatten(), torch.full((n * n,), 1 / n), torch.full((n * n,), 1 / n)], -1)
    model.box_bias = torch.log(cells) - torch.log1p(-cells)
    processor = Owlv2ImageProcessor(size={"height": image_size, "width": image_size})
    return model, processor


def tiny_open_clip(image_size: int = 32):
    import open_clip
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    width = TINY_WIDTHS["tiny:open_clip"]
    with _seeded(TINY_SEEDS["tiny:open_clip"]):
        model = open_clip.model.CLIP(
            embed_dim=32,
            vision_cfg=CLIPVisionCfg(layers=2, width=32, head_width=16, patch_size=8, image_size=image_size),
            text_cfg=CLIPTextCfg(context_length=77, vocab_size=VOCAB_SIZE, width=width, heads=4, layers=2),
        )
    preprocess = open_clip.image_transform(image_size, is_train=False)
    return model, preprocess


def tiny_clip_evaluator(image_size: int = 32):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    width = TINY_WIDTHS["tiny:clip-evaluator"]
    config = CLIPConfig(
        text_config=_tiny_text_config(width).to_dict(),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=image_size, patch_size=8),
        projection_dim=32,
    )
    with _seeded(TINY_SEEDS["tiny:clip-evaluator"]):
        model = CLIPModel(config)
    processor = CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    return model, processor


def tiny_safety_checker(image_size: int = 32):
    """diffusers' StableDiffusionSafetyChecker on a tiny CLIP vision tower (random weights, default thresholds)."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    config = CLIPConfig(text_config=_tiny_text_config(32).to_dict(), projection_dim=32,
                        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                                       "num_attention_heads": 4, "image_size": image_size, "patch_size": 8})
    with _seeded(TINY_SEEDS["tiny:safety-checker"]):
        model = StableDiffusionSafetyChecker(config)
    processor = CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    return model, processor


TINY = {
    ("stable_diffusion", "tiny:sd"): lambda size: (tiny_stable_diffusion(size), None),
    ("owlv2", "tiny:owlv2"): tiny_owlv2,
    ("open_clip", "tiny:open_clip"): tiny_open_clip,
    ("hf_clip", "tiny:clip-evaluator"): tiny_clip_evaluator,
    ("sd_safety_checker", "tiny:safety-checker"): tiny_safety_checker,
}

# ------------------------------------------------------------------------------------------- micro models

# `micro:` models are trained by `vwbench zoo build micro` on the micro-world; their weights ship with vwbench
MICRO = {
    ("stable_diffusion", "micro:sd"): "sd",
    ("owlv2", "micro:owlv2"): "owlv2",
    ("open_clip", "micro:clip"): "clip",
    ("open_clip", "micro:clip-evaluator"): "clip-evaluator",
}


def weights_sha256(ref: ModelRef) -> str | None:
    """sha256 of a shipped `micro:` model's weights file (part of every result key), None for other models."""
    from vwbench.models.micro import store

    names = {i: n for (_, i), n in MICRO.items()}
    return store.fingerprint(names[ref.id]) if ref.id in names else None


def _micro(family: str, ref: ModelRef):
    from vwbench.models.micro import store

    name = MICRO.get((family, ref.id))
    if name is None:
        known = ", ".join(sorted(i for f, i in MICRO if f == family))
        raise VWBenchError(f"unknown micro model {ref.id!r} for family {family!r} (known: {known})")
    if name == "sd":
        from vwbench.models.micro import sd

        model, processor = sd.load(), None
        model.set_progress_bar_config(disable=True)
    elif name == "owlv2":
        from vwbench.models.micro import owlv2

        model, processor = owlv2.load()
    else:
        from vwbench.models.micro import clip

        model, processor = clip.load(name)
    meta = store.read_meta(name)
    return model, processor, meta["trained_ids"], store.fingerprint(name)


# ------------------------------------------------------------------------------------------- hub models


def _hub_error(ref: ModelRef, exc: Exception) -> ModelNotAvailable:
    rev = ref.revision or "main"
    return ModelNotAvailable(
        f"model {ref.id}@{rev} is not in the local Hugging Face cache and the hub cannot be reached "
        f"({type(exc).__name__}). Download it where there is network "
        f"(`hf download {ref.id} --revision {rev}`) and copy the cache "
        f"(HF_HOME={os.environ.get('HF_HOME', '~/.cache/huggingface')}), or set the task's model.id to a local folder."
    )


def _from_pretrained(loader, ref: ModelRef, **kw):
    """`loader(id, revision=...)` from a local folder, else the HF cache, else the hub (unless HF_HUB_OFFLINE)."""
    if Path(ref.id).is_dir():
        return loader(ref.id, **kw)
    try:
        return loader(ref.id, revision=ref.revision, local_files_only=True, **kw)
    except Exception as cached_exc:  # noqa: BLE001 - transformers/diffusers raise OSError, EnvironmentError, ValueError
        if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
            raise _hub_error(ref, cached_exc) from None
        try:
            return loader(ref.id, revision=ref.revision, **kw)
        except Exception as exc:  # noqa: BLE001
            raise _hub_error(ref, exc) from None


def hub_provenance(ref: ModelRef) -> dict:
    """What the local Hugging Face cache says about a hub model (nothing is downloaded): `resolved_revision`, the
    commit a branch or tag such as `main` pointed to, and `files_sha256`, the sha256 of each weights file of that
    snapshot (the cache names LFS blobs by it). A local folder gives its path instead."""
    import re

    if Path(ref.id).is_dir():
        return {"resolved_revision": None, "folder": str(Path(ref.id).resolve())}
    from huggingface_hub import constants

    repo = Path(constants.HF_HUB_CACHE) / ("models--" + ref.id.replace("/", "--"))
    rev = ref.revision or "main"
    resolved = rev if re.fullmatch(r"[0-9a-f]{40}", rev) else None
    if resolved is None and (repo / "refs" / rev).is_file():
        resolved = (repo / "refs" / rev).read_text().strip()
    out: dict = {"resolved_revision": resolved}
    snapshot = repo / "snapshots" / resolved if resolved else None
    if snapshot is not None and snapshot.is_dir():
        out["files_sha256"] = {
            f.relative_to(snapshot).as_posix(): Path(os.readlink(f)).name for f in sorted(snapshot.rglob("*"))
            if f.suffix in (".safetensors", ".bin", ".pt", ".pth", ".ckpt") and f.is_symlink()}
    return out


def _open_clip_from_hub(ref: ModelRef, dtype):
    import open_clip

    if Path(ref.id).is_dir():
        folder = ref.id
    else:
        from huggingface_hub import snapshot_download

        folder = _from_pretrained(lambda rid, **kw: snapshot_download(rid, **kw), ref)
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}", precision="fp32")
    return model, preprocess, folder


def load(family: str, ref: ModelRef, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
         image_size: int | None = None) -> Loaded:
    """Load one frozen model bundle (eval mode, no gradients) for a task family."""
    prov = {"id": ref.id, "revision": ref.revision, "family": family, "dtype": str(dtype).replace("torch.", ""),
            "device": str(device)}
    trained_ids = None
    if not ref.is_builtin:
        from vwbench.withdrawn import check_not_withdrawn

        check_not_withdrawn(ref.id)     # one line naming the mirror, before any download is tried
    if ref.is_micro:
        model, processor, trained_ids, prov["weights_sha256"] = _micro(family, ref)
    elif ref.is_tiny:
        builder = TINY.get((family, ref.id))
        if builder is None:
            known = ", ".join(sorted(i for f, i in TINY if f == family))
            raise VWBenchError(f"unknown tiny model {ref.id!r} for family {family!r} (known: {known})")
        model, processor = builder(image_size or 32)
    elif family == "stable_diffusion":
        from diffusers import StableDiffusionPipeline

        model = _from_pretrained(StableDiffusionPipeline.from_pretrained, ref, torch_dtype=dtype)
        model.set_progress_bar_config(disable=True)
        processor = None
    elif family == "owlv2":
        from transformers import Owlv2ForObjectDetection, Owlv2ImageProcessor

        model = _from_pretrained(Owlv2ForObjectDetection.from_pretrained, ref, torch_dtype=dtype)
        processor = _from_pretrained(Owlv2ImageProcessor.from_pretrained, ref)
    elif family == "hf_clip":
        from transformers import CLIPImageProcessor, CLIPModel

        model = _from_pretrained(CLIPModel.from_pretrained, ref, torch_dtype=dtype)
        processor = _from_pretrained(CLIPImageProcessor.from_pretrained, ref)
    elif family == "sd_safety_checker":
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
        from transformers import CLIPImageProcessor

        model = _from_pretrained(StableDiffusionSafetyChecker.from_pretrained, ref, torch_dtype=dtype)
        processor = _from_pretrained(CLIPImageProcessor.from_pretrained, ref)
    elif family == "open_clip":
        model, processor, folder = _open_clip_from_hub(ref, dtype)
        prov["folder"] = str(folder)
    else:
        raise VWBenchError(f"unknown model family {family!r}")
    if not ref.is_builtin:
        prov.update(hub_provenance(ref))
    model = model.to(device)
    if ref.is_builtin and dtype != torch.float32:  # hub weights arrive in `dtype` already
        model = model.to(dtype)
    if hasattr(model, "eval"):
        model.eval()
    for module in _modules(model):  # a diffusers pipeline has no eval(): set its modules one by one
        module.eval()
        module.requires_grad_(False)
    return Loaded(family=family, model=model, processor=processor, provenance=prov, trained_ids=trained_ids)


def _modules(model) -> list[torch.nn.Module]:
    if isinstance(model, torch.nn.Module):
        return [model]
    return [m for m in vars(model).values() if isinstance(m, torch.nn.Module)] + [
        getattr(model, n) for n in ("unet", "vae", "text_encoder") if isinstance(getattr(model, n, None), torch.nn.Module)
    ]
