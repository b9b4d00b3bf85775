"""Registries of named plugins: transfer methods, model families and metrics share this one mechanism.

A registry knows its built-ins by module (imported only when a name is asked for), entry-point plugins of its
group (loaded likewise), and classes or functions registered at run time. A name is taken once; an unknown name
gets a one-line error with "did you mean …" and the known names.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from importlib import metadata

from vwbench.errors import VWBenchError


def _same(a, b) -> bool:
    # a re-imported module defines a new object under the same qualified name
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


class Registry:
    """Named plugins of one kind (`what`, e.g. "transfer method"): built-ins {name: module}, an entry-point group."""

    def __init__(self, what: str, builtins: dict[str, str], entry_point_group: str | None = None, check=None):
        self.what, self.builtins, self.group = what, dict(builtins), entry_point_group
        self.check = check  # check(name, obj) -> None, raising for a plugin of the wrong shape
        self._items: dict[str, object] = {}

    def register(self, name: str):
        """Decorator: make a class (or function) available as `name`; sets its `name` attribute on classes."""

        def wrap(obj):
            owner = self.builtins.get(name)
            taken = self._items.get(name)
            if (owner is not None and obj.__module__ != owner) or (taken is not None and not _same(taken, obj)):
                where = owner if taken is None else f"{taken.__module__}.{taken.__qualname__}"
                raise VWBenchError(f"{self.what} name {name!r} is already taken (by {where})")
            if inspect.isclass(obj):
                obj.name = name
            self._items[name] = obj
            return obj

        return wrap

    def unregister(self, name: str) -> None:
        """Forget a run-time registration (for tests and notebooks); built-ins come back on next use."""
        self._items.pop(name, None)

    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        if not self.group:
            return {}
        return {ep.name: ep for ep in metadata.entry_points(group=self.group)}

    def _load(self, name: str):
        if name in self._items:
            return self._items[name]
        if name in self.builtins:
            importlib.import_module(self.builtins[name])
            if name not in self._items:
                raise VWBenchError(f"{self.what} {name!r}: module {self.builtins[name]} does not register it")
            return self._items[name]
        ep = self._entry_points().get(name)
        if ep is None:
            return None
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down with it
            raise VWBenchError(
                f"{self.what} plugin {name!r} ({ep.value}) failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        if self.check is not None:
            self.check(name, obj, ep.value)
        return self._items[name] if name in self._items else self.register(name)(obj)

    def names(self) -> list[str]:
        """Every known name, built-ins first."""
        extra = sorted((set(self._items) | set(self._entry_points())) - set(self.builtins))
        return [*self.builtins, *extra]

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self.builtins or name in self._entry_points()

    def get(self, name: str):
        """The registered object, or a one-line error naming the close matches and every known name."""
        obj = self._load(name)
        if obj is None:
            known = self.names()
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise VWBenchError(f"unknown {self.what} {name!r}{hint} (known: {', '.join(known)})")
        return obj

    def describe(self) -> dict[str, str]:
        """{name: first line of the docstring} for every known name (loads built-ins and plugins)."""
        out = {}
        for name in self.names():
            try:
                doc = (inspect.getdoc(self.get(name)) or "").strip()
                out[name] = doc.splitlines()[0] if doc else ""
            except VWBenchError as exc:
                out[name] = f"(unavailable: {exc})"
        return out


def package_modules(package: str) -> dict[str, str]:
    """{file name: module} of every module in a package's folder, found without importing them (built-ins named by
    their file, so adding one is adding its file)."""
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec else []
    return {
        p.stem: f"{package}.{p.stem}"
        for f in folders
        for p in sorted(Path(f).glob("*.py"))
        if not p.stem.startswith("_")
    }


def plugin_is_class(what: str):
    """A registry `check` refusing an entry-point plugin that is not a class, in one line naming it."""

    def check(name: str, obj, where: str) -> None:
        if not inspect.isclass(obj):
            raise VWBenchError(f"{what} plugin {name!r} ({where}) is not a class")

    return check


# Model families (vwbench/models/families/<name>.py, or plugins of the entry-point group): known here, below the
# spec layer, so that a task spec's family is checked by name when it is read; a family's module is imported
# only when it is used (vwbench.models.families.family).
FAMILIES = Registry(
    "model family",
    package_modules("vwbench.models.families"),
    "vwbench.model_families",
    check=plugin_is_class("model family"),
)

# Dataset formats (vwbench/data/formats/, or plugins of the entry-point group): known here, below the spec layer,
# so that a dataset spec's `source.format` is checked by name when it is read (the code: vwbench.data.formats).
FORMATS = Registry(
    "dataset format",
    {
        "imagenet": "vwbench.data.formats.imagenet",
        "dreambooth": "vwbench.data.formats.dreambooth",
        "coco": "vwbench.data.formats.coco",
        "voc": "vwbench.data.formats.voc",
        "synthetic": "vwbench.data.formats.rendered",
        "micro": "vwbench.data.formats.rendered",
    },
    entry_point_group="vwbench.dataset_formats",
)
