"""Declarative specs: load YAML, resolve `extends`, validate with the shipped JSON schemas, build typed objects.

Specs live in a folder with three sub-folders (`tasks/`, `datasets/`, `suites/`); the file name (without
`.yaml`) is the spec's name. Errors name the file, the field path and what was expected.
"""

from vwbench.spec import types as _types
from vwbench.spec.documents import (
    deep_merge,
    default_spec_root,
    describe,
    field_path,
    read_yaml,
    schema,
    validate_document,
)
from vwbench.spec.library import SpecLibrary, check_single_token_anchors
from vwbench.spec.types import *

__all__ = [
    "SpecLibrary",
    "check_single_token_anchors",
    "deep_merge",
    "default_spec_root",
    "describe",
    "field_path",
    "read_yaml",
    "schema",
    "validate_document",
]
__all__ += _types.__all__
