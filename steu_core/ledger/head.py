"""The ledger's head record: the newest tree size and Merkle root, kept in a file next to the database
(``ledger.sqlite.head``) and advanced after every append.

The hash chain cannot show that its newest entries were deleted: what remains is still a valid
chain. The head record can: ``ledger verify`` compares today's entries with it, and fewer entries
than it records, or first entries that no longer hash to its root, mean the ledger lost or changed
entries since the last append. It lives outside the database, so deleting rows with SQL, restoring an
older copy of ``ledger.sqlite`` or replacing it with an empty file is caught. Someone who can rewrite
both files is not caught here: only a signed checkpoint held by a witness outside the hospital's control
shows that (docs/DEPLOYMENT.md).

The record is written with a temporary file and an atomic rename, under a file lock, from the
ledger's state read under that lock, so that concurrent appends leave the newest state, never an older one.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock

from .errors import LedgerError

HEAD_FORMAT = "steu-ledger-head/1"
HEAD_SUFFIX = ".head"
MAX_HEAD_BYTES = 4096
LOCK_TIMEOUT_S = 60.0


@dataclass
class HeadResult:
    """Outcome of comparing the ledger with its head record."""

    ok: bool
    reason: str
    head_size: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def head_path(ledger_path: Path) -> Path:
    """``<ledger file>.head``, next to the ledger."""
    return ledger_path.with_name(ledger_path.name + HEAD_SUFFIX)


def record_head(ledger) -> None:
    """Advance the head record to the ledger's current tree size and root (``ledger``: a Ledger).

    Called after an entry was committed: a failure here must not make the committed entry look
    unwritten, so it is a warning. The next append writes the head again; until then ``ledger
    verify`` reports the ledger as extending an older head, which is true.
    """
    path = head_path(ledger.path)
    try:
        with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
            head = ledger.tree_head()
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"format": HEAD_FORMAT, **head}), encoding="utf-8")
            os.replace(tmp, path)
    except OSError as exc:
        warnings.warn(f"the ledger's head record '{path}' could not be written ({type(exc).__name__}); "
                      "`ledger verify` cannot detect removal of the newest entries until the next append.",
                      RuntimeWarning, stacklevel=2)


def read_head(path: Path) -> dict | None:
    """The head record's ``{"tree_size", "root"}``, or None when it is not a readable head record."""
    try:
        if not path.is_file():  # a device (/dev/zero) or a FIFO reports no size and never ends
            return None
        with open(path, "rb") as f:
            raw = f.read(MAX_HEAD_BYTES + 1)  # bounded whatever the file says its size is
        if len(raw) > MAX_HEAD_BYTES:
            return None
        head = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    ok = (isinstance(head, dict) and head.get("format") == HEAD_FORMAT and isinstance(head.get("tree_size"), int)
          and head["tree_size"] >= 0 and isinstance(head.get("root"), str))
    return head if ok else None


def check_head(ledger, n_entries: int) -> HeadResult:
    """Does the ledger (with ``n_entries`` entries) still hold every entry its head record covers?"""
    path = head_path(ledger.path)
    if not path.exists():
        if n_entries == 0:
            return HeadResult(True, "no head record and no entries (a new installation)")
        return HeadResult(False, f"the head record '{path}' is missing although the ledger has {n_entries} "
                                 "entries: it was deleted, or the ledger was copied without it. Compare the ledger with "
                                 "the checkpoints your witness holds (`ledger verify --checkpoint`); the next append "
                                 "writes a new head record")
    head = read_head(path)
    if head is None:
        return HeadResult(False, f"the head record '{path}' is not readable (damaged or edited)")
    size = head["tree_size"]
    if n_entries < size:
        return HeadResult(False, f"the ledger has {n_entries} entries but its head record covers {size}: entries "
                                 f"{n_entries + 1}-{size} were removed (the ledger was truncated, rolled back or "
                                 "replaced)", size)
    if ledger.tree_head(size)["root"] != head["root"]:
        return HeadResult(False, f"the ledger's first {size} entries do not hash to the root in its head record: "
                                 "an entry was changed, removed or reordered and the chain recomputed", size)
    grown = "" if n_entries == size else f" ({n_entries - size} newer entries not yet in it)"
    return HeadResult(True, f"the ledger holds every entry of its head record ({size}){grown}", size)


def check_no_restart(ledger_path: Path, n_entries: int) -> None:
    """Refuse to append to a ledger holding fewer entries than its head record covers (deleted, emptied or rolled
    back): appending would start a new chain silently and rewrite the head record that shows the loss."""
    head = read_head(head_path(ledger_path))
    if head is not None and head["tree_size"] > n_entries:
        raise LedgerError(f"the ledger '{ledger_path}' holds {n_entries} entries but its head record covers "
                          f"{head['tree_size']}: it was deleted, emptied or rolled back; nothing was written.",
                          hint="Restore ledger.sqlite from a backup, or start a new ledger explicitly with "
                               "'python -m steu_core ledger start-new' (the old head record is kept beside it).")


def retire_head(ledger_path: Path, stamp: str) -> Path | None:
    """Move the head record aside (``<head>.retired-<stamp>``) so that a new ledger can start; None if none."""
    path = head_path(ledger_path)
    if not path.exists():
        return None
    kept = path.with_name(f"{path.name}.retired-{stamp}")
    os.replace(path, kept)
    return kept
