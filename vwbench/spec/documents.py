"""Spec files as documents: YAML read with clear errors, `extends` merged, validated against the shipped JSON
schemas; errors name the file, the field path and what was expected."""

from __future__ import annotations

import copy
import json
import os
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from vwbench.errors import SpecError


def default_spec_root() -> Path:
    """`$VWBENCH_SPECS`, else the specs shipped inside the package (`vwbench/specs/`)."""
    env = os.environ.get("VWBENCH_SPECS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "specs"


@cache
def schema(kind: str) -> dict:
    text = resources.files("vwbench.schemas").joinpath(f"{kind}.schema.json").read_text()
    return json.loads(text)


def field_path(error: jsonschema.ValidationError) -> str:
    parts = list(error.absolute_path)
    if error.validator == "required":  # name the missing field itself, not its parent (`<root>`)
        missing = re.match(r"^'(.+)' is a required property", error.message)
        if missing:
            parts.append(missing.group(1))
    if unexpected(error):  # name the unknown field itself
        parts.append(unexpected(error)[0])
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is required but missing")
    if error.validator == "type":
        return f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    if error.validator == "enum":
        return f"expected one of {error.validator_value}, got {error.instance!r}"
    if unexpected(error):
        known = sorted(error.schema.get("properties", {}))
        return f"unknown field (known: {', '.join(known) or 'none'})"
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field")
    return error.message


def unexpected(error: jsonschema.ValidationError) -> list[str]:
    """The fields an `additionalProperties: false` error is about (none for other errors)."""
    if error.validator != "additionalProperties" or error.validator_value is not False:
        return []
    if not isinstance(error.instance, dict) or error.schema.get("patternProperties"):
        return []
    return sorted(str(k) for k in error.instance if k not in error.schema.get("properties", {}))


def validate_document(doc: Any, kind: str, file: str | Path) -> None:
    """Validate one resolved document against the schema of `kind`; raise SpecError on the first problem."""
    validator = jsonschema.Draft202012Validator(schema(kind))
    errors = sorted(validator.iter_errors(doc), key=lambda e: (len(list(e.absolute_path)), str(e.absolute_path)))
    if errors:
        # a `oneOf` failure is less telling than its deepest sub-error
        err = errors[0]
        if err.context:
            err = max(err.context, key=lambda e: len(list(e.absolute_path)))
        raise SpecError(file, field_path(err), describe(err))


def read_yaml(path: Path) -> dict:
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(path, "", "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise SpecError(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, dict):
        raise SpecError(path, "", f"expected a mapping at the top level, got {type(doc).__name__}")
    return doc


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
