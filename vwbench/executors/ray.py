"""The Ray executor: a study's learning and evaluation chunks as tasks of Ray actors, one pool per task model.

Each actor (a `VWBenchWorker` process) loads its task model once and keeps it for the run; a learning chunk
(K words of one task model on one dataset) or an evaluation chunk (K words in one task model) is one actor
call. The driver keeps the store: workers return vectors and scores, the driver writes them, so keys, resume
and tables are those of a local run. A worker that dies is restarted and its chunk retried (Ray's
`max_restarts` / `max_task_retries`); a driver that dies leaves the store as a killed local run does.

The study's jobs (one per dataset and task model) run as driver threads that take turns: a thread holds the
executor's lock while it runs study code and lets go only while it waits for Ray, so the study's state is
never touched by two threads at once and fits are computed once per (method, direction).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import defaultdict
from types import SimpleNamespace

import torch

from vwbench.errors import VWBenchError
from vwbench.executors.ray_worker import PROGRESS_S, Progress, VWBenchWorker, fingerprint

INSTALL = 'pip install "vwbench[ray]"'
# settings of this process that the workers get too (paths are not: a cluster node has its own)
ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "HF_HUB_OFFLINE")
START_WARN_S = 60.0  # an actor still not started after this long: say which resources it waits for


def import_ray():
    """The `ray` module, or a one-line error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise VWBenchError(f"--executor ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


class _Aborted(Exception):
    """Another job failed: this one stops at its next wait."""


class RemoteModel:
    """The driver's view of one task model's actor pool: what the study reads of a TaskModel (its vocabulary,
    metric name and provenance come from the first actor), plus least-loaded dispatch of chunks."""

    device = torch.device("cpu")  # vectors stay on the driver's CPU; workers move them to their device

    def __init__(self, executor: RayExecutor, task, actors: list):
        self.executor, self.task, self.actors = executor, task, actors
        self.info_refs = [a.info.remote(vocabulary=(i == 0)) for i, a in enumerate(actors)]
        self.inflight = [0] * len(actors)
        self._info: dict | None = None
        self._verified: dict[int, dict] = {}
        self._mine: dict | None = None

    @property
    def info(self) -> dict:
        if self._info is None:
            self._info = self.verify(0)
        return self._info

    def verify(self, i: int) -> dict:
        """Actor i's info, once checked to compute what this driver's keys say (same code, same weights)."""
        if i not in self._verified:
            info = self.executor.get(self.info_refs[i], f"starting the worker of {self.task.name}", start=True)
            if self._mine is None:
                self._mine = fingerprint(self.task, self.executor.device.type)
            mine = self._mine
            if info["fingerprint"] != mine:
                differ = sorted(k for k in mine if info["fingerprint"].get(k) != mine[k])
                raise VWBenchError(
                    f"the Ray worker of {self.task.name} on {info['node']} runs other vwbench code or "
                    f"model weights than this driver ({', '.join(differ)} differ); install the same "
                    "vwbench on every node"
                )
            self._verified[i] = info
        return self._verified[i]

    @property
    def loaded(self):
        return SimpleNamespace(provenance=self.info["provenance"])

    @property
    def metric_name(self) -> str:
        return self.info["metric_name"]

    def vocabulary(self):
        return self.info["vocabulary"]

    def submit(self, method: str, *args):
        """(actor index, object ref) of a call to the least busy actor."""
        i = min(range(len(self.actors)), key=lambda j: self.inflight[j])
        self.inflight[i] += 1
        return i, getattr(self.actors[i], method).remote(*args)


class RayExecutor:
    """Runs a study's chunks on a Ray cluster (or a local Ray started here); the driver writes the store."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: dict | int | None = None, max_retries: int = 3):
        """`address`: a running cluster (`auto`, `ray://host:10001`, host:port), else the cluster of an
        initialised Ray session, else a local Ray started here. `workers`: actors per task model, an int for
        all or {task name or kind: n} (default 1 each)."""
        self.ray = import_ray()
        self.address, self.max_retries = address, max_retries
        self.workers = workers if isinstance(workers, dict) else {"*": workers or 1}
        self.device: torch.device | None = None
        self.pools: dict[str, RemoteModel] = {}
        self._refs: dict[int, tuple] = {}  # id(data) -> (data, object ref)
        self._lock = threading.Lock()
        self._held = threading.local()
        self._abort = False
        self._owns_ray = False
        self._progress = None  # the Progress actor, started with the first learning chunk
        self._chunks = 0
        self._reported: dict[int, int] = {}  # learning chunk -> word-steps the bar has been moved by
        self.stats: dict = defaultdict(lambda: {"learn": 0, "evaluate": 0, "seconds": 0.0, "pids": []})
        self._connect()

    # ---- cluster ----------------------------------------------------------------------------------------

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        env = {k: os.environ[k] for k in ENV if k in os.environ}
        try:
            ray.init(
                address=self.address,
                runtime_env={"env_vars": env} if env else None,
                include_dashboard=False if self.address is None else None,
                logging_level="warning",
                log_to_driver=True,
            )
        except ConnectionError as exc:
            raise VWBenchError(f"cannot connect to the Ray cluster at {self.address}: {exc}") from None
        self._owns_ray = True

    def resolve_device(self, device: str | None) -> torch.device:
        """`--device`, else cuda when the cluster has GPUs; checked on the workers, not on this machine."""
        if device is None:
            device = "cuda" if self.ray.cluster_resources().get("GPU", 0) > 0 else "cpu"
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise VWBenchError(f"unknown device {device!r} (use cpu or cuda)") from None
        if dev.type not in ("cpu", "cuda"):
            raise VWBenchError(f"unsupported device {device!r} (use cpu or cuda)")
        if dev.type == "cuda" and self.ray.cluster_resources().get("GPU", 0) == 0:
            raise VWBenchError(f"device {device!r} requested but the Ray cluster has no GPUs (use --device cpu)")
        self.device = torch.device(dev.type)  # each worker sees its own GPUs as cuda:0...
        return dev

    def n_workers(self, task) -> int:
        for k in (task.name, task.task, "*"):
            if k in self.workers:
                return max(1, int(self.workers[k]))
        return 1

    def actor_options(self, task, n_actors: int) -> dict:
        """Ray resource requests of one worker of `task`: the task spec's `resources:` block, else a share of
        the cluster's GPUs (on cuda: one each when there are enough, else an equal fraction)."""
        res = dict(getattr(task, "resources", None) or {})
        opts = {"max_restarts": self.max_retries, "max_task_retries": self.max_retries, "max_concurrency": 1}
        if "num_gpus" in res:
            opts["num_gpus"] = res["num_gpus"]
        elif self.device.type == "cuda":
            gpus = self.ray.cluster_resources().get("GPU", 0)
            opts["num_gpus"] = 1 if gpus >= n_actors else max(0.01, int(gpus / n_actors * 100) / 100)
        if "num_cpus" in res:
            opts["num_cpus"] = res["num_cpus"]
        if "memory_gb" in res:
            opts["memory"] = int(res["memory_gb"] * 2**30)
        return opts

    def _pools(self, tasks) -> None:
        """Start the actor pools of `tasks` that have none yet (models load on the workers meanwhile)."""
        new = list({t.name: t for t in tasks if t.name not in self.pools}.values())
        total = sum(self.n_workers(t) for t in [p.task for p in self.pools.values()] + new)
        cls = self.ray.remote(VWBenchWorker)
        for task in new:
            opts = self.actor_options(task, total)
            actors = [cls.options(**opts).remote(task, self.device.type) for _ in range(self.n_workers(task))]
            self.pools[task.name] = RemoteModel(self, task, actors)

    def build_model(self, task, device):
        self._pools([task])
        pool = self.pools[task.name]
        pool.info  # noqa: B018 - waits until the first worker has loaded the model
        return pool

    def _put(self, data):
        if id(data) not in self._refs:
            self._refs[id(data)] = (data, self.ray.put(data))
        return [self._refs[id(data)][1]]

    # ---- waiting ----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _waiting(self):
        """Let the other jobs run while this one waits for Ray."""
        held = getattr(self._held, "value", False)
        if held:
            self._lock.release()
        try:
            yield
        finally:
            if held:
                self._lock.acquire()
            if self._abort and held:
                raise _Aborted()

    def get(self, ref, where: str, start: bool = False):
        """The value of `ref`; a failed chunk or a dead worker (retries spent) as one VWBenchError line."""
        ray = self.ray
        warned = False
        try:
            if start:  # the first call of an actor: say so when the cluster lacks the resources to start it
                while not ray.wait([ref], timeout=START_WARN_S)[0] and not warned:
                    from tqdm.auto import tqdm

                    tqdm.write(
                        f"vwbench: {where}: not ready after {START_WARN_S:.0f}s (loading its model, or waiting "
                        f"for resources: the cluster has {ray.available_resources()} free; docs/ray.md, "
                        "`resources:`)"
                    )
                    warned = True
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, VWBenchError):
                raise cause from None
            raise VWBenchError(
                f"{where}: {type(cause).__name__ if cause else 'error'}: {str(cause or exc).strip().splitlines()[-1]}"
            ) from None
        except ray.exceptions.RayActorError as exc:
            text = str(exc).strip().splitlines()
            raise VWBenchError(
                f"{where}: the Ray worker died and could not be restarted ({text[0] if text else type(exc).__name__})"
            ) from None

    def _record(self, pool: RemoteModel, i: int, kind: str, stats: dict) -> None:
        pool.verify(i)  # before its results are used
        s = self.stats[(pool.task.name, i)]
        s[kind] += 1
        s["seconds"] += stats["seconds"]
        if stats["pid"] not in s["pids"]:
            s["pids"].append(stats["pid"])

    # ---- the study's interface --------------------------------------------------------------------------

    def map(self, fn, jobs: list) -> None:
        """Run every job in its own driver thread (taking turns, see the module docstring); jobs that learn in
        the generation model start first, their chunks being the longest. The first error stops the others."""
        jobs = sorted(jobs, key=lambda j: j.task.task != "generation")
        self._pools([j.task for j in jobs])
        errors: list[BaseException] = []

        def run(job):
            with self._lock:
                self._held.value = True
                try:
                    if not self._abort:
                        fn(job)
                except _Aborted:
                    pass
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                    errors.append(exc)
                    self._abort = True
                finally:
                    self._held.value = False

        threads = [
            threading.Thread(target=run, args=(j,), daemon=True, name=f"vwbench-{j.dataset.name}-{j.task.name}")
            for j in jobs
        ]
        try:
            for t in threads:
                t.start()
            for t in threads:
                while t.is_alive():
                    t.join(0.5)
        except BaseException:  # Ctrl-C: stop the jobs at their next wait, and keep them from the store
            self._abort = True
            self._lock.acquire()
            raise
        if errors:
            raise errors[0]

    def learn(self, model: RemoteModel, data, trials, cfg, progress=None):
        """Every chunk of K trials submitted at once; results as chunks finish (any order). `progress(n)` as
        the workers report n word-steps done (about every second), the rest when a chunk comes back."""
        k = max(1, cfg.concepts_per_batch)
        ref = self._put(data)
        if self._progress is None:
            self._progress = self.ray.remote(Progress).options(num_cpus=0).remote()
        pending = {}
        for start in range(0, len(trials), k):
            chunk = trials[start : start + k]
            self._chunks += 1
            self._reported[self._chunks] = [0, len(chunk) * cfg.steps]
            i, out = model.submit("learn", data.name, ref, chunk, cfg, self._chunks, self._progress)
            pending[out] = (i, self._chunks)
        while pending:
            with self._waiting():
                done, _ = self.ray.wait(list(pending), num_returns=1, timeout=PROGRESS_S)
                counts = {} if done else self._take()
            self._report_steps(counts, progress)
            if not done:
                continue
            i, chunk_id = pending.pop(done[0])
            model.inflight[i] -= 1
            results, stats = self.get(done[0], f"learning in {model.task.name} on {data.name}")
            self._record(model, i, "learn", stats)
            reported, total = self._reported.pop(chunk_id)
            if progress is not None:
                progress(total - reported)
            yield from results

    def _take(self) -> dict:
        try:
            return self.ray.get(self._progress.take.remote(), timeout=10)
        except Exception:  # noqa: BLE001 - progress is best effort: the chunk's results move the bar anyway
            return {}

    def _report_steps(self, counts: dict, progress) -> None:
        """Move the bar by the word-steps of chunks still running (a late report of a finished one is dropped)."""
        for chunk_id, n in counts.items():
            if chunk_id in self._reported:
                done, total = self._reported[chunk_id]
                n = min(n, total - done)  # a retried chunk reports its steps again
                self._reported[chunk_id][0] += n
                if progress is not None and n:
                    progress(n)

    def evaluate(self, model: RemoteModel, data, batches):
        """Every batch submitted at once; the results of each, in order."""
        ref = self._put(data)
        pending = [
            model.submit("evaluate", data.name, ref, v.cpu(), list(ids), list(concepts)) for v, ids, concepts in batches
        ]
        for i, out in pending:
            while True:
                with self._waiting():  # a second at a time: a failed job elsewhere stops this one soon
                    if self.ray.wait([out], timeout=PROGRESS_S)[0]:
                        break
            model.inflight[i] -= 1
            results, stats = self.get(out, f"evaluating in {model.task.name} on {data.name}")
            self._record(model, i, "evaluate", stats)
            yield results

    def report(self) -> list[str]:
        """One line per worker: where it ran, its chunks, its busy time, restarts (a new process id)."""
        lines = []
        for name, pool in self.pools.items():
            for i, ref in enumerate(pool.info_refs):
                s = self.stats.get((name, i), {"learn": 0, "evaluate": 0, "seconds": 0.0, "pids": []})
                pids = list(s["pids"])
                try:
                    info = self.ray.get(ref, timeout=5)
                    where = f"pid {info['pid']} on {info['node']}, {info['device']}, loaded in {info['load_s']:.1f}s"
                    pids = [info["pid"], *pids]
                except Exception:  # noqa: BLE001 - a summary line, not a failure
                    where = "not started"
                restarts = len(set(pids)) - 1 if pids else 0
                lines.append(
                    f"worker {name}#{i} ({where}): {s['learn']} learning + {s['evaluate']} evaluation "
                    f"chunks, {s['seconds']:.1f}s busy" + (f", restarted {restarts}x" if restarts else "")
                )
        return lines

    def close(self) -> None:
        """Stop this run's actors (and the Ray this executor started)."""
        for pool in self.pools.values():
            for actor in pool.actors:
                with contextlib.suppress(Exception):
                    self.ray.kill(actor, no_restart=True)
        if self._progress is not None:
            with contextlib.suppress(Exception):
                self.ray.kill(self._progress)
            self._progress = None
        self.pools.clear()
        self._refs.clear()
        if self._owns_ray:
            self.ray.shutdown()
            self._owns_ray = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
