"""The store's own one-line errors: read-only stores (and `readonly=True` opening nothing for writing), a
locked database (retried, never called corrupt), and a full disk (nothing half-written)."""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time

import numpy as np
import pytest

from vwbench import cli, store_db
from vwbench.errors import VWBenchError
from vwbench.records import Score, Trial
from vwbench.store import Store

TRIAL = Trial("tiny", "tiny-objects", "red_square", "square", "generation")
CORRUPT_ADVICE = ("not a readable", "Move it aside", "mv ")


def snapshot(root, mtimes=True):
    """Every path under `root` with its bytes and (unless not `mtimes`) its mtime."""
    return {
        p.relative_to(root).as_posix(): (
            p.read_bytes() if p.is_file() else None,
            p.stat().st_mtime_ns if mtimes else None,
        )
        for p in sorted(root.rglob("*"))
    }


def score(value=0.5, concept="red_square"):
    return Score(
        Trial("tiny", "tiny-objects", concept, "square", "generation"),
        "generation",
        "in_domain",
        "generation_accuracy",
        value,
        {},
    )


def filled(root, n=3):
    store = Store(root)
    for i in range(n):
        store.put_score(f"s{i}", score(i / 10, f"c{i}"))
    store.put_vector("v", TRIAL, np.ones((1, 4)), {})
    store.close()
    return root


def assert_one_line(message: str, *needles: str):
    assert "\n" not in message and all(n in message for n in needles), message
    assert not any(a in message for a in CORRUPT_ADVICE), message


# ------------------------------------------------------------------------------------------- read-only


def test_readonly_store_reads_and_creates_or_changes_nothing(tmp_path):
    root = filled(tmp_path / "store")
    before = snapshot(root)
    with Store(root, readonly=True) as ro:
        assert [s.value for s in ro.scores("tiny")] == [0.0, 0.1, 0.2]
        assert ro.suites() == ["tiny"] and ro.get_vector("v") is not None and ro.verify() == []
        for write in (
            lambda: ro.put_score("x", score()),
            lambda: ro.put_vector("w", TRIAL, np.ones((1, 4))),
            lambda: ro.begin_run({}),
        ):
            with pytest.raises(VWBenchError, match="opened read-only"):
                write()
    assert snapshot(root) == before  # no -wal/-shm files, no journal-mode change, no new folders


def test_readonly_store_must_exist_and_be_a_store(tmp_path):
    with pytest.raises(VWBenchError, match="no vwbench store"):
        Store(tmp_path / "none", readonly=True)
    assert not (tmp_path / "none").exists()
    (tmp_path / "empty").mkdir()
    sqlite3.connect(tmp_path / "empty" / "results.sqlite").close()  # a zero-byte database
    with pytest.raises(VWBenchError, match="empty database"):
        Store(tmp_path / "empty", readonly=True)


def test_check_opens_the_store_read_only(tmp_path, capsys):
    from vwbench.report import build_leaderboard

    root = filled(tmp_path / "store")
    with Store(root, readonly=True) as ro:
        build_leaderboard(ro, "tiny", tmp_path / "gold")
    before = snapshot(root)
    assert cli.main(["check", "--against", str(tmp_path / "gold" / "results.json"), "--store", str(root)]) == 0
    assert "ok" in capsys.readouterr().out
    assert snapshot(root) == before
    assert (
        cli.main(["check", "--against", str(tmp_path / "gold" / "results.json"), "--store", str(tmp_path / "nostore")])
        == 2
    )
    assert "no vwbench store" in capsys.readouterr().err and not (tmp_path / "nostore").exists()


def test_check_sees_a_live_writers_committed_scores(tmp_path):
    from vwbench.report import build_leaderboard

    root = filled(tmp_path / "store")
    writer = Store(root)  # stays open: its -wal file exists
    writer.put_score("s9", score(0.9, "c9"))
    with Store(root, readonly=True) as ro:
        assert len(ro.scores("tiny")) == 4
        build_leaderboard(ro, "tiny", tmp_path / "gold")
    writer.close()


def deny_writes_to(monkeypatch, root):
    """Make `root` and everything under it look unwritable to os.access (tests also run as root)."""
    real = os.access

    def access(path, mode, *a, **kw):
        if mode & os.W_OK and str(os.path.abspath(path)).startswith(str(root)):
            return False
        return real(path, mode, *a, **kw)

    monkeypatch.setattr(os, "access", access)


def test_unwritable_store_folder_is_read_only_not_corrupt(tmp_path, monkeypatch):
    root = filled(tmp_path / "store")
    before = snapshot(root)
    deny_writes_to(monkeypatch, root)
    with pytest.raises(VWBenchError) as err:
        Store(root)
    assert_one_line(str(err.value), f"store {root} is read-only", "--store")
    with Store(root, readonly=True) as ro:  # reading still works
        assert len(ro.scores()) == 3
    assert snapshot(root) == before


