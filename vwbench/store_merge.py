"""`vwbench store merge A B ... --into C`: one store from several (the shards of `vwbench run --shard I/N`).

Every record (run, fit, vector, score) is kept once by key. Two stores holding one key with different content
is a conflict: it is named in a one-line error and nothing is written. Content is what a record says, not when
or by which run it was made: a vector's trial and tensor values, a score's trial, evaluation, metric, value and
extra fields, a fit's report without its timing (fits are recomputed by every shard that uses them), a run's
whole row. C is built in a temporary folder beside it and renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from vwbench.errors import VWBenchError
from vwbench.store import TRIAL_FIELDS, Store

TIMING = ("fit_seconds",)  # fit report fields that measure the run, not the map
TABLES = {"runs": "run_id", "fits": "key", "vectors": "key", "scores": "key"}


def _suites(store: Store) -> set[str]:
    names = {r[0] for t in ("vectors", "scores") for r in store._query(f"SELECT DISTINCT suite FROM {t}")}
    names |= {r["meta"].get("suite") for r in store.runs() if r["meta"].get("suite")}
    return names


def _content(table: str, store: Store, row) -> tuple:
    """What a record says, to compare between stores (see the module docstring)."""
    trial = tuple(row[f] for f in TRIAL_FIELDS) if table in ("vectors", "scores") else ()
    if table == "vectors":
        tensor = store._load_file(row, as_torch=False)
        if isinstance(tensor, str):
            raise VWBenchError(
                f"{store.root}: vector {row['key']}: {tensor}; run `vwbench check --store {store.root}` first"
            )
        return trial, row["shape"], tensor.tobytes()
    if table == "scores":
        return trial, row["eval_task"], row["method"], row["metric"], row["value"], json.loads(row["extra_json"])
    if table == "fits":
        return tuple(sorted((k, v) for k, v in json.loads(row["report_json"]).items() if k not in TIMING))
    return tuple(row)


def _what(table: str, row) -> str:
    if table in ("vectors", "scores"):
        label = f"{row['train_task']} {row['dataset']} {row['concept']} anchor={row['anchor']} delta={row['delta']}"
        return f"{table[:-1]} of {label}" + (
            f" scored by {row['eval_task']} {row['method']}" if table == "scores" else ""
        )
    return table[:-1]


def merge(sources: list[str | os.PathLike], into: str | os.PathLike) -> dict:
    """Merge the stores `sources` into a new store `into`; returns {table: records kept}."""
    into = Path(into)
    roots = [Path(s) for s in sources]
    if len(roots) < 2:
        raise VWBenchError("store merge needs at least two stores to merge")
    if into.exists():
        raise VWBenchError(f"--into {into} already exists; merge into a new folder")
    resolved = [r.resolve() for r in roots]
    if len(set(resolved)) != len(resolved):
        raise VWBenchError("the same store is named twice: " + ", ".join(str(r) for r in roots))
    stores = []
    try:
        for r in roots:
            stores.append(Store(r, readonly=True))
        suites = {str(s.root): _suites(s) for s in stores}
        if len({frozenset(v) for v in suites.values()}) > 1:
            listed = "; ".join(f"{k}: {', '.join(sorted(v)) or 'nothing'}" for k, v in suites.items())
            raise VWBenchError(f"the stores hold different suites ({listed}); only shards of one suite merge")
        tmp = into.parent / f".{into.name}.merging-{uuid.uuid4().hex[:8]}"
        try:
            counts = _build(stores, tmp)
            os.rename(tmp, into)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return counts
    finally:
        for s in stores:
            s.close()


def _build(stores: list[Store], root: Path) -> dict:
    counts = {}
    with Store(root) as target:
        for table, key_col in TABLES.items():
            seen: dict[str, tuple] = {}
            rows = []
            for store in stores:
                for row in store._query(f"SELECT * FROM {table} ORDER BY {key_col}"):
                    key = row[key_col]
                    content = _content(table, store, row)
                    if key in seen:
                        if seen[key][0] != content:
                            raise VWBenchError(
                                f"conflicting records for key {key} ({_what(table, row)}): "
                                f"{seen[key][1]} and {store.root} differ; nothing was written"
                            )
                        continue
                    seen[key] = (content, store.root)
                    if table == "vectors":
                        dest = root / row["file"]
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(store.root / row["file"], dest)
                    rows.append(tuple(row))
            if rows:
                sql = f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})"
                target._transaction(lambda conn, sql=sql, rows=rows: conn.executemany(sql, rows))
            counts[table] = len(rows)
    return counts
