"""Errors a user can act on. Each says what is wrong, where, and what to do."""
from __future__ import annotations


class SteuError(Exception):
    """Base class: an error whose message is meant for the user, never a traceback."""

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class DataError(SteuError):
    """A problem with a data file: names the file, and the row and column where known."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None, hint: str | None = None):
        self.file, self.row, self.column = file, row, column
        where = []
        if file:
            where.append(f"file '{file}'")
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message, hint=hint)


class ModelError(SteuError):
    """A problem with a model checkpoint directory."""


class ConfigError(SteuError):
    """A setting that cannot work (k, budget, device, output directory ...)."""


class Cancelled(SteuError):
    """The run was cancelled by the user."""
