"""A mini tiny-zoo suite run once for the report tests: words scored in-domain, transferred and as the anchor."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from score_fixtures import fill_store, make_scores  # noqa: F401 - pytest fixtures

SPECS = Path(__file__).resolve().parents[2] / "vwbench" / "specs"
MINI = """
name: minirep
tasks: [tiny-generation, tiny-detection, tiny-classification]
datasets: [tiny-objects]
anchors: own
deltas: [0.5]
train: {steps: 2, lr: 0.05, batch_size: 4, seed: 0, concepts_per_batch: 9}
controls: [anchor, constant, nearest_token]
"""


@pytest.fixture(scope="session")
def mini_run(tmp_path_factory):
    """(spec root, store root, leaderboard folder) of one mini run with its leaderboard built."""
    from vwbench.report import build_leaderboard
    from vwbench.spec import SpecLibrary
    from vwbench.store import Store
    from vwbench.study import Study, StudyOptions

    root = tmp_path_factory.mktemp("minirep")
    specs = root / "specs"
    shutil.copytree(SPECS, specs)
    (specs / "suites" / "minirep.yaml").write_text(MINI)
    suite = SpecLibrary(specs).suite("minirep")
    with Store(root / "store") as store:
        Study(suite, store, StudyOptions(progress=False)).run()
        build_leaderboard(store, "minirep", root / "lb")
    return specs, root / "store", root / "lb"
