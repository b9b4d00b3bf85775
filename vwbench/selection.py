"""Which part of a suite a command works on: `--task`, `--dataset`, `--concept` and `--limit`.

A `Selection` names task models (by name or kind), datasets and concept ids, and caps the concepts per dataset;
an empty field selects everything. `check(suite)` raises a one-line VWBenchError naming the first unknown
name; the other methods apply it. `vwbench learn` picks the words it trains with it, `vwbench run` / `probe`
(through `StudyOptions.select`) the trials they learn and score: a filtered run is the same suite with fewer
trials, so its results share the suite's store and keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from vwbench.errors import VWBenchError


@dataclass(frozen=True)
class Selection:
    tasks: tuple[str, ...] = ()  # task spec names or kinds (generation | detection | classification)
    datasets: tuple[str, ...] = ()  # dataset names
    concepts: tuple[str, ...] = ()  # concept ids
    limit: int | None = None  # at most this many concepts per dataset: the first N in the spec's order

    def __post_init__(self):
        for name in ("tasks", "datasets", "concepts"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(dict.fromkeys(value or ())))
        if self.limit is not None and (
            isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1
        ):
            raise VWBenchError(f"--limit must be a positive integer (concepts per dataset), got {self.limit!r}")

    @property
    def active(self) -> bool:
        """Whether anything is filtered out at all."""
        return bool(self.tasks or self.datasets or self.concepts or self.limit is not None)

    def check(self, suite) -> None:
        """Raise VWBenchError on the first task, dataset or concept the suite does not have."""
        for name in self.tasks:
            if not any(name in (t.name, t.task, t.label) for t in suite.tasks):
                known = ", ".join(f"{t.name} ({t.label})" for t in suite.tasks)
                raise VWBenchError(f"unknown task {name!r} in suite {suite.name!r} (known: {known})")
        names = {d.name for d in suite.datasets}
        for name in self.datasets:
            if name not in names:
                known = ", ".join(d.name for d in suite.datasets)
                raise VWBenchError(f"unknown dataset {name!r} in suite {suite.name!r} (known: {known})")
        datasets = [d for d in suite.datasets if not self.datasets or d.name in self.datasets]
        if self.concepts:
            known = sorted({c.id for d in datasets for c in d.concepts})
            for c in self.concepts:
                if c not in known:
                    raise VWBenchError(
                        f"unknown concept {c!r} in datasets {', '.join(d.name for d in datasets)} "
                        f"(known: {', '.join(known)})"
                    )

    def task_specs(self, suite) -> list:
        """The suite's selected task models, in suite order."""
        return [t for t in suite.tasks if not self.tasks or {t.name, t.task, t.label} & set(self.tasks)]

    def concept_specs(self, ds) -> list:
        """The selected concepts of one dataset spec, in spec order (at most `limit`)."""
        concepts = [c for c in ds.concepts if not self.concepts or c.id in self.concepts]
        return concepts if self.limit is None else concepts[: self.limit]

    def dataset_specs(self, suite) -> list:
        """The suite's selected datasets that keep at least one concept, in suite order."""
        return [d for d in suite.datasets if (not self.datasets or d.name in self.datasets) and self.concept_specs(d)]

    def bind(self, suite) -> SuiteSelection:
        """This selection checked against `suite`, ready to test scores (`admits`)."""
        self.check(suite)
        kinds = frozenset(t.label for t in self.task_specs(suite))
        concepts = {d.name: frozenset(c.id for c in self.concept_specs(d)) for d in self.dataset_specs(suite)}
        return SuiteSelection(self, suite.name, kinds, concepts)

    def as_dict(self) -> dict:
        """The filters as results.json and the run record show them (only those given)."""
        out = {
            "task": list(self.tasks),
            "dataset": list(self.datasets),
            "concept": list(self.concepts),
            "limit": self.limit,
        }
        return {k: v for k, v in out.items() if v not in ([], None)}

    def describe(self) -> str:
        """The filters as command-line flags, e.g. `--task tiny-generation --limit 2`."""
        parts = [f"--task {t}" for t in self.tasks] + [f"--dataset {d}" for d in self.datasets]
        parts += [f"--concept {c}" for c in self.concepts] + (
            [f"--limit {self.limit}"] if self.limit is not None else []
        )
        return " ".join(parts)


@dataclass(frozen=True)
class SuiteSelection:
    """A Selection applied to one suite: which (task name, dataset, concept) a score must have to be kept."""

    selection: Selection
    suite: str
    kinds: frozenset
    concepts: dict

    def admits(self, score) -> bool:
        t = score.trial
        return (
            t.train_task in self.kinds
            and score.eval_task in self.kinds
            and t.concept in self.concepts.get(t.dataset, ())
        )

    def as_dict(self) -> dict:
        return self.selection.as_dict()

    def describe(self) -> str:
        return self.selection.describe()


def describe_filters(filters: dict | None) -> str:
    """`Selection.describe()` of an `as_dict()` (as read back from results.json or a run record)."""
    if not filters:
        return ""
    return Selection(
        tuple(filters.get("task", ())),
        tuple(filters.get("dataset", ())),
        tuple(filters.get("concept", ())),
        filters.get("limit"),
    ).describe()
