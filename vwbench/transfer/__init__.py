"""Transfer maps between models' input embedding spaces (PROTOCOL.md 6 and 14.1).

`registry.get("linear_transfer")` gives the paper's map; `vwbench list methods` shows the others.
The names below are imported on first access, so `from vwbench.transfer import registry` stays light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "EmbeddingSpace": "space", "shared_pairs": "space", "nearest_tokens": "space", "nn_distance": "space",
    "TransferMethod": "base", "FitReport": "base", "fit_with_report": "base", "transfer": "base",
    "fit_checked": "base", "get": "registry", "register": "registry", "describe": "registry",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"vwbench.transfer.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'vwbench.transfer' has no attribute {name!r}")
