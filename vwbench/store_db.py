"""The SQLite side of the store: the schema, opening a results database (read-write or strictly read-only),
and turning sqlite3 errors into one-line VWBenchErrors that say what actually went wrong.

- *locked* (another process holds the lock; two processes creating a new store at once hit it in
  `PRAGMA journal_mode = WAL` and the schema creation): retried until the store's timeout, then reported as
  locked, never as corrupt;
- *read-only* (`attempt to write a readonly database`, no permission on the file or the folder): its own line,
  with the advice to pass a writable --store;
- *full* (`database or disk is full`): no space left, finished results are kept;
- anything else that SQLite cannot read is reported as a damaged database, with the advice to move it aside.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from pathlib import Path

from vwbench import __version__
from vwbench.errors import VWBenchError

SCHEMA_VERSION = 1

TABLES = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started REAL NOT NULL, ended REAL, status TEXT NOT NULL,
    meta_json TEXT NOT NULL, stage_times_json TEXT);
CREATE TABLE IF NOT EXISTS vectors (
    key TEXT PRIMARY KEY, suite TEXT, dataset TEXT, concept TEXT, anchor TEXT, train_task TEXT,
    delta REAL, seed INTEGER, file TEXT NOT NULL, sha256 TEXT NOT NULL, shape TEXT NOT NULL,
    meta_json TEXT NOT NULL, run_id TEXT, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    key TEXT PRIMARY KEY, suite TEXT, dataset TEXT, concept TEXT, anchor TEXT, train_task TEXT,
    delta REAL, seed INTEGER, eval_task TEXT NOT NULL, method TEXT NOT NULL, metric TEXT NOT NULL,
    value REAL NOT NULL, extra_json TEXT NOT NULL, run_id TEXT, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS scores_suite ON scores (suite);
CREATE TABLE IF NOT EXISTS fits (key TEXT PRIMARY KEY, report_json TEXT NOT NULL, run_id TEXT, created REAL NOT NULL);
"""
# Tables added after schema version 1 shipped: created in old stores when they are opened for writing, so the
# schema version stays 1 and old stores open; readers treat a missing table as empty (pictures.py).
ADDITIVE = (
    (
        "CREATE TABLE IF NOT EXISTS images (key TEXT PRIMARY KEY, suite TEXT, dataset TEXT, concept TEXT, "
        "kind TEXT NOT NULL, meta_json TEXT NOT NULL, data BLOB NOT NULL, run_id TEXT, created REAL NOT NULL)"
    ),
    "CREATE INDEX IF NOT EXISTS images_suite ON images (suite)",
)


def _name(exc: Exception) -> str:
    return getattr(exc, "sqlite_errorname", "") or ""


def is_locked(exc: Exception) -> bool:
    msg = str(exc).lower()
    return (
        _name(exc).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
        or "database is locked" in msg
        or "database table is locked" in msg
        or "database schema is locked" in msg
    )


def is_readonly(exc: Exception) -> bool:
    return _name(exc).startswith("SQLITE_READONLY") or "readonly database" in str(exc).lower()


def is_full(exc: Exception) -> bool:
    return _name(exc) == "SQLITE_FULL" or "database or disk is full" in str(exc).lower()


def readonly_error(root: Path, what: str) -> VWBenchError:
    return VWBenchError(
        f"store {root} is read-only ({what}); vwbench needs to write there. Pass a writable "
        "--store DIR, or make it writable; nothing was changed"
    )


def no_space_error(path: Path, what: str = "") -> VWBenchError:
    return VWBenchError(
        f"no space left on the device while writing {path}{f' ({what})' if what else ''}; free some "
        "space and rerun: finished results are kept, the unfinished one was not written"
    )


