"""Atomic file writes: a temp file is written beside its target (or in a given folder on the same file system),
optionally fsynced, then moved over the target with `os.replace`. A reader, a full disk, a failed write or a kill
sees either the whole new file or the old one, never half a file; a failure leaves no temp file behind."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

TMP_SUFFIX = ".part"


def temp_name(path: Path, tmp_dir: Path | None = None) -> Path:
    """A fresh temp file name for `path`, unique per process and call (two writers never share one)."""
    return Path(tmp_dir or path.parent) / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}"


@contextlib.contextmanager
def temp_path(path: str | os.PathLike, tmp_dir: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield a temp path for a library that writes files itself (e.g. safetensors' `save_file`); when the block
    ends without error the file is moved to `path`, otherwise it is removed."""
    path = Path(path)
    tmp = temp_name(path, Path(tmp_dir) if tmp_dir else None)
    try:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(
    path: str | os.PathLike, data: bytes, fsync: bool = False, tmp_dir: str | os.PathLike | None = None
) -> Path:
    """Write `data` to `path` atomically (`fsync`: flushed to disk before the move, so a power cut cannot leave
    an empty file in place); returns `path`."""
    path = Path(path)
    with temp_path(path, tmp_dir) as tmp, open(tmp, "wb") as fh:  # closed before temp_path moves it
        fh.write(data)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())
    return path


def write_text(path: str | os.PathLike, text: str, fsync: bool = False) -> Path:
    """Write `text` (UTF-8) to `path` atomically; returns `path`."""
    return write_bytes(path, text.encode("utf-8"), fsync=fsync)


def write_json(
    path: str | os.PathLike, doc, indent: int | None = 2, sort_keys: bool = True, ensure_ascii: bool = True
) -> Path:
    """Write `doc` as JSON (with a final newline) to `path` atomically; returns `path`."""
    return write_text(path, json.dumps(doc, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii) + "\n")
