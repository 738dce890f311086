"""Is this file a ledger? One clear answer for each way a ``--path`` can be wrong.

Reading a missing or empty ledger gives no entries (a new installation has none). For *verifying*,
that silence is dangerous: "OK: 0 entries" for a mistyped path, a directory or a file that was
emptied reads like a clean bill of health. :func:`check_ledger_file` refuses each of these with a
message naming the file and what to do; ``allow_empty`` accepts a ledger with nothing recorded yet.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import LedgerError

LEDGER_FILE = "ledger.sqlite"
SQLITE_HEADER = b"SQLite format 3\x00"
_NEW_INSTALL = "On a new installation with nothing recorded yet, pass --allow-empty."


def check_ledger_file(path: str | Path, *, allow_empty: bool = False) -> None:
    """Raise :class:`LedgerError` unless ``path`` is a STEU ledger with at least one entry.

    With ``allow_empty``, a missing file, an empty file and a ledger without entries pass too; a
    directory, a file that is not SQLite and a SQLite file that is not a ledger never do.
    """
    path = Path(path)
    if path.is_dir():
        raise LedgerError(f"'{path}' is a directory, not a ledger file.",
                          hint=f"Pass the ledger file itself, e.g. --path '{path / LEDGER_FILE}'.")
    if not path.exists():
        if allow_empty:
            return
        raise LedgerError(f"there is no ledger at '{path}': the file does not exist.",
                          hint="Check --path (default: ledger.sqlite in the data directory, STEU_HOME). " + _NEW_INSTALL)
    if not path.is_file():
        raise LedgerError(f"'{path}' is not a regular file, so it is not a ledger.", hint="Pass the ledger.sqlite file.")
    header = _read_header(path)
    if not header:
        if allow_empty:
            return
        raise LedgerError(f"'{path}' is an empty file (0 bytes), not a ledger.",
                          hint="If it held entries, it was emptied: restore it from a backup. " + _NEW_INSTALL)
    if header != SQLITE_HEADER:
        raise LedgerError(f"'{path}' is not a SQLite database, so it is not a STEU ledger.",
                          hint="Pass the ledger.sqlite file from the data directory (STEU_HOME); if this was the "
                               "ledger, it was overwritten or damaged: restore it from a backup.")
    if _count_entries(path) == 0 and not allow_empty:
        raise LedgerError(f"the ledger '{path}' holds no entries.", hint=_NEW_INSTALL)


def _read_header(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise LedgerError(f"the ledger '{path}' cannot be read ({type(exc).__name__}).",
                          hint="Check the file's owner and permissions.") from None


def _count_entries(path: Path) -> int:
    """The number of entries; a SQLite file without the ledger's table is refused."""
    con = sqlite3.connect(str(path), timeout=5.0)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "entries" not in tables:
            raise LedgerError(f"'{path}' is a SQLite database but not a STEU ledger (it has no 'entries' table).",
                              hint="Pass the ledger.sqlite file from the data directory (STEU_HOME).")
        return con.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise unreadable_ledger(path, exc) from None
    finally:
        con.close()


def unreadable_ledger(path: Path, exc: sqlite3.Error) -> LedgerError:
    """The error for a ledger file SQLite cannot read (SQLite's messages name no data, only the fault)."""
    return LedgerError(f"the ledger '{path}' cannot be read: {exc} (not a SQLite ledger, or a damaged one).",
                       hint="Check --path; if this is the ledger, restore it from a backup.")


def existing_file(path: str | Path, what: str, hint: str) -> Path:
    """``path`` (user-expanded) when it is a file; else a :class:`LedgerError` saying ``what`` it should
    have been and whether it is a directory or missing."""
    path = Path(path).expanduser()
    if not path.is_file():
        state = "is a directory" if path.is_dir() else "does not exist"
        raise LedgerError(f"the {what} '{path}' {state}.", hint=hint)
    return path
