"""Literal anchor words of a suite (`anchors: [own, word, ...]`): trained from, and refused when no model knows them."""

from __future__ import annotations

import pytest

from vwbench.errors import SpecError
from vwbench.spec import SpecLibrary
from vwbench.store import Store
from vwbench.study import Study, StudyOptions

SUITE = """
name: words
tasks: [{tasks}]
datasets: [{dataset}]
anchors: [own, {word}]
train: {{steps: 1, lr: 0.05, batch_size: 2, seed: 0, concepts_per_batch: 9}}
controls: [anchor]
"""


def _study(make_specs, tmp_path, word, tasks="tiny-detection, tiny-classification", dataset="tiny-objects"):
    root = make_specs(tmp_path / "specs", words=SUITE.format(word=word, tasks=tasks, dataset=dataset))
    return Study(SpecLibrary(root).suite("words"), Store(tmp_path / "store"), StudyOptions(progress=False))


def test_a_literal_word_anchors_every_concept(make_specs, tmp_path):
    study = _study(make_specs, tmp_path, "circle")
    study.run()
    words = {(t.concept, t.anchor) for _, t, _ in study.store.vectors("words")}
    concepts = {c.id for c in study.suite.datasets[0].concepts}
    own = {(c.id, c.anchor) for c in study.suite.datasets[0].concepts}
    assert words == own | {(c, "circle") for c in concepts}


def test_an_unusable_anchor_word_is_a_one_line_spec_error(make_specs, tmp_path):
    with pytest.raises(SpecError, match="'sombrero' is not a single CLIP token") as exc:
        _study(make_specs, tmp_path / "a", "sombrero").run()
    assert "\n" not in str(exc.value)
    # a micro model stores only the rows of words its captions used: "cat" would start from a random row
    with pytest.raises(SpecError, match="'cat' is not a trained word of micro-detection") as exc:
        _study(make_specs, tmp_path / "b", "cat", tasks="micro-detection", dataset="micro-objects").run()
    assert "\n" not in str(exc.value)
