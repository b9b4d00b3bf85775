"""The worker side of the Ray executor (vwbench.executors.ray): the actor that holds one task model, and the
small actor its training steps are counted in. Imported on the workers; nothing here writes the store."""

from __future__ import annotations

import os
import time

import torch

PROGRESS_S = 1.0  # how often workers report training steps and the driver moves the bar


def fingerprint(task, device_type: str) -> dict:
    """What a worker's results depend on besides its inputs: the task's model id (spec, code, weights) and the
    learning code. The driver's keys assume its own; a worker with other code or weights would make them lie."""
    from vwbench import __version__
    from vwbench.fingerprint import code
    from vwbench.keys import model_id

    return {"version": __version__, "model": model_id(task, device_type), "learn": code("learn")}


class VWBenchWorker:
    """A Ray actor holding one task model (built once, on the device the driver chose) and the datasets it saw."""

    def __init__(self, task, device: str):
        from vwbench.models.factory import build_task_model

        self.fingerprint = fingerprint(task, torch.device(device).type)
        threads = os.environ.get("OMP_NUM_THREADS")
        if threads and threads.isdigit():
            torch.set_num_threads(int(threads))
        t = time.perf_counter()
        self.model = build_task_model(task, device)
        self.load_s = time.perf_counter() - t
        self.data: dict = {}

    def info(self, vocabulary: bool = False) -> dict:
        import ray

        return {
            "pid": os.getpid(),
            "node": ray.util.get_node_ip_address(),
            "load_s": self.load_s,
            "device": str(self.model.device),
            "metric_name": self.model.metric_name,
            "provenance": dict(getattr(self.model.loaded, "provenance", {}) or {}),
            "fingerprint": self.fingerprint,
            "vocabulary": self.model.vocabulary() if vocabulary else None,
        }

    def _dataset(self, name: str, ref: list):
        if name not in self.data:  # the ref comes wrapped in a list so that Ray does not resolve it per call
            import ray

            self.data[name] = ray.get(ref[0])
        return self.data[name]

    def learn(self, name: str, ref: list, trials: list, cfg, chunk: int, progress) -> tuple[list, dict]:
        """The chunk's LearnResults; word-steps done are sent to the `progress` actor about every second."""
        from vwbench.learn import learn

        t = last = time.perf_counter()
        unsent = 0

        def hook(vectors, step):
            nonlocal last, unsent
            unsent += vectors.shape[0]
            if time.perf_counter() - last >= PROGRESS_S:
                progress.add.remote(chunk, unsent)
                last, unsent = time.perf_counter(), 0

        out = list(learn(self.model, self._dataset(name, ref), trials, cfg, progress=False, step_hook=hook))
        return out, {"pid": os.getpid(), "seconds": time.perf_counter() - t}

    def evaluate(self, name: str, ref: list, vectors: torch.Tensor, ids: list, concepts: list) -> tuple[list, dict]:
        t = time.perf_counter()
        with torch.no_grad():
            out = self.model.evaluate(vectors.to(self.model.device), ids, concepts, self._dataset(name, ref))
        return out, {"pid": os.getpid(), "seconds": time.perf_counter() - t}


class Progress:
    """A small Ray actor: word-steps the workers have done per learning chunk, until the driver takes them."""

    def __init__(self):
        self.done: dict[int, int] = {}

    def add(self, chunk: int, n: int) -> None:
        self.done[chunk] = self.done.get(chunk, 0) + n

    def take(self) -> dict[int, int]:
        out, self.done = self.done, {}
        return out
