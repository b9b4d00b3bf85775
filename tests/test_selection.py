"""Selection (--task/--dataset/--concept/--limit) on the tiny suite, and the trials a Study makes of it."""

from __future__ import annotations

import pytest

from vwbench.errors import VWBenchError
from vwbench.records import Score, Trial
from vwbench.selection import Selection, describe_filters


def test_everything_by_default(tiny_suite):
    s = Selection()
    assert not s.active and s.as_dict() == {} and s.describe() == ""
    assert s.task_specs(tiny_suite) == list(tiny_suite.tasks)
    assert s.dataset_specs(tiny_suite) == list(tiny_suite.datasets)


def test_limit_takes_the_first_concepts_of_each_dataset(tiny_suite):
    s = Selection(limit=2)
    for ds in tiny_suite.datasets:
        assert s.concept_specs(ds) == list(ds.concepts[:2])
    big = Selection(limit=10_000)
    assert [len(big.concept_specs(d)) for d in tiny_suite.datasets] == [len(d.concepts) for d in tiny_suite.datasets]


def test_tasks_by_name_or_kind_datasets_and_concepts(tiny_suite):
    s = Selection(tasks=("tiny-generation", "classification"), datasets=("tiny-objects",))
    assert [t.task for t in s.task_specs(tiny_suite)] == ["generation", "classification"]
    assert [d.name for d in s.dataset_specs(tiny_suite)] == ["tiny-objects"]
    first = tiny_suite.dataset("tiny-objects").concepts[0].id
    c = Selection(concepts=(first,))
    assert [d.name for d in c.dataset_specs(tiny_suite)] == ["tiny-objects"]  # datasets without it drop out
    assert s.as_dict() == {"task": ["tiny-generation", "classification"], "dataset": ["tiny-objects"]}
    assert describe_filters(Selection(tasks=("detection",), limit=1).as_dict()) == "--task detection --limit 1"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"tasks": ("segmentation",)}, "unknown task 'segmentation'"),
        ({"datasets": ("nope",)}, "unknown dataset 'nope'"),
        ({"concepts": ("purple_cow",)}, "unknown concept 'purple_cow'"),
    ],
)
def test_unknown_names(tiny_suite, kwargs, message):
    with pytest.raises(VWBenchError, match=message):
        Selection(**kwargs).check(tiny_suite)


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "2"])
def test_limit_must_be_a_positive_integer(limit):
    with pytest.raises(VWBenchError, match="--limit must be a positive integer"):
        Selection(limit=limit)


def test_bound_selection_admits_scores(tiny_suite):
    ds = tiny_suite.dataset("tiny-objects")
    kept, dropped = ds.concepts[0].id, ds.concepts[1].id
    b = Selection(tasks=("generation", "detection"), limit=1).bind(tiny_suite)

    def score(concept, train, ev, dataset="tiny-objects"):
        return Score(Trial("tiny", dataset, concept, "circle", train), ev, "m", "x", 0.5)

    assert b.admits(score(kept, "generation", "detection"))
    assert not b.admits(score(dropped, "generation", "detection"))  # beyond the limit
    assert not b.admits(score(kept, "generation", "classification"))  # evaluated in an unselected task
    assert not b.admits(score(kept, "classification", "generation"))
    assert not b.admits(score(kept, "generation", "generation", dataset="elsewhere"))


def test_study_trials_follow_selection_and_seeds(tiny_suite, tmp_path):
    from vwbench.store import Store
    from vwbench.study import Study, StudyOptions

    with Store(tmp_path / "s") as store:
        study = Study(
            tiny_suite,
            store,
            StudyOptions(select=Selection(tasks=("detection",), limit=1), seeds=(0, 7, 0), deltas=(), progress=False),
        )
        assert [t.task for t in study.tasks] == ["detection"] and study.seeds == (0, 7)
        ds = tiny_suite.dataset("tiny-scenes")
        trials = study.trials(ds, tiny_suite.task("detection"))
        concept = ds.concepts[0]
        assert {t.concept for t in trials} == {concept.id}
        assert sorted({t.seed for t in trials}) == [0, 7]
        assert len(trials) == 2 * len(ds.anchors_for(concept, tiny_suite.anchors))
        default = Study(tiny_suite, store, StudyOptions(progress=False))
        assert default.seeds == (tiny_suite.train.seed,)
        with pytest.raises(VWBenchError, match="seeds must be integers"):
            Study(tiny_suite, store, StudyOptions(seeds=(0, "1"), progress=False))
        with pytest.raises(VWBenchError, match="unknown concept"):
            Study(tiny_suite, store, StudyOptions(select=Selection(concepts=("nope",)), progress=False))
