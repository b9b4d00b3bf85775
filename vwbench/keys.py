"""What a stored result depends on, as the dicts its keys are made of: a task's model (`model_id`) and a dataset
(`dataset_id`). The study keys vectors and scores with them; a remote worker checks it holds the same model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from vwbench.spec import DatasetSpec, ModelRef, TaskSpec


def model_id(task: TaskSpec, device_type: str | None = None) -> dict:
    """Everything a task's results depend on: its spec (with the dtype used on `device_type`, all of them when
    None), the adapter and loader code (`fingerprint.model_code`); shipped micro models add their weights' hashes."""
    from vwbench import fingerprint

    refs = [task.model] + ([ModelRef(**task.evaluator["model"])] if task.evaluator else [])
    key = {
        "task": task.name,
        "kind": task.task,
        "id": task.model.id,
        "revision": task.model.revision,
        "template": task.template,
        "image_size": task.image_size,
        "loss": task.loss,
        # all of it, `table` too: each stored score records which secondaries its tables show (extra.table)
        "metric": task.metric,
        "evaluator": task.evaluator,
        "dtype": task.dtype if device_type is None else task.dtype.get(device_type, "float32"),
        "code": fingerprint.model_code(
            task.task,
            [r.id for r in refs if r.is_builtin],
            [task.family] + ([task.evaluator["family"]] if task.evaluator else []),
        ),
    }
    if any(r.is_micro for r in refs):
        from vwbench.models.zoo import weights_sha256

        key["weights"] = [w for w in (weights_sha256(r) for r in refs if r.is_micro) if w is not None]
    return key


# What scoring reads and learning does not: a learned vector, an anchor's embedding and a fitted map depend on the
# task model (weights, loss, template, size, dtype, code), never on how its outputs are scored.
SCORING_ONLY = ("metric", "evaluator")


def learner_id(task: TaskSpec, device_type: str | None = None) -> dict:
    """`model_id` without the scoring settings (SCORING_ONLY) and the evaluator's weights: what keys of learned
    vectors, anchor words and transfer fits hold, so that a change to the metric rescores words, not relearns them."""
    key = model_id(dataclasses.replace(task, evaluator=None), device_type)
    for k in SCORING_ONLY:
        key.pop(k, None)
    return key


def dataset_id(ds: DatasetSpec, manifest: str | None) -> dict:
    """A dataset's spec, the data code, and the CONTENT hash of its manifest (which holds every image's sha256)
    when it is read from one; the manifest's path is not part of it (the run metadata records it)."""
    from vwbench import fingerprint
    from vwbench.data.formats import is_rendered

    reads_manifest = not is_rendered(ds)
    return {
        "name": ds.name,
        "source": ds.source,
        "split": ds.split,
        "manifest_sha256": fingerprint.file_digest(manifest)
        if reads_manifest and manifest and Path(manifest).is_file()
        else None,
        "concepts": [dataclasses.asdict(c) for c in ds.concepts],
        "code": fingerprint.code("data"),
    }
