"""Keys of stored records: the canonical JSON of everything a record depends on, and its sha256."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from enum import Enum
from typing import Any

KEY_LENGTH = 20


def canonical(obj: Any, for_key: bool = True) -> Any:
    """A JSON-ready form of `obj` (dataclasses, tuples, sets, paths, numpy/torch scalars); for keys, also
    1.0 -> 1 so that equal numbers give equal keys."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return canonical(dataclasses.asdict(obj), for_key)
    if isinstance(obj, dict):
        return {str(k): canonical(v, for_key) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [canonical(v, for_key) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((canonical(v, for_key) for v in obj), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, Enum):
        return canonical(obj.value, for_key)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return int(obj) if for_key and obj.is_integer() else obj
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return canonical(obj.item(), for_key)
    if not for_key:
        return str(obj)
    raise TypeError(f"store.key: cannot key a value of type {type(obj).__name__}: {obj!r}")


def canonical_json(obj: Any, for_key: bool = False) -> str:
    """`obj` as compact JSON with sorted keys: equal records give equal text."""
    return json.dumps(canonical(obj, for_key), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def make_key(kind: str, **parts: Any) -> str:
    """sha256 (first 20 hex digits) of the canonical JSON of `kind` and everything the record depends on."""
    text = canonical_json({"kind": kind, "parts": parts}, for_key=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]
