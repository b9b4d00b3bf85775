"""Faults with real processes: SIGKILL at random and at the dangerous points, then resume; two writers at once."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch

from vwbench.store import Store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# argv: root tag first last [kill_phase kill_index]; writes vectors and scores for i in [first, last)
WORKER = r"""
import os, signal, sys
import numpy as np
from vwbench.records import Score, Trial
from vwbench.store import Store

root, tag, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
phase, at = (sys.argv[5], int(sys.argv[6])) if len(sys.argv) > 6 else (None, -1)
store = Store(root)
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if phase == "mid-file":            # half a file written, never moved into place
    def partial(path, data, _orig=store._atomic_write):
        if path.name.startswith(store.key("vector", i=at)):
            tmp = store.emb_dir / ".partial" / (path.stem + ".x.part")
            tmp.write_bytes(data[: len(data) // 2])
            die()
        _orig(path, data)
    store._atomic_write = partial
elif phase == "after-file":        # file in place, its row never committed
    def placed(path, data, _orig=store._atomic_write):
        _orig(path, data)
        if path.name.startswith(store.key("vector", i=at)):
            die()
    store._atomic_write = placed
elif phase == "mid-commit":        # row inserted inside an open transaction, never committed
    def uncommitted(fn, _orig=store._transaction):
        def run(conn):
            out = fn(conn)
            if conn.execute("SELECT 1 FROM vectors WHERE key = ?", (store.key("vector", i=at),)).fetchone():
                die()                   # the row is inserted but the transaction never commits
            return out
        return _orig(run)
    store._transaction = uncommitted
print("ready", flush=True)
for i in range(first, last):
    trial = Trial("faults", "ds", f"c{i}", "a", "generation")
    kv, ks = store.key("vector", i=i), store.key("score", i=i)
    if not store.has_vector(kv):       # has_vector/numpy: the worker never imports torch, so it starts fast
        store.put_vector(kv, trial, np.full((1, 32), float(i)), {"i": i, "writer": tag})
    if store.get_score(ks) is None:
        store.put_score(ks, Score(trial, "generation", "in_domain", "generation_accuracy", i / 1000, {"w": tag}))
print("done", flush=True)
"""


def start(root, tag, first, last, *kill):
    cmd = [sys.executable, "-c", WORKER, str(root), tag, str(first), str(last), *map(str, kill)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_complete(root, n):
    store = Store(root)
    vectors = store.vectors()
    assert sorted(int(meta["i"]) for _, _, meta in vectors) == list(range(n))  # each exactly once
    for key, _, meta in vectors:
        tensor, _ = store.get_vector(key)  # every row's file loads
        assert torch.equal(tensor, torch.full((1, 32), float(meta["i"])))
        assert key == store.key("vector", i=meta["i"])
    scores = store.scores("faults")
    assert sorted(round(s.value * 1000) for s in scores) == list(range(n))
    assert not [p for p in store.verify() if p.startswith("vector ")]  # no row with a bad file
    conn = sqlite3.connect(root / "results.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM vectors WHERE file LIKE '%.part%'").fetchone()[0] == 0
    assert {p.suffix for p in (root / "embeddings").glob("*") if p.is_file()} <= {".safetensors"}


def test_sigkill_at_every_dangerous_point_then_resume(tmp_path):
    root, n = tmp_path / "store", 600
    rng = random.Random(1234)
    for phase, at in [("mid-file", 7), ("after-file", 19), ("mid-commit", 31)]:
        proc = start(root, phase, 0, n, phase, at)
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    for _ in range(2):  # and at random moments
        proc = start(root, "random", 0, n)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.02, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    partial_before = Store(root).vectors()
    assert 0 < len(partial_before) < n  # the kills interrupted the work
    proc = start(root, "final", 0, n)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    check_complete(root, n)
    # finished records were not redone: rows written before the resume keep their first writer
    writers = {k: meta["writer"] for k, _, meta in Store(root).vectors()}
    assert all(writers[k] == meta["writer"] for k, _, meta in partial_before)


def test_two_concurrent_writers(tmp_path):
    root = tmp_path / "store"
    a, b = start(root, "A", 0, 150), start(root, "B", 50, 200)  # overlap 50..150 on purpose
    for proc in (a, b):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.split() == ["ready", "done"]
    check_complete(root, 200)
