"""Where STEU Audit keeps its files: one data directory, chosen by ``$STEU_HOME``.

Every directory made here is owner-only (0700): the data directory holds the ledger, run records,
logs and, while a request is open, the uploaded notes (see :mod:`steu_core.uploads`), none of which
another user of the machine should be able to read.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import platformdirs

from .errors import ConfigError

PRIVATE_DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """``path`` as an owner-only directory: made 0700 with any missing parents (mkdir's mode is cut
    by the umask, hence the chmod), or tightened when it exists, is ours and lets others in. The
    user's home is left alone. A folder that cannot be made is a ConfigError naming it."""
    try:
        for missing in reversed([p for p in (path, *path.parents) if not p.exists()]):
            missing.mkdir(exist_ok=True)
            os.chmod(missing, PRIVATE_DIR_MODE)
        info = path.stat()
        if not stat.S_ISDIR(info.st_mode):
            raise NotADirectoryError(20, "Not a directory", str(path))
        ours = not hasattr(os, "getuid") or info.st_uid == os.getuid()  # no uids on Windows
        if stat.S_IMODE(info.st_mode) & 0o077 and ours and path.resolve() != Path.home().resolve():
            os.chmod(path, PRIVATE_DIR_MODE)
    except OSError as exc:
        raise ConfigError(f"the data folder '{path}' cannot be made or used ({exc.strerror or type(exc).__name__}"
                          f"{f': {exc.filename}' if exc.filename and str(exc.filename) != str(path) else ''}).",
                          hint="Set STEU_HOME to a folder you can write to, or fix this one's permissions.") from None
    return path


def steu_home() -> Path:
    """The data directory: ``$STEU_HOME`` if set, else the user's cache directory (owner-only)."""
    env = os.environ.get("STEU_HOME")
    home = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("steu-audit"))
    return private_dir(home)


def subdir(name: str) -> Path:
    """``<data dir>/<name>``, made owner-only."""
    return private_dir(steu_home() / name)


def runs_dir() -> Path:
    """Finished and in-progress run directories."""
    return subdir("runs")


def comparisons_dir() -> Path:
    """Finished comparisons of several methods (``python -m steu_core compare`` without ``--out``)."""
    return subdir("comparisons")


def erasures_dir() -> Path:
    """Erasures started from the dashboard (python -m steu_core erase without --out elsewhere)."""
    return subdir("erasures")


def precomputed_dir() -> Path:
    """The original model's scores computed ahead of a request (one directory per computation, its outcome)."""
    return subdir("precomputed")


def models_dir() -> Path:
    """The model store (the demo classifier and other prepared models)."""
    return subdir("models")


def check_writable_location(out: str | Path, flag: str) -> None:
    """Refuse, before any work, an output path that could not be written: the nearest folder that
    exists above it must be a folder in which this process can create a file (tried, not guessed:
    permission bits say nothing for root, a read-only disk or /proc). Missing folders between are
    made later, by the writer."""
    out = Path(out).expanduser()
    if out.is_dir():
        raise ConfigError(f"{flag} '{out}' is an existing folder.", hint=f"Give {flag} a new file or folder name.")
    folder = next(p for p in out.absolute().parents if p.exists() or p == p.parent)
    if not folder.is_dir():
        raise ConfigError(f"{flag} '{out}' cannot be written: '{folder}' is a file, not a folder.",
                          hint=f"Choose {flag} in a folder.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".steu-write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"{flag} '{out}' cannot be written: no file can be made in '{folder}' "
                          f"({exc.strerror or type(exc).__name__}).",
                          hint=f"Choose {flag} in a folder you can write to.") from None
