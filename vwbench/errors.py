"""Errors that the CLI reports as one line, without a traceback."""

from __future__ import annotations


class VWBenchError(Exception):
    """A user-facing error: bad input, a missing file or model, an impossible request."""


class SpecError(VWBenchError):
    """A spec file that does not validate: names the file, the field path and what was expected."""

    def __init__(self, file: str, field: str, message: str):
        self.file, self.field, self.message = str(file), field, message
        super().__init__(f"{self.file}: {field or '<root>'}: {message}")


class ModelNotAvailable(VWBenchError):
    """A hub model that is neither reachable nor in the local cache."""
