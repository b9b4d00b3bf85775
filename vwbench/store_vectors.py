"""The learned words of a store: one safetensors file each (written with `vwbench.export.embedding_bytes`, the
format `vwbench learn` writes too), its sha256 and shape in the `vectors` table, and the checks that a row's file
is intact. `VectorRecords` is the part of `vwbench.store.Store` that holds them; it uses the Store's database
(`_query`, `_transaction`), layout (`root`, `emb_dir`) and overwrite policy (`_reuse`, `_written`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import time
from pathlib import Path

from vwbench import __version__, atomic
from vwbench.errors import VWBenchError
from vwbench.export import as_matrix, embedding_bytes
from vwbench.records import Trial
from vwbench.store_db import os_error
from vwbench.store_keys import canonical, canonical_json

DB_NAME = "results.sqlite"
EMB_DIR = "embeddings"
PARTIAL_DIR = ".partial"
TRIAL_FIELDS = tuple(f.name for f in dataclasses.fields(Trial))


def _trial_from_row(row: sqlite3.Row) -> Trial:
    return Trial(**{f: row[f] for f in TRIAL_FIELDS})


class VectorRecords:
    """Vectors and the file checks of a Store (mixed into `vwbench.store.Store`)."""

    def _load_file(self, row: sqlite3.Row, as_torch: bool = True):
        """The tensor of a vectors row (a numpy array unless `as_torch`), or a string saying why it is unusable."""
        path = self.root / row["file"]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return f"{path} is missing"
        except OSError as exc:
            return f"{path} cannot be read ({exc})"
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            return f"{path} is corrupt (its sha256 differs from the one recorded)"
        try:
            if as_torch:
                from safetensors.torch import load
            else:
                from safetensors.numpy import load
            tensors = load(data)
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types for bad bytes
            return f"{path} is not a valid safetensors file ({exc})"
        if len(tensors) != 1:
            return f"{path} holds {len(tensors)} tensors, expected 1"
        return next(iter(tensors.values()))

    def _vector_row(self, key: str, as_torch: bool):
        """(row, tensor) of a reusable stored word, or None when it must be (re)computed."""
        for _ in range(3):  # a concurrent writer may replace the row (and its file) between query and read
            rows = self._query("SELECT * FROM vectors WHERE key = ?", (key,))
            if not rows or not self._reuse(key):
                return None
            row = rows[0]
            tensor = self._load_file(row, as_torch)
            if not isinstance(tensor, str):
                break
            again = self._query("SELECT file FROM vectors WHERE key = ?", (key,))
            if not again or again[0][0] == row["file"]:
                break
        if isinstance(tensor, str):
            if self.overwrite == "never":
                raise VWBenchError(
                    f"{tensor}, but {self.db_path} records it for trial {_trial_from_row(row).label()} "
                    f"(key {key}). Restore the file, or rerun with --overwrite only-missing to recompute it"
                )
            return None
        return row, tensor

    def get_vector(self, key: str):
        """`(tensor, meta)` of a stored word, or None when it must be (re)computed under the overwrite policy."""
        got = self._vector_row(key, as_torch=True)
        if got is None:
            return None
        row, tensor = got
        return tensor, json.loads(row["meta_json"])

    def has_vector(self, key: str) -> bool:
        """Whether `get_vector(key)` would return a stored word (checks the file; does not import torch)."""
        return self._vector_row(key, as_torch=False) is not None

    def put_vector(self, key: str, trial: Trial, vector, meta: dict | None = None, run_id: str | None = None) -> Path:
        """Write the word's safetensors file atomically, then its row in one transaction; returns the file."""
        meta = canonical(dict(meta or {}), False)
        token = str(meta.get("token") or f"<{trial.concept}>")
        where = f"trial {trial.label()} (key {key})"
        tensor = as_matrix(vector, where)  # numpy lets light callers (tests, tools) skip importing torch
        record = {
            **meta,
            "key": key,
            "token": token,
            "trial": dataclasses.asdict(trial),
            "vwbench_version": meta.get("vwbench_version", __version__),
        }
        header = {
            "vwbench": canonical_json(record),
            **{f"trial.{f}": json.dumps(getattr(trial, f)) for f in TRIAL_FIELDS},
        }
        data = embedding_bytes(tensor, token, header, where)
        digest = hashlib.sha256(data).hexdigest()
        # content-addressed name: a concurrent writer of the same key can never replace the file a row points to
        rel = (Path(EMB_DIR) / f"{key}.{digest[:12]}.safetensors").as_posix()
        if self.readonly:
            raise VWBenchError(f"store {self.root} was opened read-only; this command does not write to it")
        existed = (self.root / rel).exists()  # the same word, already stored: its file is never removed
        self._atomic_write(self.root / rel, data)
        row = (
            key,
            *(getattr(trial, f) for f in TRIAL_FIELDS),
            rel,
            digest,
            json.dumps(list(tensor.shape)),
            canonical_json(record),
            run_id,
            time.time(),
        )

        def commit(conn):
            old = conn.execute("SELECT file FROM vectors WHERE key = ?", (key,)).fetchone()
            conn.execute(
                "INSERT OR REPLACE INTO vectors (key, suite, dataset, concept, anchor, train_task, delta, seed, file, "
                "sha256, shape, meta_json, run_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return old[0] if old else None

        try:
            replaced = self._transaction(commit)
        except BaseException:
            if not existed:  # no row points at the new file: leave nothing behind
                (self.root / rel).unlink(missing_ok=True)
            raise
        if replaced and replaced != rel:  # the file of the record this call replaced
            (self.root / replaced).unlink(missing_ok=True)
        self._written.add(key)
        return self.root / rel

    def _atomic_write(self, path: Path, data: bytes) -> None:
        """Write `data` to `.partial/`, fsync it, then move it to `path` in one step: a full disk, a failed
        write or a kill leaves either the whole file at `path` or nothing there (and no partial file)."""
        try:
            atomic.write_bytes(path, data, fsync=True, tmp_dir=self.emb_dir / PARTIAL_DIR)
        except OSError as exc:
            raise os_error(exc, path, self.root) from None

    def vectors(self, suite: str | None = None) -> list[tuple[str, Trial, dict]]:
        """`(key, trial, meta)` of every stored word (files are not read), sorted by key."""
        sql, params = "SELECT * FROM vectors", ()
        if suite is not None:
            sql, params = sql + " WHERE suite = ?", (suite,)
        rows = self._query(sql + " ORDER BY key", params)
        return [(r["key"], _trial_from_row(r), json.loads(r["meta_json"])) for r in rows]

    # ----------------------------------------------------------------------------------------- check

    def verify(self) -> list[str]:
        """Problems found in the store (nothing is changed): rows whose files are missing or corrupt,
        embedding files no row references, leftover partial files."""
        problems = []
        referenced = set()
        for row in self._query("SELECT * FROM vectors ORDER BY key"):
            referenced.add(row["file"])
            got = self._load_file(row, as_torch=False)
            if isinstance(got, str):
                problems.append(f"vector {row['key']} ({_trial_from_row(row).label()}): {got}")
        if self.emb_dir.is_dir():
            for f in sorted(self.emb_dir.glob("*.safetensors")):
                if f"{EMB_DIR}/{f.name}" not in referenced:
                    problems.append(f"{f}: not referenced by {DB_NAME} (left by an interrupted run; harmless)")
            for f in sorted((self.emb_dir / PARTIAL_DIR).glob("*.part")):
                problems.append(f"{f}: partial write of an interrupted run (safe to delete when no run is active)")
        return problems
