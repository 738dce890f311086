"""``python -m steu_core``: the same calls the dashboard makes, for pipelines.

One module per subcommand, each with ``register(subparsers)``; adding a command is one new module
and one name in :data:`COMMANDS` (the module ``verify_report`` registers the command ``verify-report``).
A command's module is imported only when that command runs (all of them for ``--help``), so
``verify-report`` never loads torch or transformers: a regulator verifies with a small install.
Every user error prints one clear message (no traceback) and exits with status 2; set STEU_DEBUG=1
to see tracebacks.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import traceback
from pathlib import Path

from .. import __version__
from ..errors import Cancelled, SteuError, as_user_error

EXIT_USER_ERROR, EXIT_INTERNAL, EXIT_CANCELLED = 2, 1, 130
COMMANDS = ("train", "unlearn", "precompute", "verify", "patch", "runs", "ledger", "report", "compare", "verify_report",
            "password", "requests", "erase", "verify_erasure")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of the one command ``only`` (a module name in :data:`COMMANDS`)."""
    p = argparse.ArgumentParser(prog="python -m steu_core", description="STEU Audit: make a clinical text "
                                "classifier forget one class, verify it, and report it.")
    p.add_argument("--version", action="version", version=f"steu-audit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name in (only,) if only else COMMANDS:
        # imported here, not above: one command must not load every other command's dependencies
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return p


def command_module(argv: list[str]) -> str | None:
    """The module of the command ``argv`` names (its first word that is not an option), if it is one."""
    word = next((a for a in argv if not a.startswith("-")), None)
    name = word.replace("-", "_") if word else None
    return name if name in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_module(argv))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SteuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANCELLED if isinstance(exc, Cancelled) else EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:
        if os.environ.get("STEU_DEBUG"):
            raise
        return report_unexpected(exc)


def report_unexpected(exc: Exception) -> int:
    user_error = as_user_error(exc) or file_refused(exc)
    if user_error is not None:  # a full disk, an exhausted GPU
        print(f"error: {user_error}", file=sys.stderr)
        return EXIT_USER_ERROR
    # The message of an unexpected exception may quote a value from a data file (PHI): show the
    # type and where it happened, and the full traceback only on request.
    print(f"internal error: {type(exc).__name__} at {where(exc)} (set STEU_DEBUG=1 for details)", file=sys.stderr)
    return EXIT_INTERNAL


# The operating system refusing a named file: the user's to fix (a path, a permission, a read-only disk)
_FILE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EISDIR,
                          errno.ENAMETOOLONG, errno.ELOOP, errno.ENXIO, errno.ENODEV, errno.ETXTBSY})


def file_refused(exc: Exception) -> SteuError | None:
    """A user error for an OSError about a named file that no specific check caught, else None:
    it names the file and the system's reason, never anything read from a file."""
    if not (isinstance(exc, OSError) and exc.filename and exc.errno in _FILE_ERRNOS):
        return None
    return SteuError(f"'{exc.filename}': {exc.strerror or os.strerror(exc.errno)}.",
                     hint="Check the path, that its folder exists, and that you may read and write there.")


def where(exc: BaseException) -> str:
    """file:line of the innermost frame of the traceback (our code if possible); never a message."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "steu_core" in f.filename] or frames
    if not ours:
        return "an unknown place"
    f = ours[-1]
    return f"{Path(f.filename).name}:{f.lineno} ({f.name})"
