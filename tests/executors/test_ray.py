"""`vwbench run --executor ray` on a local Ray cluster (2 CPUs, one session for the module) against the local
executor, cell by cell: a plain run, a worker killed while it holds a chunk, a driver SIGKILLed mid-run and
rerun; and the one-line error when Ray is not installed."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vwbench.cli import main

SPECS = Path(__file__).resolve().parents[2] / "vwbench" / "specs"
# 3 concepts learned in 3 task models, 2 words per learning chunk; controls: the anchor only (no extra fits)
SUITE = """
name: raymini
tasks: [tiny-generation, tiny-detection, tiny-classification]
datasets: [tiny-objects]
anchors: own
train: {steps: 2, lr: 0.05, batch_size: 4, seed: 0, concepts_per_batch: 2}
controls: [anchor]
"""
N_VECTORS = 3 * 3
# per trained task: in-domain 3 + anchor 3; per other evaluated task: linear_transfer 3 + anchor+linear_transfer 3
N_SCORES = 3 * (3 + 3 + 2 * (3 + 3))
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def ray_address():
    """One local Ray cluster for the module (2 CPUs, no dashboard, one thread per worker); its address."""
    ray = pytest.importorskip("ray", reason='the Ray executor needs pip install "vwbench[ray]"')
    # Ray >= 2.59 authenticates drivers with a token: a fixed one lets the drivers started below connect
    token = os.environ.get("RAY_AUTH_TOKEN")
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(16)
    try:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", runtime_env={"env_vars": THREADS})
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        if token is None:
            os.environ.pop("RAY_AUTH_TOKEN", None)
        else:
            os.environ["RAY_AUTH_TOKEN"] = token


@pytest.fixture(scope="module")
def specs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("specs")
    shutil.copytree(SPECS, root, dirs_exist_ok=True)
    (root / "suites" / "raymini.yaml").write_text(SUITE)
    return root


def run_args(specs, store, out, *extra) -> list[str]:
    return [
        "--specs",
        str(specs),
        "run",
        "--suite",
        "raymini",
        "--store",
        str(store),
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


@pytest.fixture(scope="module")
def local_tables(specs, tmp_path_factory) -> dict:
    """results.json of the local executor: the reference every Ray run must equal."""
    from vwbench import SpecLibrary, Store, Study, StudyOptions, build_leaderboard

    base = tmp_path_factory.mktemp("local")
    with Store(base / "store") as st:
        study = Study(SpecLibrary(specs).suite("raymini"), st, StudyOptions(progress=True))
        study.run()
        build_leaderboard(st, "raymini", base / "lb")
    # the bar ends at its total: every word-step (2 per word), the 6 fits and every score, once
    assert study.bar.n == study.bar.total == N_VECTORS * 2 + 6 + N_SCORES
    return json.loads((base / "lb" / "results.json").read_text())


def tables(out: Path) -> dict:
    """results.json without what names the run itself (dates, run ids)."""
    doc = json.loads((out / "results.json").read_text())
    doc["provenance"] = {k: v for k, v in doc["provenance"].items() if k not in ("date", "runs")}
    return doc


def assert_equal_tables(out: Path, local: dict) -> None:
    got = tables(out)
    ref = {**local, "provenance": {k: v for k, v in local["provenance"].items() if k not in ("date", "runs")}}
    assert got["cells"] == ref["cells"]  # cell by cell: means, CIs, n, chance, secondary metrics
    assert got == ref


def rows(store: Path, sql: str) -> list:
    with sqlite3.connect(store / "results.sqlite") as db:
        return db.execute(sql).fetchall()


def stored_scores(store: Path) -> int:
    """Scores in a store a running driver may still be creating (0 until its tables exist)."""
    try:
        return rows(store, "SELECT COUNT(*) FROM scores")[0][0] if (store / "results.sqlite").exists() else 0
    except sqlite3.OperationalError:
        return 0


def assert_every_key_once(store: Path) -> None:
    for table, n in (("vectors", N_VECTORS), ("scores", N_SCORES)):
        assert rows(store, f"SELECT COUNT(*), COUNT(DISTINCT key) FROM {table}") == [(n, n)]


def driver(specs, store, out, address) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "vwbench", *run_args(specs, store, out, "--executor", "ray", "--ray-address", address)]
    return subprocess.Popen(
        cmd, env={**os.environ, **THREADS}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def busy_workers() -> list[int]:
    """Process ids of the Ray workers running a chunk now (Ray titles them `ray::VWBenchWorker.<method>`)."""
    out = []
    for proc in Path("/proc").iterdir():
        try:
            title = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if title.startswith(("ray::VWBenchWorker.learn", "ray::VWBenchWorker.evaluate")):
            out.append(int(proc.name))
    return out


def test_ray_executor_gives_the_local_tables(ray_address, specs, local_tables, tmp_path):
    from vwbench import SpecLibrary, Store, Study, StudyOptions, build_leaderboard
    from vwbench.executors.ray import RayExecutor

    store, out = tmp_path / "store", tmp_path / "lb"
    with Store(store) as st, RayExecutor() as executor:
        study = Study(SpecLibrary(specs).suite("raymini"), st, StudyOptions(executor=executor, progress=True))
        study.run()
        workers = executor.report()
        build_leaderboard(st, "raymini", out)
    assert_equal_tables(out, local_tables)
    assert_every_key_once(store)
    # one bar over the cluster: every word-step (2 per word), the 6 fits and every score, no more
    assert study.bar.n == study.bar.total == N_VECTORS * 2 + 6 + N_SCORES
    # one actor per task model, each loaded once and given its chunks: 3 words, 2 per chunk
    assert len(workers) == 3 and all("restarted" not in w for w in workers)
    assert all(" 2 learning" in w for w in workers), workers


def test_a_worker_killed_while_it_holds_a_chunk_is_restarted_and_the_run_completes(
    ray_address, specs, local_tables, tmp_path
):
    store, out = tmp_path / "store", tmp_path / "lb"
    proc = driver(specs, store, out, ray_address)
    killed, deadline = None, time.time() + 1200  # a loaded machine can take minutes to start the workers
    while killed is None and proc.poll() is None and time.time() < deadline:
        busy = busy_workers()
        if busy:
            os.kill(busy[0], signal.SIGKILL)
            killed = busy[0]
        time.sleep(0.05)
    text, _ = proc.communicate(timeout=300)
    assert killed is not None, text
    assert proc.returncode == 0, text
    assert "restarted 1x" in text
    assert_every_key_once(store)
    assert len({r for (r,) in rows(store, "SELECT run_id FROM scores")}) == 1
    assert_equal_tables(out, local_tables)


def test_a_killed_driver_resumes_from_the_store(ray_address, specs, local_tables, tmp_path, capsys):
    store, out = tmp_path / "store", tmp_path / "lb"
    proc = driver(specs, store, out, ray_address)
    deadline = time.time() + 1200
    while time.time() < deadline and proc.poll() is None:
        if stored_scores(store) >= 10:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = {k for (k,) in rows(store, "SELECT key FROM scores")}
    assert 0 < len(before) < N_SCORES

    assert main(run_args(specs, store, out, "--executor", "ray")) == 0
    capsys.readouterr()
    assert_every_key_once(store)
    # what the killed driver stored is kept, not computed again
    (first,) = {r for (k, r) in rows(store, "SELECT key, run_id FROM scores") if k in before}
    assert rows(store, f"SELECT COUNT(*) FROM scores WHERE run_id != '{first}'")[0][0] == N_SCORES - len(before)
    assert_equal_tables(out, local_tables)


def test_without_ray_the_executor_is_one_line_naming_the_extra(specs, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    store = tmp_path / "store"
    rc = main(run_args(specs, store, tmp_path / "lb", "--executor", "ray"))
    err = capsys.readouterr().err
    assert rc != 0
    assert err.strip().count("\n") == 0 and 'pip install "vwbench[ray]"' in err and "Traceback" not in err
    assert not store.exists()


def test_ray_options_without_the_ray_executor_are_an_error(specs, tmp_path, capsys):
    rc = main(run_args(specs, tmp_path / "store", tmp_path / "lb", "--ray-workers", "2"))
    err = capsys.readouterr().err
    assert rc != 0 and "--executor ray" in err and err.strip().count("\n") == 0


def test_task_resources_are_validated_and_become_the_workers_requests(ray_address, specs, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from vwbench.errors import SpecError
    from vwbench.executors.ray import RayExecutor
    from vwbench.spec import SpecLibrary

    root = tmp_path / "specs"
    shutil.copytree(specs, root)
    task = root / "tasks" / "tiny-detection.yaml"
    task.write_text(task.read_text() + "resources: {num_gpus: 0.5, num_cpus: 2, memory_gb: 1.5}\n")
    spec = SpecLibrary(root).task("tiny-detection")
    assert spec.resources == {"num_gpus": 0.5, "num_cpus": 2, "memory_gb": 1.5}
    # resources are not part of what results depend on
    from vwbench.keys import model_id

    assert model_id(spec, "cpu") == model_id(SpecLibrary(specs).task("tiny-detection"), "cpu")

    ex = RayExecutor()
    ex.resolve_device("cpu")
    assert ex.actor_options(spec, 3) == {
        "max_restarts": 3,
        "max_task_retries": 3,
        "max_concurrency": 1,
        "num_gpus": 0.5,
        "num_cpus": 2,
        "memory": int(1.5 * 2**30),
    }
    plain = SpecLibrary(specs).task("tiny-classification")
    assert "num_gpus" not in ex.actor_options(plain, 3)
    # on cuda without a resources block: one GPU each when there are enough, else an equal share
    ex.device = torch_device("cuda")
    for gpus, n, want in ((4, 3, 1), (1, 3, 0.33), (2, 4, 0.5)):
        monkeypatch.setattr(ex, "ray", SimpleNamespace(cluster_resources=lambda g=gpus: {"GPU": g}))
        assert ex.actor_options(plain, n)["num_gpus"] == want

    task.write_text(task.read_text().replace("num_gpus: 0.5", "num_gpus: -1"))
    with pytest.raises(SpecError, match="resources.num_gpus"):
        SpecLibrary(root).task("tiny-detection")


def torch_device(name: str):
    import torch

    return torch.device(name)


def test_a_worker_with_other_code_than_the_driver_is_refused(ray_address, specs, tmp_path, monkeypatch, capsys):
    import vwbench.executors.ray as ray_executor

    real = ray_executor.fingerprint
    monkeypatch.setattr(ray_executor, "fingerprint", lambda task, device: {**real(task, device), "learn": "other"})
    rc = main(run_args(specs, tmp_path / "store", tmp_path / "lb", "--executor", "ray", "--task", "classification"))
    err = capsys.readouterr().err
    assert rc != 0 and "runs other vwbench code" in err and "(learn differ)" in err
    assert err.strip().count("\n") == 0
    assert rows(tmp_path / "store", "SELECT COUNT(*) FROM scores") == [(0,)]
