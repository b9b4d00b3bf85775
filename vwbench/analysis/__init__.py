"""The paper's analyses of learned words (PROTOCOL.md section 10): `truncation` (generate and score with the
generation model's text encoder cut after N blocks) and `layers` (per-layer pooled activations of prompts with
learned words and their anchors in every text tower: linear-probe decodability and a 2-D embedding).

Both work on the words of a suite's store: `words()` runs the selected part of the suite in-domain only (no
transfers, no controls) into the same store, so stored words are reused and missing ones learned with the
suite's own keys (a later `vwbench run` reuses them too).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from vwbench.errors import VWBenchError


@dataclass
class Words:
    """The learned words of one task model on one dataset, with their anchors' own embeddings."""

    task: object  # TaskSpec
    model: object  # TaskModel
    data: object  # ConceptDataset
    trials: list  # Trial per word
    learned: torch.Tensor  # [K, n, d]
    anchors: torch.Tensor  # [K, n, d]: the untrained anchor word of each trial


def words(suite, store, select, device: str | None = None, progress: bool = True) -> tuple[object, list[Words]]:
    """Learn (or reuse) the unconstrained words of the selected trials and return them per task and dataset."""
    from vwbench.data.manifest import load_dataset
    from vwbench.study import Study, StudyOptions
    from vwbench.tokenizer import single_token_id

    study = Study(
        suite,
        store,
        StudyOptions(methods=[], deltas=(), controls=False, select=select, device=device, progress=progress),
    )
    summary = study.run()
    if summary.failures:
        raise VWBenchError(f"learning the words failed: {summary.failures[0]}")
    out = []
    for ds in select.dataset_specs(suite):
        data = load_dataset(ds, study.opt.data.get(ds.name) or suite.data.get(ds.name))
        ds_id = study.depends["datasets"][ds.name]
        for task in study.tasks:
            got = [(tr, v) for tr, _, v in study.learn_vectors(ds, data, task, ds_id) if tr.delta is None]
            if not got:
                continue
            table = study.vocabulary(task).table
            anchors = torch.stack([table[single_token_id(tr.anchor)].float().repeat(v.shape[0], 1) for tr, v in got])
            out.append(
                Words(
                    task,
                    study.model(task),
                    data,
                    [tr for tr, _ in got],
                    torch.stack([v.float() for _, v in got]),
                    anchors,
                )
            )
    return study, out


def out_dir(store_root, suite: str, name: str):
    from pathlib import Path

    return Path(store_root) / "analysis" / suite / name


def with_metric(model, **metric) -> None:
    """Override the task model's metric settings (e.g. images per word) for this analysis only."""
    model.spec = dataclasses.replace(model.spec, metric={**model.spec.metric, **metric})
