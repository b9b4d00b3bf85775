"""`vwbench run` / `probe` end to end on a mini suite of the tiny zoo: results, resume, kill-and-resume, errors."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from vwbench.cli import main

REPO = Path(__file__).resolve().parents[2]
# 3 concepts x (unconstrained + one delta) x 3 trained-for tasks x 3 evaluated tasks
N_SCORES = 3 * 2 * 3 * 3


def run_cli(specs, *args) -> int:
    return main(["--specs", str(specs), *args])


def n_rows(store: Path, table: str) -> int:
    with sqlite3.connect(store / "results.sqlite") as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_run_writes_matrix_and_leaderboard_then_resumes_without_work(specs, tmp_path, capsys):
    store, out = tmp_path / "store", tmp_path / "lb"
    args = ["run", "--suite", "mini", "--store", str(store), "--out", str(out), "--no-progress"]
    assert run_cli(specs, *args) == 0
    text = capsys.readouterr().out
    assert "tiny-objects (linear_transfer" in text and "trained \\ evaluated" in text
    doc = json.loads((out / "results.json").read_text())
    assert doc["n_scores"] == N_SCORES
    first = (out / "results.json").read_bytes()

    assert run_cli(specs, *args) == 0
    text = capsys.readouterr().out
    assert "computed nothing" in text and f"reused {18} vectors, {N_SCORES} scores" in text
    assert (out / "results.json").read_bytes() == first


def test_probe_runs_only_the_delta_ball(specs, tmp_path, capsys):
    store = tmp_path / "store"
    assert (
        run_cli(
            specs,
            "probe",
            "--suite",
            "mini",
            "--deltas",
            "0.5",
            "--store",
            str(store),
            "--out",
            str(tmp_path / "lb"),
            "--no-progress",
        )
        == 0
    )
    capsys.readouterr()
    with sqlite3.connect(store / "results.sqlite") as db:
        metas = [json.loads(m) for (m,) in db.execute("SELECT meta_json FROM vectors")]
    assert metas and all(m["delta"] == 0.5 for m in metas)
    # projected after every step: never further from the anchor than δ·d_nn
    assert all(m["anchor_distance"] <= 0.5 + 1e-5 for m in metas)
    assert all(m["nearest_token"] for m in metas)


def test_unknown_method_is_one_line_error_and_writes_no_scores(specs, tmp_path, capsys):
    store = tmp_path / "store"
    rc = run_cli(specs, "run", "--suite", "mini", "--method", "linear_transfr", "--store", str(store), "--no-progress")
    err = capsys.readouterr().err
    assert rc != 0 and "linear_transfer" in err and "Traceback" not in err
    assert not (store / "results.sqlite").exists() or n_rows(store, "scores") == 0


def test_killed_run_resumes_with_every_record_once(specs, tmp_path):
    store, out = tmp_path / "store", tmp_path / "lb"
    cmd = [
        sys.executable,
        "-m",
        "vwbench",
        "--specs",
        str(specs),
        "run",
        "--suite",
        "mini",
        "--store",
        str(store),
        "--out",
        str(out),
        "--no-progress",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (store / "results.sqlite").exists() and n_rows(store, "scores") >= 5:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = n_rows(store, "scores")
    assert 0 < done_before < N_SCORES
    assert subprocess.run(cmd, env=env, capture_output=True, check=False).returncode == 0
    assert n_rows(store, "scores") == N_SCORES
    with sqlite3.connect(store / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(DISTINCT key) FROM scores").fetchone()[0] == N_SCORES


BROKEN = """
import torch


class Broken:
    name = "broken"

    def fit(self, source, target):
        raise RuntimeError("this method always fails")

    def __call__(self, vectors):
        return vectors
"""


def test_a_failing_method_is_reported_and_the_others_complete(specs, tmp_path, capsys):
    sub = tmp_path / "broken"
    sub.mkdir()
    (sub / "broken.py").write_text(BROKEN)
    (sub / "submission.yaml").write_text(
        "name: broken\nkind: method\nversion: 0.1.0\nauthors: [test]\ndescription: fails in fit\nentry: broken.py:Broken\n"
    )
    store = tmp_path / "store"
    rc = run_cli(
        specs,
        "run",
        "--suite",
        "mini",
        "--no-deltas",
        "--method",
        "linear_transfer",
        "--method",
        str(sub),
        "--store",
        str(store),
        "--out",
        str(tmp_path / "lb"),
        "--no-progress",
    )
    _, err = capsys.readouterr()
    assert rc == 1
    assert "broken" in err and "always fails" in err and "Traceback" not in err
    with sqlite3.connect(store / "results.sqlite") as db:
        methods = dict(db.execute("SELECT method, COUNT(*) FROM scores GROUP BY method").fetchall())
    # 3 concepts x 3 in-domain evaluations, and 3 concepts x 6 directions transferred by the working method
    assert methods == {"in_domain": 9, "linear_transfer": 18}
