"""Dataset formats, registered by name (a dataset spec's `source.format`): the one dispatch from a spec to the code
that reads or renders its images.

An on-disk format is a `base.Reader` (its candidates become a manifest, vwbench.data.manifest); a rendered one
(`synthetic`, `micro`) draws its images on the fly and needs no manifest. A new format is one module here that
registers its class (`@FORMATS.register("name")`), plus its entry in `vwbench.registry.FORMATS`, or a
`vwbench.dataset_formats` entry point of another package.
"""

from __future__ import annotations

from vwbench.errors import SpecError, VWBenchError
from vwbench.registry import FORMATS


def get(spec):
    """The format class of a dataset spec; an unknown format is a one-line SpecError (file, field, "did you mean")."""
    try:
        return FORMATS.get(spec.source.get("format", ""))
    except VWBenchError as exc:
        raise SpecError(spec.path or f"dataset {spec.name!r}", "source.format", str(exc)) from None


def is_rendered(spec) -> bool:
    """Whether a dataset is drawn on the fly (no manifest to prepare or read)."""
    return bool(get(spec).rendered)
