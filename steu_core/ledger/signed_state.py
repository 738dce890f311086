"""The last checkpoint this installation signed, kept next to the ledger: the log must never sign a
state that does not extend it (c2sp.org/tlog-checkpoint: a log MUST NOT sign inconsistent
checkpoints). The CLI, the History page and the report all sign through :func:`sign_checkpoint`."""
from __future__ import annotations

import os
from pathlib import Path

from .checkpoint import Checkpoint
from .errors import LedgerError
from .note import SignerKey, parse_note
from .store import Ledger


def last_checkpoint_path(ledger: Ledger) -> Path:
    """Where the last checkpoint signed for this ledger file is kept, next to it."""
    return ledger.path.with_name(ledger.path.name + ".last-checkpoint")


def refuse_to_fork(ledger: Ledger) -> None:
    """Never sign a state that does not extend the last one signed here (c2sp.org/tlog-checkpoint:
    a log MUST NOT sign inconsistent checkpoints). The local copy is no proof (it lives next to the
    database), but it stops the hospital's key from endorsing a rewrite it could have noticed."""
    last = last_checkpoint_path(ledger)
    if not last.is_file():
        return
    try:
        previous = Checkpoint.parse(parse_note(last.read_text(encoding="utf-8"))[0])
    except (OSError, UnicodeDecodeError, LedgerError) as exc:
        raise LedgerError(f"the last checkpoint '{last}' cannot be read ({exc}).",
                          hint="Compare the ledger with the checkpoints your witness holds, then remove that file.") from None
    res = ledger.extends(previous)
    if not res.ok:
        raise LedgerError(f"refusing to sign: {res.reason} (compared with the last checkpoint signed here, '{last}').",
                          hint="Investigate with `ledger verify --checkpoint` against the checkpoints your witness "
                               "holds; restore the ledger from a backup.")


def remember_checkpoint(ledger: Ledger, text: str) -> None:
    last = last_checkpoint_path(ledger)
    tmp = last.with_name(f".{last.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, last)


def sign_checkpoint(ledger: Ledger, signer: SignerKey | None = None, remember: bool = True) -> str:
    """A checkpoint of today's ledger, refused when it would not extend the last one signed here;
    kept as the new last one unless ``remember`` is False (the caller keeps it once it is delivered)."""
    refuse_to_fork(ledger)
    text = ledger.checkpoint(signer)
    if remember:
        remember_checkpoint(ledger, text)
    return text
