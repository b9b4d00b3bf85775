"""Keyed, resumable storage of a suite's results: SQLite for records, safetensors for embeddings.

Layout of a store root (default `./vwbench-runs/<suite>/`)::

    results.sqlite                     runs, vectors, scores, fits, meta(schema_version) — WAL mode
    embeddings/<key>.<sha12>.safetensors  one learned word each, in diffusers' `load_textual_inversion` format
    embeddings/.partial/               files being written (never records; safe to delete when no run is active)

A record exists once its database row is committed. An embedding file is written to `.partial/`, fsynced and
moved into place with `os.replace` *before* its row is committed, so a process killed at any point leaves
either the whole record or none of it (at worst an unreferenced file that the rerun overwrites).
Several processes may write to one store at once; SQLite serialises the commits.

The `overwrite` policy decides what a lookup returns:
  never         reuse every stored record; a row whose embedding file is missing or corrupt is an error
  always        ignore what earlier runs stored (records written through this Store object are reused)
  only-missing  reuse intact records; a row whose embedding file is missing or corrupt is recomputed

The Store is three modules: this one (database, runs, scores, fits), `store_vectors` (the words and their files)
and `store_keys` (canonical JSON and record keys); every name is importable from here.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from vwbench import __version__
from vwbench.errors import VWBenchError
from vwbench.records import Score, Trial
from vwbench.store_db import SCHEMA_VERSION, check_writable, db_error, open_db, os_error  # noqa: F401 - re-exported
from vwbench.store_keys import KEY_LENGTH, canonical, canonical_json, make_key  # noqa: F401 - re-exported
from vwbench.store_vectors import DB_NAME, EMB_DIR, PARTIAL_DIR, TRIAL_FIELDS, VectorRecords, _trial_from_row

OVERWRITE_POLICIES = ("never", "always", "only-missing")
DEFAULT_BASE = "vwbench-runs"
PACKAGES = {
    "torch": "torch",
    "diffusers": "diffusers",
    "transformers": "transformers",
    "open_clip": "open_clip_torch",
    "numpy": "numpy",
    "safetensors": "safetensors",
}


def default_root(suite: str, base: str | os.PathLike = DEFAULT_BASE) -> Path:
    """The store of a suite when no `--store` is given: `./vwbench-runs/<suite>/`."""
    return Path(base) / suite


def _git_commit() -> str | None:
    repo = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        if out.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    """Versions and platform facts a run records (packages are looked up, not imported)."""
    from importlib import metadata

    versions = {}
    for name, dist in PACKAGES.items():
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "vwbench_version": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "argv": list(sys.argv),
    }


class Store(VectorRecords):
    """Results (SQLite) and embeddings (safetensors) of one suite, keyed by what each record depends on."""

    def __init__(
        self,
        root: str | os.PathLike,
        overwrite: str = "never",
        create: bool = True,
        timeout_s: float = 60.0,
        readonly: bool = False,
    ):
        """`create=False`: the store must exist. `readonly=True` (implies it): opened with SQLite's mode=ro,
        nothing is created or changed, every write raises; for `check` and `leaderboard`."""
        if overwrite not in OVERWRITE_POLICIES:
            raise VWBenchError(
                f"unknown overwrite policy {overwrite!r}; expected one of {', '.join(OVERWRITE_POLICIES)}"
            )
        self.root = Path(root)
        self.overwrite = overwrite
        self.db_path = self.root / DB_NAME
        self.emb_dir = self.root / EMB_DIR
        self._written: set[str] = set()  # keys written through this object (reused under "always")
        self._lock = threading.RLock()
        self.readonly, self.timeout_s = readonly, timeout_s
        if self.root.exists() and not self.root.is_dir():
            raise VWBenchError(f"store {self.root} is a file, not a folder; pass another --store")
        if not self.db_path.exists() and (readonly or not create):
            raise VWBenchError(
                f"no vwbench store at {self.root} (no {DB_NAME}); run `vwbench run` first or pass --store DIR"
            )
        if not readonly:
            check_writable(self.root, (self.root, self.db_path, self.emb_dir, self.emb_dir / PARTIAL_DIR))
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                if create:
                    (self.emb_dir / PARTIAL_DIR).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise os_error(exc, Path(exc.filename or self.root), self.root) from None
        self._conn = self._open(timeout_s)

    # ------------------------------------------------------------------------------------- database

    def _error(self, exc: Exception) -> VWBenchError:
        """A sqlite3 error as one line: locked, read-only, disk full or a damaged database."""
        return db_error(exc, self.db_path, self.root, self.timeout_s)

    def _open(self, timeout_s: float) -> sqlite3.Connection:
        return open_db(self.db_path, self.root, timeout_s, readonly=self.readonly)

    def _transaction(self, fn):
        """Run `fn(conn)` in one write transaction (BEGIN IMMEDIATE ... COMMIT); returns its result."""
        if self.readonly:
            raise VWBenchError(f"store {self.root} was opened read-only; this command does not write to it")
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(self._conn)
                    self._conn.execute("COMMIT")
                    return out
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from None

    def _write(self, sql: str, params: tuple) -> None:
        self._transaction(lambda conn: conn.execute(sql, params))

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ keys

    @staticmethod
    def key(kind: str, **parts: Any) -> str:
        """Stable key of a record: pass everything it depends on (model id + revision, dataset spec + split,
        concept, anchor, δ, seed, hyperparameters, method + params, vwbench version)."""
        return make_key(kind, **parts)

    def _reuse(self, key: str) -> bool:
        return self.overwrite != "always" or key in self._written

    # ------------------------------------------------------------------------------------------ runs

    def begin_run(self, meta: dict) -> str:
        """Record a run's provenance (`meta`: device, model revisions, seeds, … plus the environment)."""
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]
        record = {**environment(), **canonical(meta, False)}
        self._write(
            "INSERT INTO runs (run_id, started, status, meta_json) VALUES (?, ?, 'running', ?)",
            (run_id, time.time(), canonical_json(record)),
        )
        return run_id

    def end_run(self, run_id: str, stage_times: dict, status: str = "ok") -> None:
        self._write(
            "UPDATE runs SET ended = ?, status = ?, stage_times_json = ? WHERE run_id = ?",
            (time.time(), status, canonical_json(stage_times), run_id),
        )

    def update_run(self, run_id: str, meta: dict) -> None:
        """Merge `meta` into a run's recorded metadata (one level deep: {"provenance": {task: ...}} adds a task)."""

        def merge(conn):
            row = conn.execute("SELECT meta_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise VWBenchError(f"no run {run_id!r} in {self.db_path}")
            record = json.loads(row[0])
            for k, v in canonical(meta, False).items():
                record[k] = {**record[k], **v} if isinstance(v, dict) and isinstance(record.get(k), dict) else v
            conn.execute("UPDATE runs SET meta_json = ? WHERE run_id = ?", (canonical_json(record), run_id))

        self._transaction(merge)

    def runs(self, suite: str | None = None) -> list[dict]:
        """Every recorded run, oldest first: id, times, status, stage times and `meta` (the environment, the
        suite, settings, `depends` (what its keys hold) and `provenance` ({task: resolved revision, dtype,
        device, weights' hashes} of each model it loaded)). With `suite`, the runs that wrote its records."""
        rows = self._query("SELECT * FROM runs ORDER BY started, run_id")
        if suite is not None:
            ids = {
                r[0]
                for t in ("vectors", "scores")
                for r in self._query(f"SELECT DISTINCT run_id FROM {t} WHERE suite = ?", (suite,))
            }
            rows = [r for r in rows if r["run_id"] in ids]
        return [
            {
                "run_id": r["run_id"],
                "started": r["started"],
                "ended": r["ended"],
                "status": r["status"],
                "meta": json.loads(r["meta_json"]),
                "stage_times": json.loads(r["stage_times_json"]) if r["stage_times_json"] else None,
            }
            for r in rows
        ]

    def provenance(self, suite: str) -> dict:
        """{task: [provenance, ...]}: the distinct loaded-model provenance records of the runs that wrote a
        suite's vectors and scores (one entry per task unless runs loaded different revisions or dtypes)."""
        out: dict[str, list] = {}
        for run in self.runs(suite):
            for task, prov in sorted((run["meta"].get("provenance") or {}).items()):
                if prov not in out.setdefault(task, []):
                    out[task].append(prov)
        return dict(sorted(out.items()))

    def records(self, suite: str) -> dict:
        """Keys and runs of a suite's stored records by what they are of: {"vectors": {trial: {key: run_id}},
        "scores": {(trial, eval_task, method): {key: run_id}}}. A trial stored under another key than the
        one a run computes was made by other code or settings."""
        out: dict = {"vectors": {}, "scores": {}}
        for r in self._query("SELECT * FROM vectors WHERE suite = ?", (suite,)):
            out["vectors"].setdefault(_trial_from_row(r), {})[r["key"]] = r["run_id"]
        for r in self._query("SELECT * FROM scores WHERE suite = ?", (suite,)):
            out["scores"].setdefault((_trial_from_row(r), r["eval_task"], r["method"]), {})[r["key"]] = r["run_id"]
        return out

    # ---------------------------------------------------------------------------------------- scores

    def get_score(self, key: str) -> Score | None:
        rows = self._query("SELECT * FROM scores WHERE key = ?", (key,))
        if not rows or not self._reuse(key):
            return None
        return self._score(rows[0])

    def put_score(self, key: str, score: Score, run_id: str | None = None) -> None:
        t = score.trial
        self._write(
            "INSERT OR REPLACE INTO scores (key, suite, dataset, concept, anchor, train_task, delta, seed, eval_task, "
            "method, metric, value, extra_json, run_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                *(getattr(t, f) for f in TRIAL_FIELDS),
                score.eval_task,
                score.method,
                score.metric,
                float(score.value),
                canonical_json(score.extra),
                run_id,
                time.time(),
            ),
        )
        self._written.add(key)

    @staticmethod
    def _score(row: sqlite3.Row) -> Score:
        return Score(
            trial=_trial_from_row(row),
            eval_task=row["eval_task"],
            method=row["method"],
            metric=row["metric"],
            value=row["value"],
            extra=json.loads(row["extra_json"]),
        )

    def scores(self, suite: str | None = None) -> list[Score]:
        """Every stored score (one per key), optionally of one suite, oldest first (ties by key)."""
        sql, params = "SELECT * FROM scores", ()
        if suite is not None:
            sql, params = sql + " WHERE suite = ?", (suite,)
        return [self._score(r) for r in self._query(sql + " ORDER BY created, key", params)]

    def suites(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT suite FROM scores ORDER BY suite")]

    def score_runs(self, suite: str | None = None) -> list[tuple[Trial, str, str, str | None]]:
        """`(trial, eval_task, method, run_id)` of every stored score, in the order of `scores()`: which run
        computed each (the leaderboard's provenance)."""
        sql, params = "SELECT * FROM scores", ()
        if suite is not None:
            sql, params = sql + " WHERE suite = ?", (suite,)
        rows = self._query(sql + " ORDER BY created, key", params)
        return [(_trial_from_row(r), r["eval_task"], r["method"], r["run_id"]) for r in rows]

    # ------------------------------------------------------------------------------------------ fits

    def put_fit(self, key: str, report: dict, run_id: str | None = None) -> None:
        self._write(
            "INSERT OR REPLACE INTO fits (key, report_json, run_id, created) VALUES (?, ?, ?, ?)",
            (key, canonical_json(report), run_id, time.time()),
        )
        self._written.add(key)

    def get_fit(self, key: str) -> dict | None:
        rows = self._query("SELECT report_json FROM fits WHERE key = ?", (key,))
        if not rows or not self._reuse(key):
            return None
        return json.loads(rows[0][0])
