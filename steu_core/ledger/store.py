"""An append-only, hash-chained log of deletion requests and unlearning runs.

The ledger is one SQLite file (``steu_home()/ledger.sqlite``) with one table. Every entry stores
``seq`` (1, 2, 3 ... without gaps), ``ts_utc``, ``kind``, ``payload`` (canonical JSON: sorted keys, no
whitespace), ``prev_hash`` (the previous entry's hash; 64 zeros for the first) and ``entry_hash``::

    entry_hash = SHA-256( canonical JSON of [seq, ts_utc, kind, payload, prev_hash] )

where ``payload`` is the stored canonical text. Changing any field of any entry, removing an entry
or swapping two entries breaks the chain at that point, and :meth:`Ledger.verify` names the first
entry where it breaks.

What the chain cannot show on its own: removal of the *newest* entries (the remaining chain is still
consistent; the head record next to the database, :mod:`.head`, shows it), or a chain that whoever can write the database rewrote and re-hashed from the edited
entry on. Both are exposed by something kept outside the database: a signed checkpoint (the Merkle
root of the first N entries, :mod:`.proofs` and :mod:`.checkpoint`) held by a witness, or the hash of
a run's entry printed in its report (:meth:`Ledger.find_hash`).

The ledger holds hashes, counts and metadata only. Payload keys that name text content (``text``,
``note``, ``notes`` ...) are refused at any depth.

Appends are safe across processes: each runs in a ``BEGIN IMMEDIATE`` transaction, so reading the
chain's head and writing the next entry happen under SQLite's write lock.
"""
from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..paths import steu_home
from .files import LEDGER_FILE, unreadable_ledger
from .hashing import canonical_json, compute_entry_hash
from .head import check_no_restart, record_head
from .proofs import LedgerProofs

GENESIS_HASH = "0" * 64
BUSY_TIMEOUT_S = 60.0

# Keys that would carry note text into the ledger. Matched on the lower-cased key.
_TEXT_KEYS = {"text", "texts", "note", "notes", "note_text", "raw_text", "content", "body", "document", "documents"}
_TEXT_KEY_SUFFIXES = ("_text", "_texts", "_notes")
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

APPEND_ONLY_TRIGGERS = ("entries_no_update", "entries_no_delete")  # created with the schema below
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq        INTEGER PRIMARY KEY,
    ts_utc     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    entry_hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'the STEU ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'the STEU ledger is append-only'); END;
