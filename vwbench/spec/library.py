"""All specs under one root folder (`tasks/`, `datasets/`, `suites/`; the file name is the spec's name), resolved
and validated on demand into typed objects."""

from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path

from vwbench.errors import SpecError
from vwbench.spec.documents import deep_merge, default_spec_root, read_yaml, validate_document
from vwbench.spec.types import (
    CONTROLS,
    DEFAULT_DTYPE,
    KINDS,
    SETTINGS,
    ConceptSpec,
    DatasetSpec,
    ModelRef,
    SuiteSpec,
    TaskSpec,
    TrainConfig,
)


class SpecLibrary:
    """All specs under one root folder, resolved and validated on demand."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_spec_root()
        if not self.root.is_dir():
            raise SpecError(self.root, "", "spec folder not found (set VWBENCH_SPECS or pass --specs)")

    def names(self, folder: str) -> list[str]:
        return sorted(p.stem for p in (self.root / folder).glob("*.yaml"))

    def path(self, folder: str, name: str) -> Path:
        return self.root / folder / f"{name}.yaml"

    def resolve(self, folder: str, name: str, referrer: tuple[str, str] | None = None, _seen=()) -> dict:
        """The document of `folder/name.yaml` with its `extends` chain merged in and validated."""
        path = self.path(folder, name)
        if not path.is_file():
            ref_file, ref_field = referrer or (str(path), "")
            known = ", ".join(self.names(folder)) or "none"
            raise SpecError(ref_file, ref_field, f"unknown {KINDS[folder]} {name!r} (known: {known})")
        doc = read_yaml(path)
        if name in _seen:
            raise SpecError(path, "extends", f"circular extends: {' -> '.join((*_seen, name))}")
        doc = self._extend(folder, doc, path, (*_seen, name))
        if doc["name"] != name:
            raise SpecError(path, "name", f"expected {name!r} (the file name), got {doc['name']!r}")
        return doc

    def _extend(self, folder: str, doc: dict, path: Path, seen: tuple) -> dict:
        """`doc` (read from `path`) with its `extends` chain, looked up in `folder` of this root, merged in."""
        if "extends" in doc:
            base = self.resolve(folder, doc["extends"], (str(path), "extends"), seen)
            base.pop("name", None)
            doc = deep_merge(base, {k: v for k, v in doc.items() if k != "extends"})
        validate_document(doc, KINDS[folder], path)
        return doc

    def task(self, name: str, referrer=None) -> TaskSpec:
        d = self.resolve("tasks", name, referrer)
        _check_names(d, self.path("tasks", name))
        model = ModelRef(**d["model"])
        if model.revision is None and not model.is_builtin:
            raise SpecError(self.path("tasks", name), "model.revision", "hub models need a pinned revision")
        from vwbench.withdrawn import withdrawn_message

        ids = {
            "model.id": model.id,
            "evaluator.model.id": (d.get("evaluator") or {}).get("model", {}).get("id"),
            "safety_checker.id": (d.get("safety_checker") or {}).get("id"),
        }
        for where, model_id in ids.items():
            if model_id and withdrawn_message(model_id):
                raise SpecError(self.path("tasks", name), where, withdrawn_message(model_id))
        return TaskSpec(
            name=d["name"],
            task=d["task"],
            family=d["family"],
            model=model,
            image_size=d["image_size"],
            template=d["template"],
            loss={**SETTINGS[d["task"]]["loss"], **d.get("loss", {})},
            metric={**SETTINGS[d["task"]]["metric"], **d.get("metric", {})},
            dtype=d.get("dtype", dict(DEFAULT_DTYPE)),
            evaluator=d.get("evaluator"),
            source=str(self.path("tasks", name)),
            train=self._own_train(name),
            resources=dict(d.get("resources", {})),
            safety_checker=d.get("safety_checker"),
        )

    def _own_train(self, name: str) -> dict:
        """The task file's own `train:` block. Unlike every other field it is not inherited through `extends`:
        how words fit in memory is a property of the model at hand (the tiny and micro tasks extend the paper's)."""
        return dict(read_yaml(self.path("tasks", name)).get("train") or {})

    def dataset(self, name: str, referrer=None) -> DatasetSpec:
        d = self.resolve("datasets", name, referrer)
        path = self.path("datasets", name)
        seen: set[str] = set()
        for i, c in enumerate(d["concepts"]):
            if c["id"] in seen:
                raise SpecError(path, f"concepts[{i}].id", f"duplicate concept id {c['id']!r}")
            seen.add(c["id"])
            if c["anchor"] not in d["anchors"]:
                raise SpecError(path, f"concepts[{i}].anchor", f"{c['anchor']!r} is not in the dataset's anchors")
        if len(set(d["anchors"])) != len(d["anchors"]):
            raise SpecError(path, "anchors", "anchors must be distinct")
        from vwbench.registry import FORMATS

        if d["source"]["format"] not in FORMATS:
            raise SpecError(path, "source.format", _unknown("dataset format", d["source"]["format"], FORMATS.names()))
        return DatasetSpec(
            name=d["name"],
            source=d["source"],
            split=d["split"],
            anchors=tuple(d["anchors"]),
            concepts=tuple(ConceptSpec(**c) for c in d["concepts"]),
            path=str(path),
        )

    def suite(self, name_or_path: str | Path) -> SuiteSpec:
        """A suite by name (`suites/<name>.yaml` of this root), or from a YAML file anywhere: a value ending
        in .yaml/.yml or containing a path separator. A file's tasks, datasets and `extends` are looked up in
        this root; its `name:` names the suite."""
        text = str(name_or_path)
        if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text or os.sep in text:
            path = Path(name_or_path)
            if not path.is_file():
                what = "is a folder, not a suite file" if path.is_dir() else "suite file not found"
                raise SpecError(path, "", what)
            d = self._extend("suites", read_yaml(path), path, ())
        else:
            d = self.resolve("suites", text)
            path = self.path("suites", text)
        tasks = _suite_tasks(self, d["tasks"], path)
        datasets = tuple(self.dataset(n, (str(path), f"datasets[{i}]")) for i, n in enumerate(d["datasets"]))
        train = dict(d["train"])
        if "betas" in train:
            train["betas"] = tuple(train["betas"])
        return SuiteSpec(
            name=d["name"],
            tasks=tasks,
            datasets=datasets,
            train=TrainConfig(**train),
            anchors=tuple(d["anchors"]) if isinstance(d["anchors"], list) else d["anchors"],
            deltas=tuple(d.get("deltas", ())),
            data=dict(d.get("data", {})),
            description=d.get("description", ""),
            path=str(path),
            controls=_controls(d, path),
        )

    def validate_all(self) -> list[str]:
        """Validate every spec under the root; returns the names checked."""
        checked = []
        for folder, loader in (("tasks", self.task), ("datasets", self.dataset), ("suites", self.suite)):
            for name in self.names(folder):
                loader(name)
                checked.append(f"{folder}/{name}")
        return checked


def _suite_tasks(lib: SpecLibrary, entries: list, path) -> tuple[TaskSpec, ...]:
    """A suite's tasks, each named: `name` of an entry `{task: <file>, name: <name>}`, else the task's kind.
    Names are unique in a suite (trials, keys and tables are keyed by them)."""
    tasks: list[TaskSpec] = []
    for i, entry in enumerate(entries):
        entry = entry if isinstance(entry, dict) else {"task": entry}
        task = lib.task(entry["task"], (str(path), f"tasks[{i}]"))
        task = dataclasses.replace(task, label=entry.get("name", task.task))
        taken = next((j for j, t in enumerate(tasks) if t.label == task.label), None)
        if taken is not None:
            where = f"tasks[{i}].name" if "name" in entry else f"tasks[{i}]"
            raise SpecError(
                path,
                where,
                f"task name {task.label!r} is taken by tasks[{taken}] ({tasks[taken].name}); "
                f"give one of them its own name: {{task: {entry['task']}, name: <name>}}",
            )
        tasks.append(task)
    return tuple(tasks)


def _unknown(what: str, name: str, known) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint} (known: {', '.join(known)})"


