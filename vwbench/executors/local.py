"""The local executor: every job in this process, one after another, in the study's order (today's loop)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Job:
    """The work of one (dataset, task model): learn its words there, then score them in every task model."""

    dataset: object  # DatasetSpec
    data: object  # its loaded ConceptDataset
    task: object  # the TaskSpec the words are learned in


class LocalExecutor:
    """Runs everything in the calling process; the reference every other executor must match. Words are learned
    by the study itself, chunk by chunk with its out-of-memory back-off (`Study.learn_chunk`); only an executor
    that learns elsewhere implements `learn(model, data, trials, cfg, progress)`."""

    name = "local"

    def resolve_device(self, device: str | None) -> torch.device:
        from vwbench.models.factory import resolve_device

        return resolve_device(device)

    def build_model(self, task, device):
        from vwbench.models.factory import build_task_model

        return build_task_model(task, device)

    def map(self, fn, jobs: list[Job]) -> None:
        for job in jobs:
            fn(job)

    def evaluate(self, model, data, batches):
        """For each batch (vectors [K, n, d], placeholder ids, concepts), in order: the model's K results."""
        for vectors, ids, concepts in batches:
            with torch.no_grad():
                yield model.evaluate(vectors.to(model.device), ids, concepts, data)

    def report(self) -> list[str]:
        """Lines summarising where the work ran (nothing for the local executor)."""
        return []

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
