"""Image loading shared by every task: EXIF orientation applied, RGB, fully decoded (so corrupt files fail here)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image, ImageOps

from vwbench.errors import VWBenchError


def load_image(path: str | Path) -> Image.Image:
    """Open an image file as RGB with its EXIF orientation applied; a clear error if it is unreadable."""
    try:
        with Image.open(path) as im:
            im.load()
            return ImageOps.exif_transpose(im).convert("RGB")
    except FileNotFoundError:
        raise VWBenchError(f"{path}: image file not found") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise VWBenchError(f"{path}: corrupt or unreadable image ({exc})") from None


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
