"""Fixtures of tests/commands: the mini suite of the tiny zoo and fake scores (helpers in tests/run_fixtures.py and
tests/score_fixtures.py)."""

from run_fixtures import specs  # noqa: F401 - pytest fixtures
from score_fixtures import fill_store, make_scores  # noqa: F401 - pytest fixtures
