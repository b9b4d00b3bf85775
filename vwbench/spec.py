"""Declarative specs: load YAML, resolve `extends`, validate with the shipped JSON schemas, build typed objects.

Specs live in a folder with three sub-folders (`tasks/`, `datasets/`, `suites/`); the file name (without
`.yaml`) is the spec's name. Errors name the file, the field path and what was expected.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from vwbench.errors import SpecError

KINDS = {"tasks": "task", "datasets": "dataset", "suites": "suite"}

# The `loss` and `metric` settings of each task kind and their defaults: the only keys a task spec may give
# (schemas/task.schema.json types the same keys with the same defaults; tests/test_spec.py checks they agree).
# The loader fills in every default, so an adapter reads a complete block and keys hold every setting.
# `metric.name` is the headline, `metric.also` the secondaries each score records, `metric.table` those of them the
# leaderboard tabulates (registered names: vwbench/metrics/, checked where the task model is built).
SETTINGS = {
    "generation": {
        "loss": {"prediction_type": "auto"},
        "metric": {
            "name": "generation_accuracy",
            "also": [],
            "table": [],
            "images_per_trial": 8,
            "inference_steps": 50,
            "guidance_scale": 7.5,
            "seed": 0,
            "batch_size": 16,
        },
    },
    "detection": {
        "loss": {"positive_iou": 0.5},
        "metric": {"name": "ap50", "also": ["map"], "table": [], "negatives_per_positive": "all"},
    },
    "classification": {
        "loss": {"target_weight": -1.0, "other_weight": 1.0},
        "metric": {"name": "auroc", "also": ["accuracy", "false_positive_rate"], "table": []},
    },
}


# bf16 on CUDA: float32's exponent range, so gradients of means over ~295k latent elements do not underflow
# as they do in fp16 without loss scaling (docs/learning.md, Memory); the learned vectors stay float32.
DEFAULT_DTYPE = {"cuda": "bfloat16", "cpu": "float32"}


@dataclass(frozen=True)
class ModelRef:
    id: str
    revision: str | None

    @property
    def is_tiny(self) -> bool:
        return self.id.startswith("tiny:")

    @property
    def is_micro(self) -> bool:
        return self.id.startswith("micro:")

    @property
    def is_builtin(self) -> bool:
        """Shipped with vwbench (random `tiny:` or trained `micro:`), not loaded from the hub."""
        return self.is_tiny or self.is_micro


@dataclass(frozen=True)
class TaskSpec:
    name: str  # the task file's name
    task: str  # its kind: generation | detection | classification
    family: str
    model: ModelRef
    image_size: int
    template: str
    loss: dict
    metric: dict
    dtype: dict = field(default_factory=lambda: dict(DEFAULT_DTYPE))
    evaluator: dict | None = None
    source: str = ""
    train: dict = field(default_factory=dict)  # the task's `train:` block: execution settings (EXECUTION)
    resources: dict = field(default_factory=dict)  # what one worker asks a cluster for (docs/ray.md); not in keys
    safety_checker: dict | None = None  # {id, revision} of the checker a run may turn on (docs/gpu.md)
    safety: bool = False  # whether this run screens generations with it (off by default)
    label: str = ""  # its name in a suite: what trials, keys and tables call it (default: kind)

    def __post_init__(self):
        if not self.label:
            object.__setattr__(self, "label", self.task)


@dataclass(frozen=True)
class ConceptSpec:
    id: str
    name: str
    source_id: str | int
    anchor: str


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: dict
    split: dict
    anchors: tuple[str, ...]
    concepts: tuple[ConceptSpec, ...]
    path: str = ""

    def concept(self, concept_id: str) -> ConceptSpec:
        for c in self.concepts:
            if c.id == concept_id:
                return c
        raise KeyError(concept_id)

    def anchors_for(self, concept: ConceptSpec, policy: str | int | tuple) -> list[str]:
        """The anchors a concept is trained from under a suite's anchor policy (own anchor first). A list policy
        joins its items: `own`, `all`, N, or a literal word (an anchor unrelated to every concept)."""
        if isinstance(policy, (list, tuple)):
            words = [
                w
                for item in policy
                for w in (
                    self.anchors_for(concept, item) if item in ("own", "all") or isinstance(item, int) else [item]
                )
            ]
            return list(dict.fromkeys(words))
        others = [a for a in self.anchors if a != concept.anchor]
        if policy == "own":
            return [concept.anchor]
        if policy == "all":
            return [concept.anchor, *others]
        start = self.anchors.index(concept.anchor) if concept.anchor in self.anchors else 0
        rotated = list(self.anchors[start:]) + list(self.anchors[:start])
        return rotated[: int(policy)]


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    lr: float
    batch_size: int
    seed: int
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    num_vectors: int = 1
    concepts_per_batch: int = 10
    micro_batch: int | None = None  # rows per forward/backward (None: all K x rows at once)
    gradient_checkpointing: bool = False


# TrainConfig fields that decide how the work is split and scheduled, not what is computed: learned vectors are
# the same to float tolerance whatever their values (tests/test_learn_memory.py), so result keys leave them out
# and a task's `train:` block may set them (docs/learning.md, Memory).
EXECUTION = ("concepts_per_batch", "micro_batch", "gradient_checkpointing")


def learning_settings(train: TrainConfig) -> dict:
    """The training settings a learned vector depends on (everything but EXECUTION), as keys hold them."""
    return {k: v for k, v in dataclasses.asdict(train).items() if k not in EXECUTION}


def effective_train(suite: SuiteSpec, task: TaskSpec, base: TrainConfig | None = None) -> TrainConfig:
    """The train config words of `task` are learned with: the task's `train:` block over the suite's `train`
    (or over `base`, e.g. a run's overridden copy of it)."""
    return dataclasses.replace(suite.train if base is None else base, **(task.train or {}))


# Trivial baselines scored on the same trials as every method (docs/metrics.md): the untrained anchor word
# itself, and three transfer methods that carry no learned meaning.
CONTROLS = ("anchor", "nearest_token", "constant", "random_map")


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    tasks: tuple[TaskSpec, ...]
    datasets: tuple[DatasetSpec, ...]
    anchors: str | int | tuple
    train: TrainConfig
    deltas: tuple[float, ...] = ()
    data: dict = field(default_factory=dict)
    description: str = ""
    path: str = ""
    controls: tuple[str, ...] = CONTROLS

    def task(self, name: str) -> TaskSpec:
        """The task named `name` in the suite (its label), else the one of that file name, else the only one of
        that kind."""
        for match in (lambda t: t.label == name, lambda t: t.name == name):
            found = [t for t in self.tasks if match(t)]
            if found:
                return found[0]
        found = [t for t in self.tasks if t.task == name]
        if len(found) == 1:
            return found[0]
        raise KeyError(name)

    def kind(self, label: str) -> str:
        """The task kind of the suite's task `label` (the label itself when the suite has no such task)."""
        try:
            return self.task(label).task
        except KeyError:
            return label

    def dataset(self, name: str) -> DatasetSpec:
        for d in self.datasets:
            if d.name == name:
                return d
        raise KeyError(name)


# --------------------------------------------------------------------------------------------- loading


def default_spec_root() -> Path:
    """`$VWBENCH_SPECS`, else the specs shipped inside the package (`vwbench/specs/`)."""
    env = os.environ.get("VWBENCH_SPECS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "specs"


@cache
def schema(kind: str) -> dict:
    text = resources.files("vwbench.schemas").joinpath(f"{kind}.schema.json").read_text()
    return json.loads(text)


def _field_path(error: jsonschema.ValidationError) -> str:
    parts = list(error.absolute_path)
    if error.validator == "required":  # name the missing field itself, not its parent (`<root>`)
        missing = re.match(r"^'(.+)' is a required property", error.message)
        if missing:
            parts.append(missing.group(1))
    if _unexpected(error):  # name the unknown field itself
        parts.append(_unexpected(error)[0])
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is required but missing")
    if error.validator == "type":
        return f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    if error.validator == "enum":
        return f"expected one of {error.validator_value}, got {error.instance!r}"
    if _unexpected(error):
        known = sorted(error.schema.get("properties", {}))
        return f"unknown field (known: {', '.join(known) or 'none'})"
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field")
    return error.message


def _unexpected(error: jsonschema.ValidationError) -> list[str]:
    """The fields an `additionalProperties: false` error is about (none for other errors)."""
    if error.validator != "additionalProperties" or error.validator_value is not False:
        return []
    if not isinstance(error.instance, dict) or error.schema.get("patternProperties"):
        return []
    return sorted(str(k) for k in error.instance if k not in error.schema.get("properties", {}))


def validate_document(doc: Any, kind: str, file: str | Path) -> None:
    """Validate one resolved document against the schema of `kind`; raise SpecError on the first problem."""
    validator = jsonschema.Draft202012Validator(schema(kind))
    errors = sorted(validator.iter_errors(doc), key=lambda e: (len(list(e.absolute_path)), str(e.absolute_path)))
    if errors:
        # a `oneOf` failure is less telling than its deepest sub-error
        err = errors[0]
        if err.context:
            err = max(err.context, key=lambda e: len(list(e.absolute_path)))
        raise SpecError(file, _field_path(err), _describe(err))


def read_yaml(path: Path) -> dict:
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(path, "", "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise SpecError(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, dict):
        raise SpecError(path, "", f"expected a mapping at the top level, got {type(doc).__name__}")
    return doc


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


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
