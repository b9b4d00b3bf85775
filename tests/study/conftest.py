"""Fixtures of tests/study: the mini suite of the tiny zoo (helpers in tests/run_fixtures.py)."""

from run_fixtures import make_specs, specs  # noqa: F401 - pytest fixtures
