"""Errors a user can act on. Each says what is wrong, where, and what to do."""
from __future__ import annotations

from .format import printable


class SteuError(Exception):
    """Base class: an error whose message is meant for the user, never a traceback."""

    def __init__(self, message: str, *, hint: str | None = None):
        # a message can quote a class name, a file name or a value from a data file: a newline or an ANSI
        # escape in it is shown as its escape wherever the error is printed (terminal, page, progress.json)
        self.message = printable(message)
        self.hint = None if hint is None else printable(hint)
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


class EvidenceError(ConfigError):
    """A finished run's files differ from what its ledger entry pinned: nothing may be attested from them."""


class Cancelled(SteuError):
    """The run was cancelled by the user."""


class ResourceError(SteuError):
    """The machine ran out of something the run needs: disk space or GPU memory."""


class PatchError(DataError, ValueError):
    """A patch file that is damaged, not a STEU patch, or does not fit the model it is applied to
    (a ValueError too: callers that caught the library's earlier ValueError keep working)."""


def check_whole_number(value, lo: int, flag: str, what: str = "") -> None:
    """``value`` must be an int (not a bool) of at least ``lo``; the message names ``flag``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(f"{flag} must be a whole number of at least {lo}{f' ({what})' if what else ''}; "
                          f"got {value!r}.")


INTERRUPTED = "interrupted (Ctrl-C or SIGINT): the run was cancelled"


def failure_message(exc: BaseException) -> str:
    """What a failed or cancelled run records when ``exc`` is not a user error: an interrupt is a cancel in
    words, anything else an internal error named by its type (never its message, which may quote data)."""
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    return f"internal error: {type(exc).__name__}"


def as_user_error(exc: BaseException) -> SteuError | None:
    """The user-facing error for an exhausted resource (full disk, GPU out of memory), else None.

    The message names the resource and what to do; it never repeats the original message, which
    could carry a path or a value from a data file.
    """
    import errno as _errno

    if isinstance(exc, SteuError):
        return exc
    if isinstance(exc, OSError) and exc.errno in (_errno.ENOSPC, _errno.EDQUOT):
        where = f" while writing '{exc.filename}'" if getattr(exc, "filename", None) else ""
        return ResourceError(f"the disk is full (no space left on device){where}; nothing was finished.",
                             hint="Free disk space (or set STEU_HOME / --out to a disk with room) and run again.")
    name = type(exc).__name__
    text = str(exc).lower()
    if name == "OperationalError" and ("disk is full" in text or "database or disk is full" in text):
        return ResourceError("the disk is full: the ledger could not be written; nothing was finished.",
                             hint="Free disk space in the data directory (STEU_HOME) and run again.")
    if name == "OutOfMemoryError" or (isinstance(exc, RuntimeError) and "out of memory" in text
                                      and ("cuda" in text or "mps" in text)):
        return ResourceError("the GPU ran out of memory; nothing was finished.",
                             hint="Lower the batch sizes (--batch-size for scoring, --settings "
                                  "'{\"batch_size\": 8}' for training), lower --max-length, or run on the "
                                  "CPU with --device cpu.")
    return None
