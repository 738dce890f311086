"""``python -m steu_core``: the same calls the dashboard makes, for pipelines.

One module per subcommand, each with ``register(subparsers)``; adding a command is one new module
and one line in :data:`COMMANDS`. Every user error prints one clear message (no traceback) and
exits with status 2; set STEU_DEBUG=1 to see tracebacks.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback
from pathlib import Path

from .. import __version__
from ..errors import Cancelled, SteuError, as_user_error
from . import compare, ledger, password, patch, precompute, report, runs, train, unlearn, verify, verify_report

EXIT_USER_ERROR, EXIT_INTERNAL, EXIT_CANCELLED = 2, 1, 130
EXIT_VERIFY_FAILED = verify.EXIT_VERIFY_FAILED
COMMANDS = (train, unlearn, precompute, verify, patch, runs, ledger, report, compare, verify_report, password)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m steu_core", description="STEU Audit: make a clinical text "
                                "classifier forget one class, verify it, and report it.")
    p.add_argument("--version", action="version", version=f"steu-audit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