def db_error(exc: Exception, db_path: Path, root: Path, timeout_s: float) -> VWBenchError:
    """The one-line error for a sqlite3 error on the store's database."""
    if is_locked(exc):
        return VWBenchError(
            f"{db_path} stayed locked by another process for {timeout_s:g}s (another vwbench "
            "writing to this store?); retry when it has finished"
        )
    if is_readonly(exc):
        return readonly_error(root, f"{db_path} cannot be written: {exc}")
    if is_full(exc):
        return no_space_error(db_path, str(exc))
    if "unable to open database file" in str(exc).lower():
        blocked = [p for p in (root, db_path) if p.exists() and not os.access(p, os.R_OK | os.W_OK)]
        if blocked:
            return readonly_error(root, f"no read-write permission on {blocked[0]}")
        return VWBenchError(f"{db_path} cannot be opened ({exc}); check that it is a file you may read and write")
    return VWBenchError(
        f"{db_path} is not a readable vwbench results database ({exc}). Nothing was changed. "
        f"Move it aside (mv {db_path} {db_path}.bad) and rerun to recompute, "
        "or restore it from a backup; the embeddings/ files are kept either way"
    )


def os_error(exc: OSError, path: Path, root: Path) -> VWBenchError:
    """The one-line error for a failed file operation in the store."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return no_space_error(path, exc.strerror or str(exc))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return readonly_error(root, f"{path}: {exc.strerror or exc}")
    return VWBenchError(f"cannot write {path} ({exc.strerror or exc}); finished results are kept")


def check_writable(root: Path, paths) -> None:
    """Refuse a store whose folder or files this process may not write (before SQLite opens anything)."""
    for p in paths:
        if p.exists() and not os.access(p, os.W_OK | (os.X_OK if p.is_dir() else 0)):
            raise readonly_error(root, f"no write permission on {p}")


def check_version(conn: sqlite3.Connection, root: Path) -> None:
    row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    found = int(row[0]) if row and str(row[0]).isdigit() else None
    if found == SCHEMA_VERSION:
        return
    if found is not None and found > SCHEMA_VERSION:
        raise VWBenchError(
            f"store {root} has schema version {found}, written by a newer vwbench; this vwbench "
            f"({__version__}) reads version {SCHEMA_VERSION}. Upgrade vwbench, or pass another --store"
        )
    raise VWBenchError(
        f"store {root} has schema version {found}, which this vwbench ({__version__}, schema "
        f"{SCHEMA_VERSION}) cannot read. Use the vwbench that wrote it, or start a new store with --store DIR"
    )


def _tables(conn: sqlite3.Connection, db_path: Path, root: Path, readonly: bool) -> set[str]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "meta" not in tables:
        raise VWBenchError(
            f"{db_path} is an SQLite file but not a vwbench store (tables: "
            f"{', '.join(sorted(tables))}); pass another --store"
        )
    if readonly and not tables:
        raise VWBenchError(
            f"{db_path} is an empty database, not a vwbench store; run `vwbench run` into it first "
            "or pass another --store"
        )
    if tables:
        check_version(conn, root)
    return tables


def _connect(db_path: Path, root: Path, timeout_s: float, readonly: bool) -> sqlite3.Connection:
    if readonly:
        # mode=ro never writes; without a -wal file (no writer is active, everything is in the main file)
        # immutable=1 also keeps SQLite from creating -wal/-shm files beside it
        live = db_path.with_name(db_path.name + "-wal").exists()
        uri = db_path.resolve().as_uri() + ("?mode=ro" if live else "?mode=ro&immutable=1")
        conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(db_path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
        tables = _tables(conn, db_path, root, readonly)
        if readonly:
            return conn
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if tables and "images" not in tables:
            for stmt in ADDITIVE:
                conn.execute(stmt)
        if not tables:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in (*filter(str.strip, TABLES.split(";")), *ADDITIVE):
                    conn.execute(stmt)
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_by', ?)", (f"vwbench {__version__}",))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            check_version(conn, root)
        return conn
    except BaseException:
        conn.close()
        raise


def open_db(db_path: Path, root: Path, timeout_s: float, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the store's database (created with the schema when new), retried while another process
    holds a lock, for up to `timeout_s`; sqlite3 errors become one-line VWBenchErrors."""
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        try:
            return _connect(db_path, root, timeout_s, readonly)
        except sqlite3.DatabaseError as exc:
            if is_locked(exc) and time.monotonic() < deadline:
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 0.25)
                continue
            raise db_error(exc, db_path, root, timeout_s) from None
