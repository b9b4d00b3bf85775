"""Names of transfer methods: built-ins, installed plugins and classes registered at run time.

Built-ins are imported only when asked for, and plugins (entry-point group `vwbench.transfer_methods`,
`name = "package.module:Class"`) only when their name is asked for or the list is shown, so importing
this module costs nothing heavy.
"""

from __future__ import annotations

import inspect

from vwbench.errors import VWBenchError
from vwbench.registry import Registry, plugin_is_class

ENTRY_POINT_GROUP = "vwbench.transfer_methods"

# name -> module holding the built-in class (imported on first use)
BUILTINS = {
    "linear_transfer": "vwbench.transfer.linear_transfer",
    "ridge": "vwbench.transfer.ridge",
    "procrustes": "vwbench.transfer.procrustes",
    "cca": "vwbench.transfer.cca",
    "nearest_token": "vwbench.transfer.nearest_token",
    "constant": "vwbench.transfer.constant",
    "random_map": "vwbench.transfer.random_map",
}


METHODS = Registry("transfer method", BUILTINS, ENTRY_POINT_GROUP, check=plugin_is_class("transfer method"))
register, unregister, names, get_class, describe = (
    METHODS.register,
    METHODS.unregister,
    METHODS.names,
    METHODS.get,
    METHODS.describe,
)


def get(name: str, **params):
    """A new, unfitted instance of method `name` built with `params`."""
    cls = get_class(name)
    from_base = getattr(cls, "__init__", None) is getattr(_base_class(), "__init__", object())
    try:
        if from_base and params:  # TransferMethod.__init__ takes **params; a class without its own takes none
            raise TypeError("takes no parameters")
        inspect.signature(cls).bind(**params)
    except TypeError as exc:
        named = inspect.signature(cls).parameters.values()
        accepted = ", ".join(p.name for p in named if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        accepted = (accepted if not from_base else "") or "none"
        raise VWBenchError(f"transfer method {name!r}: bad parameters {params} ({exc}; accepted: {accepted})") from None
    try:
        method = cls(**params)
    except (TypeError, ValueError) as exc:
        raise VWBenchError(f"transfer method {name!r}: bad parameters {params}: {exc}") from None
    if not getattr(method, "name", None):
        method.name = name
    return method


def _base_class() -> type:
    from vwbench.transfer.base import TransferMethod

    return TransferMethod
