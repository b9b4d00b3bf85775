"""How vwbench's own models (tiny random-init and trained micro) are initialised: a seeded torch RNG, and the
OWLv2 box bias centred on each region's own patch. Shared by the family builders and the micro-zoo trainers."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def seeded(seed: int):
    """Within the block, torch's CPU RNG starts from `seed`; the caller's RNG state is restored after it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def centre_box_bias(model, n: int, cell_size: bool = False) -> None:
    """Set an Owlv2ForObjectDetection's box bias (n x n regions) so each region's box is centred on its own patch;
    transformers centres it on the patch's bottom-right corner, so the last row and column start at sigmoid(+9.2)
    = 1 with no gradient. With `cell_size` the box is also the patch's size, else its size bias is kept. A
    non-persistent buffer: loading rebuilds it, and the adapter's box_predictor reads it from the model."""
    centres = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    cy, cx = torch.meshgrid(centres, centres, indexing="ij")
    xy = torch.logit(torch.stack([cx.flatten(), cy.flatten()], -1))
    wh = torch.logit(torch.full((n * n, 2), 1 / n)) if cell_size else model.box_bias[:, 2:]
    model.box_bias = torch.cat([xy, wh], -1)
