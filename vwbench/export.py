"""Exchange learned words as files: diffusers' single-key textual-inversion format.

`save_embedding` writes `{token: tensor[n, d]}` (float32) as safetensors with string metadata (model id, revision,
concept, anchor, δ, seed, steps, ...), atomically. The file loads directly with diffusers'
`StableDiffusionPipeline.load_textual_inversion(path)` (PROTOCOL.md 15), which adds `token` (and `token_1`, ...
for n > 1) to the tokenizer; vwbench itself reads it back with `load_embedding` or `vwbench.submissions`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vwbench.errors import VWBenchError


@dataclass
class Embedding:
    token: str
    vector: torch.Tensor            # [n, d] float32
    metadata: dict[str, str] = field(default_factory=dict)


def _meta_string(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def save_embedding(path: str | Path, vector: torch.Tensor, token: str, metadata: dict | None = None) -> Path:
    """Write `vector` [n, d] (or [d]) under the single key `token`; non-string metadata values are JSON-encoded."""
    from safetensors.torch import save_file

    path = Path(path)
    if not token:
        raise VWBenchError("an embedding needs a non-empty token")
    vector = vector.detach().to("cpu", torch.float32)
    if vector.ndim == 1:
        vector = vector[None]
    if vector.ndim != 2 or vector.numel() == 0:
        raise VWBenchError(f"{path}: expected a vector [n, d], got shape {tuple(vector.shape)}")
    if not bool(torch.isfinite(vector).all()):
        raise VWBenchError(f"{path}: the vector of {token!r} contains NaN or Inf")
    meta = {str(k): _meta_string(v) for k, v in (metadata or {}).items()}
    meta.setdefault("format", "vwbench-embedding/1")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file({token: vector.contiguous()}, tmp, metadata=meta)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_embedding(path: str | Path) -> Embedding:
    """The token, vector [n, d] (float32) and metadata of a file written by `save_embedding` (or any single-key
    diffusers embedding)."""
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
    vector = tensor.float()
    return Embedding(token=keys[0], vector=vector[None] if vector.ndim == 1 else vector, metadata=metadata)
