"""Committed weights of the micro zoo: fp16 safetensors with compact token tables, plus a JSON config each.

The 49,408-row token tables dominate checkpoint size, yet a micro model only ever sees the ~70 words of the known
world. Only trained rows are stored (`<key>.rows`, `<key>.ids`); the others are refilled on load from a fixed
seed at the trained rows' scale, and the model marks them untrained so transfer fits and nearest-word search
skip them.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import torch

from vwbench import atomic
from vwbench.errors import VWBenchError
from vwbench.tokenizer import VOCAB_SIZE

ZOO_DIR = Path(__file__).parent / "weights"


def zoo_dir() -> Path:
    return Path(os.environ.get("VWBENCH_MICRO_ZOO", ZOO_DIR))


def save_weights(
    name: str,
    state: dict[str, torch.Tensor],
    config: dict,
    trained_ids: list[int],
    folder: Path | None = None,
    fp32_keys: tuple[str, ...] = (),
) -> Path:
    """Write `<name>.safetensors` (fp16 except `fp32_keys` substrings) and `<name>.json` atomically."""
    from safetensors.torch import save_file

    folder = Path(folder or zoo_dir())
    folder.mkdir(parents=True, exist_ok=True)
    ids = torch.tensor(sorted(set(trained_ids)), dtype=torch.long)
    out = {}
    for key, t in state.items():
        t = t.detach().cpu()
        if t.is_floating_point() and not any(k in key for k in fp32_keys):
            t = t.half()
        if t.ndim == 2 and t.shape[0] == VOCAB_SIZE:
            out[f"{key}.rows"], out[f"{key}.ids"] = t[ids].contiguous(), ids
        else:
            out[key] = t.contiguous()
    path = folder / f"{name}.safetensors"
    with atomic.temp_path(path) as tmp:
        save_file(out, str(tmp), metadata={"name": name})
    meta = {"name": name, "config": config, "trained_ids": ids.tolist()}
    atomic.write_text(folder / f"{name}.json", json.dumps(meta, indent=1))
    return path


def read_meta(name: str, folder: Path | None = None) -> dict:
    """The JSON metadata (config, trained token ids) of a micro model."""
    path = Path(folder or zoo_dir()) / f"{name}.json"
    if not path.is_file():
        raise VWBenchError(f"micro model {name!r} not found in {path.parent}: build it with `vwbench zoo build micro`")
    return json.loads(path.read_text())


def fingerprint(name: str, folder: Path | None = None) -> str:
    """sha256 of a micro model's weights file: part of every stored result's key, so retraining invalidates them.
    Remembered per (path, size, mtime): a run asks for it once per key it computes."""
    path = Path(folder or zoo_dir()) / f"{name}.safetensors"
    st = path.stat()
    return _file_digest(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    from vwbench.data.images import file_sha256

    return file_sha256(path)


def load_weights(name: str, folder: Path | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """The full float32 state dict (token tables refilled) and the JSON metadata of a micro model."""
    from safetensors.torch import load_file

    folder = Path(folder or zoo_dir())
    path = folder / f"{name}.safetensors"
    meta = read_meta(name, folder)
    raw = load_file(str(path))
    state = {}
    for key, t in raw.items():
        if key.endswith(".ids"):
            continue
        if key.endswith(".rows"):
            base, ids = key[: -len(".rows")], raw[key[: -len(".rows")] + ".ids"]
            rows = t.float()
            g = torch.Generator().manual_seed(0)
            full = torch.randn(VOCAB_SIZE, rows.shape[1], generator=g) * rows.std()
            full[ids] = rows
            state[base] = full
        else:
            state[key] = t.float() if t.is_floating_point() else t
    return state, meta
