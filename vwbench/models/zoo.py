"""Load the frozen models behind each task: hub ids with pinned revisions, local folders, or `tiny:` and `micro:`
models, through the task's model family (vwbench/models/families/).

`tiny:` models are the real classes (diffusers StableDiffusionPipeline, transformers Owlv2ForObjectDetection and
CLIPModel, open_clip CLIP) at toy sizes with random weights from a fixed seed, built offline in seconds from
their JSON configs (vwbench/models/configs/tiny-<name>.json). `micro:` models are trained by `vwbench zoo build
micro` on the micro-world; their weights ship with vwbench. One function serves all: `load(family, ModelRef,
device, dtype)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vwbench.errors import VWBenchError
from vwbench.models.families import Family, config_path, family, read_config
from vwbench.spec import ModelRef


@dataclass
class Loaded:
    """A loaded model bundle: the model(s), the image processor, where they came from and the family's code."""

    family: str
    model: Any
    processor: Any = None
    provenance: dict = field(default_factory=dict)
    trained_ids: list[int] | None = None  # token rows the model learned; None = all (hub models)
    impl: Family | None = None  # the family's implementation (families.family(family))

    def __post_init__(self):
        if self.impl is None:
            self.impl = family(self.family)


def build_tiny(model_id: str, family_name: str | None = None):
    """(model, processor) of a `tiny:` model from its JSON config (random weights from the config's seed)."""
    config = read_config(model_id, family_name)
    return family(config["family"]).tiny(config)


def tiny_text_width(model_id: str) -> int | None:
    """The text width of a `tiny:` model, read from its config (None for other ids)."""
    if not model_id.startswith("tiny:") or not config_path(model_id).is_file():
        return None
    c = read_config(model_id)
    text = c.get("text_encoder") or c.get("text_config") or c.get("text_cfg") or {}
    return text.get("hidden_size") or text.get("width")


def micro_name(ref: ModelRef) -> str:
    """The micro-zoo name of a `micro:` model: `micro:clip` is the zoo's `clip`."""
    return ref.id.split(":", 1)[1]


def weights_sha256(ref: ModelRef) -> str | None:
    """sha256 of a shipped `micro:` model's weights file (part of every result key), None for other models."""
    from vwbench.models.micro import store

    if not ref.is_micro or not (store.zoo_dir() / f"{micro_name(ref)}.safetensors").is_file():
        return None
    return store.fingerprint(micro_name(ref))


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
            f.relative_to(snapshot).as_posix(): Path(os.readlink(f)).name
            for f in sorted(snapshot.rglob("*"))
            if f.suffix in (".safetensors", ".bin", ".pt", ".pth", ".ckpt") and f.is_symlink()
        }
    return out


def load(
    family_name: str,
    ref: ModelRef,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    image_size: int | None = None,
) -> Loaded:
    """Load one frozen model bundle (eval mode, no gradients) of a model family. A `tiny:` model's image size is
    its config's; `image_size` is kept for callers that pass the task's."""
    prov = {
        "id": ref.id,
        "revision": ref.revision,
        "family": family_name,
        "dtype": str(dtype).replace("torch.", ""),
        "device": str(device),
    }
    impl = family(family_name)
    trained_ids = None
    if not ref.is_builtin:
        from vwbench.withdrawn import check_not_withdrawn

        check_not_withdrawn(ref.id)  # one line naming the mirror, before any download is tried
    if ref.is_micro:
        from vwbench.models.micro import store

        name = micro_name(ref)
        if name not in impl.micro_models:
            known = ", ".join(f"micro:{m}" for m in impl.micro_models) or "none"
            raise VWBenchError(f"unknown micro model {ref.id!r} for family {family_name!r} (known: {known})")
        meta = store.read_meta(name)  # one line naming the build command when the model is missing
        model, processor = impl.micro(name)
        trained_ids, prov["weights_sha256"] = meta["trained_ids"], store.fingerprint(name)
    elif ref.is_tiny:
        model, processor = impl.tiny(read_config(ref.id, family_name))
    else:
        model, processor, extra = impl.hub(ref, dtype)
        prov.update(extra)
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
    return Loaded(
        family=family_name, model=model, processor=processor, provenance=prov, trained_ids=trained_ids, impl=impl
    )


def _modules(model) -> list[torch.nn.Module]:
    if isinstance(model, torch.nn.Module):
        return [model]
    return [m for m in vars(model).values() if isinstance(m, torch.nn.Module)] + [
        getattr(model, n)
        for n in ("unet", "vae", "text_encoder")
        if isinstance(getattr(model, n, None), torch.nn.Module)
    ]
