"""The study loop behind `vwbench run` and `vwbench probe` (see loop.py): its options, its learning half and its
scoring half live beside it."""

from vwbench.study.loop import Study
from vwbench.study.options import (
    OVERRIDABLE,
    StudyOptions,
    StudySummary,
    method_id,
    method_label,
    resolve_overrides,
    variant_name,
)

__all__ = [
    "OVERRIDABLE",
    "Study",
    "StudyOptions",
    "StudySummary",
    "method_id",
    "method_label",
    "resolve_overrides",
    "variant_name",
]
