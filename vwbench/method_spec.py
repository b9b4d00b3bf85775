"""Transfer methods named with parameters (`--method ridge:lam=0.1`), their table labels and provenance.

A method spec is `NAME[:KEY=VALUE[,KEY=VALUE...]]`, where NAME is a registered method or a method submission
folder. Values are read as `true`/`false` (bool), `none`/`null` (None), an int, a float, or else a string. A
key the method's constructor does not accept is a one-line error naming the accepted keys.

A method's label (its name in score records and tables) is its name followed by every parameter that differs
from its default, sorted by key: `ridge(lam=0.1)`, `cca(k=4,reg=0.01)`; with default parameters it is the bare
name, so results of `ridge` and `ridge:lam=1.0` are the same results. Defaults are the constructor's, and for a
submission its manifest's `parameters:` over them.
"""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

from vwbench.errors import VWBenchError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_value(text: str):
    """`true`/`false` -> bool, `none`/`null` -> None, an int, a float, else the string itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse(spec: str) -> tuple[str, dict]:
    """(name or folder, params) of `NAME[:KEY=VALUE,...]`; a bad spec is a one-line VWBenchError."""
    text = str(spec)
    if Path(text).exists() or ":" not in text:
        return text, {}
    name, _, rest = text.partition(":")
    usage = f"--method expects NAME or NAME:KEY=VALUE[,KEY=VALUE], got {text!r}"
    if not name or not rest.strip():
        raise VWBenchError(usage)
    params = {}
    for item in rest.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise VWBenchError(f"{usage}: {item.strip()!r} is not KEY=VALUE")
        if key in params:
            raise VWBenchError(f"{usage}: {key!r} is given twice")
        params[key] = parse_value(value.strip())
    return name, params


def _is_submission(target: str) -> bool:
    from vwbench.submissions import MANIFEST

    p = Path(target)
    return (p / MANIFEST).is_file() or (p.name == MANIFEST and p.is_file())


def _signature_defaults(cls) -> dict:
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in sig.parameters.values() if p.default is not inspect.Parameter.empty}


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def _fmt(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _suffix(params: dict, defaults: dict) -> str:
    changed = {k: v for k, v in sorted(params.items()) if k not in defaults or not _same(v, defaults[k])}
    return "(" + ",".join(f"{k}={_fmt(v)}" for k, v in changed.items()) + ")" if changed else ""


def load(spec):
    """An unfitted method from a spec string (or an instance, returned as is).

    Built-ins and plugins are built with `registry.get(name, **params)`; a submission folder with
    `submissions.load_method(path, **params)` (which imports and runs its code)."""
    if not isinstance(spec, str):
        return spec
    from vwbench.submissions import load_method, read_manifest

    target, params = parse(spec)
    method = load_method(target, **params)
    if _is_submission(target):
        sub = read_manifest(target)
        defaults = {**_signature_defaults(type(method)), **(sub.manifest.get("parameters") or {})}
        info = {
            "name": sub.name,
            "params": {**(sub.manifest.get("parameters") or {}), **params},
            "submission": {
                "name": sub.name,
                "version": sub.manifest.get("version"),
                "authors": list(sub.manifest.get("authors") or []),
            },
            "label": sub.name + _suffix(params, defaults),
        }
        try:
            method.vwbench_label, method.vwbench_info = info["label"], info
        except AttributeError:
            raise VWBenchError(
                f"submission {sub.name}: its method object takes no attributes; vwbench cannot label its results"
            ) from None
    return method


def name_of(method) -> str:
    return getattr(method, "name", None) or type(method).__name__


def label(method) -> str:
    """The method's name in score records and tables (see the module docstring)."""
    given = getattr(method, "vwbench_label", None)
    if isinstance(given, str) and given:
        return given
    params = getattr(method, "params", None)
    if not isinstance(params, dict) or not params:
        return name_of(method)
    return name_of(method) + _suffix(params, _signature_defaults(type(method)))


def describe(method) -> dict:
    """Provenance of a method: label, name, parameters and, for a submission, its name, version and authors."""
    info = getattr(method, "vwbench_info", None)
    if isinstance(info, dict):
        return {**info, "label": label(method)}
    params = getattr(method, "params", None)
    return {
        "label": label(method),
        "name": name_of(method),
        "params": dict(params) if isinstance(params, dict) else {},
        "submission": None,
    }
