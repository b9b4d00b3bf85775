"""Typed records that flow from the learner and evaluators into the store and the leaderboards."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Trial:
    """One learned word: a concept of a dataset, trained in one task model from one anchor (optionally in a δ-ball)."""

    suite: str
    dataset: str
    concept: str
    anchor: str
    train_task: str  # the suite's name of the task the word was trained in (default: its kind)
    delta: float | None = None  # None for the unconstrained experiment
    seed: int = 0

    def label(self) -> str:
        d = "" if self.delta is None else f" δ={self.delta:g}"
        return f"{self.dataset}/{self.concept}<-{self.anchor} [{self.train_task}{d}]"


@dataclass(frozen=True)
class Score:
    """One evaluation of a trial's word in one task model (in-domain when eval_task == train_task)."""

    trial: Trial
    eval_task: str  # the suite's name of the task that scored it (default: its kind)
    method: str  # transfer method name; "in_domain" when eval_task == train_task
    metric: str  # headline metric name, e.g. generation_accuracy, ap50, accuracy
    value: float
    extra: dict = field(default_factory=dict)  # secondary metrics (e.g. coco map, false-positive rate), n

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class LearnResult:
    """What the learner returns for one trial: the vector and its training record."""

    trial: Trial
    vector: object  # torch.Tensor [num_vectors, d], float32, on CPU
    loss_start: float
    loss_end: float
    nearest_token: str = ""  # nearest vocabulary word of the final vector
    anchor_distance: float = 0.0  # ‖v − anchor‖ in units of d_nn(anchor)
    extra: dict = field(default_factory=dict)
