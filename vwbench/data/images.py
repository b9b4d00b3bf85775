"""Image loading shared by every task: EXIF orientation applied, RGB, fully decoded (so corrupt files fail here)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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


# EXIF orientation -> how a point (x, y) of the stored W x H pixels moves when `ImageOps.exif_transpose` applies it
_ORIENT = {
    1: lambda x, y, w, h: (x, y),
    2: lambda x, y, w, h: (w - x, y),  # mirror left-right
    3: lambda x, y, w, h: (w - x, h - y),  # rotate 180
    4: lambda x, y, w, h: (x, h - y),  # mirror top-bottom
    5: lambda x, y, w, h: (y, x),  # transpose
    6: lambda x, y, w, h: (h - y, x),  # rotate 90 clockwise
    7: lambda x, y, w, h: (h - y, w - x),  # transverse
    8: lambda x, y, w, h: (y, w - x),  # rotate 90 counter-clockwise
}


@dataclass(frozen=True)
class ImageInfo:
    """An image file as stored (`raw_size`, EXIF `orientation`) and as `load_image` returns it (`size`)."""

    size: tuple[int, int]
    raw_size: tuple[int, int]
    orientation: int


def inspect_image(path: str | Path) -> ImageInfo:
    """Fully decode an image file (so a corrupt or truncated one fails here) and report its sizes."""
    try:
        with Image.open(path) as im:
            im.load()
            raw = im.size
            try:
                orientation = int(im.getexif().get(0x0112, 1) or 1)
            except Exception:  # noqa: BLE001 - a broken EXIF block is not a broken image
                orientation = 1
    except FileNotFoundError:
        raise VWBenchError(f"{path}: image file not found") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise VWBenchError(f"{path}: corrupt or truncated image ({exc})") from None
    if orientation not in _ORIENT:
        orientation = 1
    size = (raw[1], raw[0]) if orientation in (5, 6, 7, 8) else raw
    return ImageInfo(size=size, raw_size=raw, orientation=orientation)


def orient_boxes(boxes, raw_size: tuple[int, int], orientation: int) -> list[list[float]]:
    """Map `xyxy` boxes drawn on the stored pixels to the image as `load_image` returns it (EXIF applied)."""
    f = _ORIENT.get(orientation, _ORIENT[1])
    w, h = raw_size
    out = []
    for x0, y0, x1, y1 in boxes:
        ax, ay = f(x0, y0, w, h)
        bx, by = f(x1, y1, w, h)
        out.append([min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)])
    return out