def _check_names(d: dict, path) -> None:
    """A task's kind (SETTINGS) and model families (registry.FAMILIES) are known names (schemas leave them open)."""
    from vwbench.registry import FAMILIES

    if d["task"] not in SETTINGS:
        raise SpecError(path, "task", _unknown("task kind", d["task"], list(SETTINGS)))
    for where, name in (("family", d["family"]), ("evaluator.family", (d.get("evaluator") or {}).get("family"))):
        if name is not None and name not in FAMILIES:
            raise SpecError(path, where, _unknown("model family", name, FAMILIES.names()))


def _controls(d: dict, path) -> tuple[str, ...]:
    """A suite's `controls` (default: all of CONTROLS), each a known control name."""
    names = d.get("controls", list(CONTROLS))
    for i, name in enumerate(names):
        if name not in CONTROLS:
            raise SpecError(path, f"controls[{i}]", _unknown("control", name, CONTROLS))
    return tuple(names)


def check_single_token_anchors(ds: DatasetSpec, tokenizer) -> None:
    """The paper requires each anchor to be one token of the CLIP BPE vocabulary."""
    for i, anchor in enumerate(ds.anchors):
        ids = tokenizer(anchor, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            pieces = tokenizer.convert_ids_to_tokens(ids)
            raise SpecError(ds.path, f"anchors[{i}]", f"anchor {anchor!r} is not a single token (splits into {pieces})")