"""


def _check_no_text(obj: Any, where: str = "payload") -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: keys must be strings (got {key!r})")
            low = key.lower()
            if low in _TEXT_KEYS or low.endswith(_TEXT_KEY_SUFFIXES):
                raise ValueError(f"{where}.{key}: the ledger stores hashes, counts and metadata only, never text "
                                 "content; store a SHA-256 and a row count instead")
            _check_no_text(value, f"{where}.{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _check_no_text(value, f"{where}[{i}]")


@dataclass
class VerifyResult:
    """Outcome of :meth:`Ledger.verify`. ``first_broken_seq`` is None when the chain is intact."""

    ok: bool
    n_entries: int
    first_broken_seq: int | None = None
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def default_path() -> Path:
    return steu_home() / LEDGER_FILE


class Ledger(LedgerProofs):
    """The hash-chained ledger at ``path`` (default: ``steu_home()/ledger.sqlite``).

    Its Merkle tree, proofs and checkpoints are the methods of :class:`.proofs.LedgerProofs`.
    """

    def __init__(self, path: str | Path | None = None, busy_timeout_s: float | None = None):
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.busy_timeout_s = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s

    # -- connection -------------------------------------------------------------------------
    def _connect(self, *, write: bool) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit). Only writers create the schema."""
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(self.path), timeout=self.busy_timeout_s, isolation_level=None)
        con.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        if write:
            try:
                con.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
            except sqlite3.OperationalError:  # e.g. a file system without shared memory: keep the default
                pass
            con.executescript(_SCHEMA)
        return con

    # -- writing ------------------------------------------------------------------------------
    def append(self, kind: str, payload: dict) -> dict:
        """Add one entry and return it as stored (with seq, ts_utc, prev_hash, entry_hash).

        Raises ValueError for an invalid kind, a payload that is not a JSON object, or a payload key
        that names text content.
        """
        if not isinstance(kind, str) or not _KIND_RE.match(kind):
            raise ValueError(f"ledger kind must be a short lower-case word (got {kind!r})")
        if not isinstance(payload, dict):
            raise ValueError(f"ledger payload must be a dict (got {type(payload).__name__})")
        _check_no_text(payload)
        payload_json = canonical_json(payload)
        con = self._connect(write=True)
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                row = con.execute("SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
                check_no_restart(self.path, row[0] if row else 0)  # never a silent new chain
                seq = (row[0] + 1) if row else 1
                prev_hash = row[1] if row else GENESIS_HASH
                ts = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
                entry_hash = compute_entry_hash(seq, ts, kind, payload_json, prev_hash)
                con.execute("INSERT INTO entries (seq, ts_utc, kind, payload, prev_hash, entry_hash) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (seq, ts, kind, payload_json, prev_hash, entry_hash))
                con.execute("COMMIT")
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise
        finally:
            con.close()
        record_head(self)
        return {"seq": seq, "ts_utc": ts, "kind": kind, "payload": json.loads(payload_json),
                "prev_hash": prev_hash, "entry_hash": entry_hash}

    # -- reading ------------------------------------------------------------------------------
    def missing_triggers(self) -> list[str]:
        """The append-only triggers the database lacks (dropped: rows could be changed or deleted meanwhile; the
        next append creates them again, so ``ledger verify`` reports them while they are missing)."""
        if not self.path.is_file():
            return []
        con = self._connect(write=False)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        finally:
            con.close()
        return [t for t in APPEND_ONLY_TRIGGERS if t not in names]

    def _rows(self) -> list[tuple]:
        if not self.path.is_file():
            return []
        con = self._connect(write=False)
        try:
            return con.execute("SELECT seq, ts_utc, kind, payload, prev_hash, entry_hash FROM entries "
                               "ORDER BY seq").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # an empty file: nothing appended yet
                return []
            raise unreadable_ledger(self.path, exc) from None
        except sqlite3.DatabaseError as exc:  # not a SQLite file, or a damaged one
            raise unreadable_ledger(self.path, exc) from None
        finally:
            con.close()

    @staticmethod
    def _as_entry(row: tuple) -> dict:
        seq, ts, kind, payload, prev_hash, entry_hash = row
        try:
            parsed = json.loads(payload)
        except (TypeError, json.JSONDecodeError):
            parsed = {"_unreadable_payload": True}
        return {"seq": seq, "ts_utc": ts, "kind": kind, "payload": parsed, "prev_hash": prev_hash,
                "entry_hash": entry_hash}

    def entries(self) -> list[dict]:
        """Every entry, oldest first, with the payload parsed."""
        return [self._as_entry(r) for r in self._rows()]

    def __len__(self) -> int:
        return len(self._rows())

    def find(self, kind: str | None = None, **fields: Any) -> list[dict]:
        """Entries of ``kind`` (any kind if None) whose payload has every ``field=value`` given, oldest first."""
        out = []
        for e in self.entries():
            if kind is not None and e["kind"] != kind:
                continue
            if all(e["payload"].get(k) == v for k, v in fields.items()):
                out.append(e)
        return out

    def find_run(self, run_id: str) -> dict | None:
        """The newest entry of kind "run" for ``run_id``, or None."""
        hits = self.find("run", run_id=run_id)
        return hits[-1] if hits else None

    def find_hash(self, entry_hash: str) -> dict | None:
        """The entry with this hash (an anchor kept outside the ledger), or None."""
        entry_hash = entry_hash.strip().lower()
        return next((e for e in self.entries() if e["entry_hash"] == entry_hash), None)

    # -- checking -----------------------------------------------------------------------------
    def verify(self) -> VerifyResult:
        """Walk the chain from the first entry; stop at the first entry that does not fit."""
        return self._verify_rows(self._rows())

    @staticmethod
    def _verify_rows(rows: list[tuple]) -> VerifyResult:
        """The chain check of :meth:`verify` over rows already read (so that a checkpoint or proof is
        made from exactly the rows that were checked)."""
        prev_hash = GENESIS_HASH
        for expected_seq, (seq, ts, kind, payload, stored_prev, stored_hash) in enumerate(rows, start=1):
            if seq != expected_seq:
                missing = f"entries {expected_seq}-{seq - 1} are" if seq - 1 > expected_seq else f"entry {expected_seq} is"
                return VerifyResult(False, len(rows), expected_seq,
                                    f"{missing} missing: the entry after {expected_seq - 1} has seq {seq}")
            if stored_prev != prev_hash:
                what = "the first entry" if seq == 1 else f"entry {seq - 1}"
                return VerifyResult(False, len(rows), seq,
                                    f"entry {seq}: prev_hash does not match the hash of {what} "
                                    "(an entry before it was removed, replaced or reordered)")
            try:
                canonical = canonical_json(json.loads(payload))
            except (TypeError, ValueError, json.JSONDecodeError):
                return VerifyResult(False, len(rows), seq, f"entry {seq}: payload is not valid JSON")
            if canonical != payload:
                return VerifyResult(False, len(rows), seq, f"entry {seq}: payload is not in canonical form (edited)")
            if _entry_hash_or_none(seq, ts, kind, payload, stored_prev) != stored_hash:
                return VerifyResult(False, len(rows), seq,
                                    f"entry {seq}: contents do not match its entry_hash (edited or swapped)")
            prev_hash = stored_hash
        return VerifyResult(True, len(rows), None, f"{len(rows)} entries, chain intact")


def _entry_hash_or_none(seq, ts, kind, payload, prev_hash) -> str | None:
    """The entry's hash, or None when a field is not text (written into the database by hand)."""
    try:
        return compute_entry_hash(seq, ts, kind, payload, prev_hash)
    except (TypeError, ValueError):
        return None


# -- command line ---------------------------------------------------------------------------------
def entry_summary(payload: dict, limit: int = 90) -> str:
    """One line naming an entry's request, run, outcome and other identifiers (never note text)."""
    keys = ("request_id", "run_id", "outcome", "verdict", "method", "forget_class", "forget_rows", "requester",
            "operator", "pdf_sha256")
    if not isinstance(payload, dict):
        return "(unreadable payload)"
    parts = [f"{k}={payload[k]}" for k in keys if payload.get(k) not in (None, "")]
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."
