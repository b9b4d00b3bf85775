"""Transfer maps between models' input embedding spaces (PROTOCOL.md 6 and 14.1).

`registry.get("linear_transfer")` gives the paper's map; `vwbench list methods` shows the others.
The names below are imported on first access, so `from vwbench.transfer import registry` stays light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    # the vocabulary space lives with the models (vwbench/models/space.py); methods meet it here
    "EmbeddingSpace": "vwbench.models.space",
    "shared_pairs": "vwbench.models.space",
    "nearest_tokens": "vwbench.models.space",
    "nn_distance": "vwbench.models.space",
    "TransferMethod": "vwbench.transfer.base",
    "FitReport": "vwbench.transfer.base",
    "fit_with_report": "vwbench.transfer.base",
    "transfer": "vwbench.transfer.base",
    "fit_checked": "vwbench.transfer.base",
    "get": "vwbench.transfer.registry",
    "register": "vwbench.transfer.registry",
    "describe": "vwbench.transfer.registry",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vwbench.transfer' has no attribute {name!r}")
