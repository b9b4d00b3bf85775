"""The formats drawn on the fly, with no files and no manifest: `synthetic` (coloured shapes, the tiny suite) and
`micro` (the micro-world's scenes)."""

from __future__ import annotations

from vwbench.data.formats import FORMATS


class Rendered:
    """A format whose images are rendered from the spec alone: `load(spec)` is the dataset."""

    name = ""
    rendered = True
    pooled = needs_boxes = False  # (on-disk formats only)

    @staticmethod
    def load(spec):
        raise NotImplementedError


@FORMATS.register("synthetic")
class Synthetic(Rendered):
    """Coloured shapes on plain backgrounds (vwbench.data.synthetic)."""

    @staticmethod
    def load(spec):
        from vwbench.data.synthetic import synthetic_dataset

        return synthetic_dataset(spec)


@FORMATS.register("micro")
class Micro(Rendered):
    """Scenes of the micro-world (vwbench.data.micro)."""

    @staticmethod
    def load(spec):
        from vwbench.data.micro.datasets import micro_dataset

        return micro_dataset(spec)