def test_run_into_a_read_only_store_is_one_line(tmp_path, monkeypatch, capsys):
    root = filled(tmp_path / "store")
    deny_writes_to(monkeypatch, root)
    assert cli.main(["run", "--suite", "tiny", "--store", str(root), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vwbench run: error: store ") and "read-only" in err and "Traceback" not in err
    assert_one_line(err, "read-only")


def test_database_sqlite_cannot_write_is_read_only_not_corrupt(tmp_path, monkeypatch):
    root = filled(tmp_path / "store")
    real = sqlite3.connect

    def read_only_connect(path, *a, uri=False, **kw):  # what SQLite does with a file it may not write
        if not uri:
            path, uri = f"{os.fspath(path)}".join(("file:", "?mode=ro")), True
        return real(path, *a, uri=uri, **kw)

    monkeypatch.setattr(store_db.sqlite3, "connect", read_only_connect)
    store = Store(root)
    with pytest.raises(VWBenchError) as err:
        store.put_score("new", score())
    assert_one_line(str(err.value), f"store {root} is read-only", "readonly database", "--store")
    assert len(store.scores()) == 3


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="permissions do not bind root")
def test_chmod_read_only_store(tmp_path):
    root = filled(tmp_path / "store")
    paths = [root, *root.rglob("*")]
    for p in paths:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        with pytest.raises(VWBenchError) as err:
            Store(root)
        assert_one_line(str(err.value), "read-only")
        with Store(root, readonly=True) as ro:
            assert len(ro.scores()) == 3
    finally:
        for p in paths:
            p.chmod(0o755 if p.is_dir() else 0o644)


# ---------------------------------------------------------------------------------------------- locked


def test_open_retries_while_locked(tmp_path, monkeypatch):
    """`PRAGMA journal_mode = WAL` can fail with 'database is locked' at once (no busy wait) while another
    process creates the same new store: _open retries instead of calling the database corrupt."""
    real, calls = store_db._connect, []

    def flaky(*args, **kw):
        calls.append(1)
        if len(calls) <= 2:
            raise sqlite3.OperationalError("database is locked")
        return real(*args, **kw)

    monkeypatch.setattr(store_db, "_connect", flaky)
    with Store(tmp_path / "new", timeout_s=5) as store:
        store.put_score("k", score())
    assert len(calls) == 3


def test_a_database_locked_past_the_timeout_is_locked_not_corrupt(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    holder = sqlite3.connect(root / "results.sqlite", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # another process creating the store, never finishing
    started = time.monotonic()
    with pytest.raises(VWBenchError) as err:
        Store(root, timeout_s=0.5)
    assert time.monotonic() - started >= 0.5
    assert_one_line(str(err.value), "stayed locked by another process", "retry")
    # released in time: the same open succeeds
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    with Store(root, timeout_s=10) as store:
        store.put_score("k", score())
    holder.close()


# ------------------------------------------------------------------------------------------- full disk


def no_space(*a, **kw):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_full_disk_writing_an_embedding_leaves_nothing(tmp_path, monkeypatch, where):
    store = Store(tmp_path / "store")
    store.put_vector("old", TRIAL, np.zeros((1, 4)), {})
    before = snapshot(tmp_path / "store" / "embeddings", mtimes=False)
    if where == "write":  # half the bytes reach the file, then the disk is full
        import builtins

        real_open = builtins.open

        class HalfFile:
            def __init__(self, fh):
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fh.close()

            def write(self, data):
                self.fh.write(data[: len(data) // 2])
                self.fh.flush()
                no_space()

        def fake_open(path, mode="r", *a, **kw):
            fh = real_open(path, mode, *a, **kw)
            return HalfFile(fh) if str(path).endswith(".part") else fh

        monkeypatch.setattr(builtins, "open", fake_open)
    else:
        monkeypatch.setattr(os, where, no_space)
    with pytest.raises(VWBenchError) as err:
        store.put_vector("new", TRIAL, np.ones((1, 4)), {})
    monkeypatch.undo()
    assert_one_line(str(err.value), "no space left on the device", "rerun")
    assert snapshot(tmp_path / "store" / "embeddings", mtimes=False) == before  # no partial, no new file
    assert [k for k, _, _ in store.vectors()] == ["old"] and store.verify() == []
    store.put_vector("new", TRIAL, np.ones((1, 4)), {})  # space again: the write goes through
    assert store.get_vector("new") is not None and store.verify() == []


def test_full_database_removes_the_new_file_and_commits_nothing(tmp_path):
    store = Store(tmp_path / "store")
    store.put_vector("old", TRIAL, np.zeros((1, 4)), {})
    files = sorted((tmp_path / "store" / "embeddings").glob("*.safetensors"))
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL
    with pytest.raises(VWBenchError) as err:
        store.put_vector("new", TRIAL, np.ones((1, 4)), {"padding": "x" * 200_000})
    assert_one_line(str(err.value), "no space left on the device", "database or disk is full")
    assert sorted((tmp_path / "store" / "embeddings").glob("*.safetensors")) == files
    with pytest.raises(VWBenchError, match="no space left"):
        store.put_score(
            "s", Score(TRIAL, "generation", "in_domain", "generation_accuracy", 0.5, {"padding": "x" * 200_000})
        )
    assert [k for k, _, _ in store.vectors()] == ["old"] and store.scores() == []
    assert store.verify() == []


def test_leaderboard_that_cannot_be_written_is_one_line(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    root = filled(tmp_path / "store")

    def full(self, *a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "mkdir", full)
    assert cli.main(["leaderboard", "--store", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vwbench leaderboard: error: cannot write the leaderboard into ")
    assert "No space left on device" in err and "--out DIR" in err and "\n" not in err
