"""Names of transfer methods: built-ins, installed plugins and classes registered at run time.

Built-ins are imported only when asked for, and plugins (entry-point group `vwbench.transfer_methods`,
`name = "package.module:Class"`) only when their name is asked for or the list is shown, so importing
this module costs nothing heavy.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from importlib import metadata

from vwbench.errors import VWBenchError

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

_REGISTRY: dict[str, type] = {}


def register(name: str):
    """Class decorator: make `cls` available as `name`. A name can be taken once."""

    def wrap(cls: type) -> type:
        owner = BUILTINS.get(name)
        taken = _REGISTRY.get(name)
        if (owner is not None and cls.__module__ != owner) or (taken is not None and not _same(taken, cls)):
            where = owner if taken is None else f"{taken.__module__}.{taken.__qualname__}"
            raise VWBenchError(f"transfer method name {name!r} is already taken (by {where})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def unregister(name: str) -> None:
    """Forget a run-time registration (for tests and notebooks); built-ins come back on next use."""
    _REGISTRY.pop(name, None)


def _same(a: type, b: type) -> bool:
    # a re-imported module defines a new class object under the same qualified name
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _load(name: str) -> type | None:
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in BUILTINS:
        importlib.import_module(BUILTINS[name])
        return _REGISTRY[name]
    ep = _entry_points().get(name)
    if ep is None:
        return None
    try:
        cls = ep.load()
    except Exception as exc:  # a broken plugin must not take the others down with it
        raise VWBenchError(f"transfer method plugin {name!r} ({ep.value}) failed to import: "
                           f"{type(exc).__name__}: {exc}") from exc
    if not inspect.isclass(cls):
        raise VWBenchError(f"transfer method plugin {name!r} ({ep.value}) is not a class")
    return _REGISTRY[name] if name in _REGISTRY else register(name)(cls)


def names() -> list[str]:
    """Every known method name, built-ins first."""
    extra = sorted((set(_REGISTRY) | set(_entry_points())) - set(BUILTINS))
    return [*BUILTINS, *extra]


def get_class(name: str) -> type:
    cls = _load(name)
    if cls is None:
        known = names()
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise VWBenchError(f"unknown transfer method {name!r}{hint} (known: {', '.join(known)})")
    return cls


def get(name: str, **params):
    """A new, unfitted instance of method `name` built with `params`."""
    cls = get_class(name)
    from_base = getattr(cls, "__init__", None) is getattr(_base_class(), "__init__", object())
    try:
        if from_base and params:   # TransferMethod.__init__ takes **params; a class without its own takes none
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


def describe() -> dict[str, str]:
    """{name: first line of the class docstring} for every known method (loads built-ins and plugins)."""
    out = {}
    for name in names():
        try:
            doc = inspect.getdoc(get_class(name)) or ""
            out[name] = doc.strip().splitlines()[0] if doc.strip() else ""
        except VWBenchError as exc:
            out[name] = f"(unavailable: {exc})"
    return out
