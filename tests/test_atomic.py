"""Atomic writes: the whole new file or the old one, never half a file, and no temp file left behind."""

from __future__ import annotations

import json
import os

import pytest

from vwbench import atomic


def test_writes_bytes_text_and_json(tmp_path):
    assert atomic.write_bytes(tmp_path / "a" / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"  # makes the folder
    assert atomic.write_text(tmp_path / "t.txt", "héllo", fsync=True).read_text(encoding="utf-8") == "héllo"
    doc = {"b": [1, 2], "a": "x"}
    path = atomic.write_json(tmp_path / "d.json", doc)
    assert json.loads(path.read_text()) == doc and path.read_text().endswith("\n")
    assert path.read_text().index('"a"') < path.read_text().index('"b"')  # sorted keys
    assert sorted(os.listdir(tmp_path)) == ["a", "d.json", "t.txt"]


def test_a_failed_move_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = atomic.write_text(tmp_path / "f.txt", "old")

    def boom(*a):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_text(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["f.txt"]


def test_temp_path_for_libraries_that_write_files(tmp_path):
    target = tmp_path / "w.bin"
    with atomic.temp_path(target, tmp_dir=tmp_path / "partial") as tmp:
        assert tmp.parent == tmp_path / "partial" and tmp.name.endswith(atomic.TMP_SUFFIX)
        tmp.write_bytes(b"abc")
        assert not target.exists()  # nothing at the target until the block ends
    assert target.read_bytes() == b"abc" and os.listdir(tmp_path / "partial") == []
    with pytest.raises(RuntimeError), atomic.temp_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"abc" and sorted(os.listdir(tmp_path)) == ["partial", "w.bin"]


def test_temp_names_differ_per_call(tmp_path):
    assert atomic.temp_name(tmp_path / "x") != atomic.temp_name(tmp_path / "x")
