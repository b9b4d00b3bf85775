"""Learned words as files: diffusers' single-key textual-inversion format, the one layout vwbench writes.

`embedding_bytes` encodes `{token: tensor[n, d]}` (float32) as safetensors with string metadata and the format tag
`FORMAT`; the store keeps every learned word in it (vwbench.store) and `save_embedding` writes it to a file of the
user's (`vwbench learn`), atomically. Such a file loads directly with diffusers'
`StableDiffusionPipeline.load_textual_inversion(path)` (PROTOCOL.md 15), which adds `token` (and `token_1`, ...
for n > 1) to the tokenizer; vwbench itself reads it back with `load_embedding` or `vwbench.submissions`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vwbench import atomic
from vwbench.errors import VWBenchError

if TYPE_CHECKING:
    import torch

FORMAT = "vwbench-embedding-v1"
OLD_FORMATS = ("vwbench-embedding/1",)  # the tag `save_embedding` wrote before it shared the store's writer


@dataclass
class Embedding:
    token: str
    vector: torch.Tensor  # [n, d] float32
    metadata: dict[str, str] = field(default_factory=dict)


def _meta_string(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def as_matrix(vector, where: str = "embedding"):
    """`vector` [n, d] (or [d]) as a contiguous float32 CPU matrix of its own kind (torch, or numpy without
    importing torch); refuses other shapes and NaN or Inf. `where` names the word in errors."""
    import numpy as np

    if isinstance(vector, np.ndarray):
        tensor = np.ascontiguousarray(vector, dtype=np.float32)
        finite = bool(np.isfinite(tensor).all())
    else:
        import torch

        tensor = torch.as_tensor(vector).detach().to("cpu", torch.float32).contiguous()
        finite = bool(torch.isfinite(tensor).all())
    if tensor.ndim == 1:
        tensor = tensor[None]
    if tensor.ndim != 2 or 0 in tensor.shape:
        raise VWBenchError(f"{where}: expected a vector [n, d], got shape {tuple(tensor.shape)}")
    if not finite:
        raise VWBenchError(f"{where}: refusing to write a non-finite vector (NaN or Inf)")
    return tensor


def embedding_bytes(vector, token: str, metadata: dict | None = None, where: str = "embedding") -> bytes:
    """The safetensors bytes of one word: `vector` (see `as_matrix`) under the single key `token`, with `metadata`
    (non-string values JSON-encoded) and `format: FORMAT`."""
    import numpy as np

    if not token:
        raise VWBenchError(f"{where}: an embedding needs a non-empty token")
    tensor = as_matrix(vector, where)
    if isinstance(tensor, np.ndarray):
        from safetensors.numpy import save
    else:
        from safetensors.torch import save
    meta = {str(k): _meta_string(v) for k, v in (metadata or {}).items()}
    meta["format"] = FORMAT
    return save({token: tensor}, metadata=meta)


def save_embedding(path: str | Path, vector, token: str, metadata: dict | None = None) -> Path:
    """Write `vector` [n, d] (or [d]) under the single key `token` to `path` atomically; returns `path`."""
    path = Path(path)
    return atomic.write_bytes(path, embedding_bytes(vector, token, metadata, where=str(path)))


def load_embedding(path: str | Path) -> Embedding:
    """The token, vector [n, d] (float32) and metadata of a file written by `save_embedding` or the store (either
    format tag), or of any single-key diffusers embedding (no tag)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise VWBenchError(f"{path}: embedding file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = list(f.keys())
            if len(keys) != 1:
                raise VWBenchError(f"{path}: expected one tensor (a single-key embedding), found {len(keys)}")
            tensor = f.get_tensor(keys[0])
            metadata = dict(f.metadata() or {})
    except (SafetensorError, OSError) as exc:
        raise VWBenchError(f"{path}: not a readable safetensors file: {exc}") from None
    tag = metadata.get("format")
    if tag and tag.startswith("vwbench-embedding") and tag not in (FORMAT, *OLD_FORMATS):
        raise VWBenchError(
            f"{path}: unknown embedding format {tag!r} (this vwbench reads {FORMAT}); upgrade vwbench to read it"
        )
    vector = tensor.float()
    return Embedding(token=keys[0], vector=vector[None] if vector.ndim == 1 else vector, metadata=metadata)
