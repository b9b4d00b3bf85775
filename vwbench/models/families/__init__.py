"""Model families, the unit of extension: one module per family, registered by name (`vwbench.registry.FAMILIES`).

A family (`vwbench/models/families/<name>.py`, or an installed plugin of the entry-point group
`vwbench.model_families`) says how to load its models (`hub`: a hub id or a local folder; `tiny`: a JSON config of
vwbench/models/configs/; `micro`: the shipped micro-zoo weights), which tokenizer its text tower reads, which task
kinds it serves (`adapters`: the shared kind-level adapter classes of models/generation.py, detection.py,
classification.py) and what those adapters ask of it: the text tower's embedding layer and features, and for
image-text models image features. Losses and metrics stay with the kind's adapter.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

import torch

from vwbench.errors import ModelNotAvailable, VWBenchError
from vwbench.registry import FAMILIES
from vwbench.spec import ModelRef
from vwbench.tokenizer import CLIP

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def family(name: str) -> Family:
    """The family registered as `name` (one-line error with "did you mean" for an unknown one)."""
    return FAMILIES.get(name)()


def config_path(model_id: str) -> Path:
    """The JSON config of a `tiny:` model: `tiny:sd` is vwbench/models/configs/tiny-sd.json."""
    return CONFIGS / (model_id.replace(":", "-", 1) + ".json")


def read_config(model_id: str, family_name: str | None = None) -> dict:
    """A `tiny:` model's config, checked to be one of `family_name`'s (one line naming the known ones otherwise)."""
    path = config_path(model_id)
    config = json.loads(path.read_text()) if path.is_file() else None
    if config is None or family_name not in (None, config.get("family")):
        known = sorted(
            f"tiny:{p.stem[5:]}"
            for p in CONFIGS.glob("tiny-*.json")
            if json.loads(p.read_text()).get("family") == family_name
        )
        raise VWBenchError(f"unknown tiny model {model_id!r} for family {family_name!r} (known: {', '.join(known)})")
    return config


def _hub_error(ref: ModelRef, exc: Exception) -> ModelNotAvailable:
    rev = ref.revision or "main"
    return ModelNotAvailable(
        f"model {ref.id}@{rev} is not in the local Hugging Face cache and the hub cannot be reached "
        f"({type(exc).__name__}). Download it where there is network "
        f"(`hf download {ref.id} --revision {rev}`) and copy the cache "
        f"(HF_HOME={os.environ.get('HF_HOME', '~/.cache/huggingface')}), or set the task's model.id to a local folder."
    )


def from_pretrained(loader, ref: ModelRef, **kw):
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


def clip_text_config(config: dict, **kw):
    """A transformers CLIPTextConfig of a tiny config's text block over the family's CLIP vocabulary."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=CLIP.vocab_size, bos_token_id=CLIP.bos_id, eos_token_id=CLIP.eos_id, pad_token_id=0, **config, **kw
    )


def clip_config_model(model_class, config: dict) -> tuple:
    """(model, CLIPImageProcessor) of a tiny config for a class built from a transformers CLIPConfig (CLIPModel,
    diffusers' StableDiffusionSafetyChecker), with random weights from the config's seed."""
    from transformers import CLIPConfig, CLIPImageProcessor

    from vwbench.models.initialize import seeded

    size = config["image_size"]
    clip = CLIPConfig(
        text_config=clip_text_config(config["text_config"]).to_dict(),
        vision_config=config["vision_config"],
        projection_dim=config["projection_dim"],
    )
    with seeded(config["seed"]):
        model = model_class(clip)
    return model, CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def pretrained_with_clip_processor(model_class, ref: ModelRef, dtype) -> tuple:
    """(model, CLIPImageProcessor, no extra provenance) of a hub checkpoint or a local folder."""
    from transformers import CLIPImageProcessor

    model = from_pretrained(model_class.from_pretrained, ref, torch_dtype=dtype)
    return model, from_pretrained(CLIPImageProcessor.from_pretrained, ref), {}


class Family:
    """What vwbench needs to know about one kind of model. Subclasses register with `@FAMILIES.register(name)`."""

    name: str = ""
    adapters: ClassVar[dict[str, type]] = {}  # task kind -> its adapter class (a TaskModel subclass)
    evaluator: bool = False  # whether it can label generated images (models/generation.CLIPEvaluator)
    micro_models: tuple[str, ...] = ()  # the shipped micro-zoo models of the family (`micro:<name>`)

    # ---- loading ----------------------------------------------------------------------------------------

    def hub(self, ref: ModelRef, dtype: torch.dtype) -> tuple:
        """(model, processor, extra provenance) from a hub id at a pinned revision or a local folder."""
        raise VWBenchError(f"model family {self.name!r} has no hub models")

    def tiny(self, config: dict) -> tuple:
        """(model, processor) of a `tiny:` config (random weights from the config's seed)."""
        raise VWBenchError(f"model family {self.name!r} has no tiny models")

    def micro(self, name: str) -> tuple:
        """(model, processor) of the shipped micro-zoo model `name` (`micro:<name>`)."""
        raise VWBenchError(f"model family {self.name!r} has no micro model {name!r}")

    def tokenizer(self):
        """The tokenizer of the family's text tower (vwbench.tokenizer.CLIPTokenizer's members)."""
        return CLIP

    def adapter(self, kind: str, where: str = "") -> type:
        """The adapter class of task kind `kind` for this family; one line when the family does not serve it."""
        if kind not in self.adapters:
            served = ", ".join(self.adapters) or "none"
            raise VWBenchError(
                f"{where + ': ' if where else ''}model family {self.name!r} cannot be the model of a "
                f"{kind} task (it serves: {served})"
            )
        return self.adapters[kind]

    # ---- what the adapters ask of the family --------------------------------------------------------------

    def text_embedding(self, model) -> torch.nn.Embedding:
        """The text tower's token-embedding layer."""
        raise NotImplementedError

    def context_length(self, model) -> int:
        raise NotImplementedError

    def encode_text(self, model, ids: torch.Tensor) -> torch.Tensor:
        """The text tower's output for token ids, as the family's kinds consume it (not normalized)."""
        raise NotImplementedError

    def pixels(self, processor, images) -> torch.Tensor:
        """Image-text models: the pixel batch of PIL images."""
        raise NotImplementedError

    def encode_image(self, model, pixels: torch.Tensor) -> torch.Tensor:
        """Image-text models: image features (not normalized) of a pixel batch."""
        raise NotImplementedError

    def set_gradient_checkpointing(self, model, enabled: bool) -> None:
        """Recompute the text tower's activations in the backward pass (no-op by default)."""
