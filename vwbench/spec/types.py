"""The typed objects specs become: model references, tasks, datasets and their concepts, training settings,
suites; and the settings each task kind may give, with their defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = [
    "CONTROLS",
    "DEFAULT_DTYPE",
    "EXECUTION",
    "KINDS",
    "SETTINGS",
    "ConceptSpec",
    "DatasetSpec",
    "ModelRef",
    "SuiteSpec",
    "TaskSpec",
    "TrainConfig",
    "effective_train",
    "learning_settings",
]

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
