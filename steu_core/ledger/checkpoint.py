"""Checkpoints (c2sp.org/tlog-checkpoint): a signed statement "the ledger had N entries, root R".

A checkpoint is a signed note (:mod:`.note`) whose text is three lines::

    <origin: the signing key's name, which names the log>
    <tree size: the number of entries, decimal>
    <root hash: base64 of the RFC 9162 Merkle tree root over the first N entries>

The leaf of ledger entry ``seq`` is the 32 bytes of its entry hash, recomputed from its fields
(SHA-256 of the canonical JSON ``[seq, ts_utc, kind, payload, prev_hash]``), so that a checkpoint
commits to every field of every entry up to N and to their order. Leaf ``i`` (0-based) is entry
``seq = i + 1``.

Given a checkpoint held outside the hospital, :func:`check_extends` proves that today's ledger
extends it: today's first N entries hash to the checkpoint's root, and an RFC 9162 consistency proof
from size N to today's size verifies. :func:`verify_inclusion` checks one entry against a checkpoint
with only the entry's hash, its audit path and the public key (what a report embeds).
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import merkle
from .errors import LedgerError
from .hashing import canonical_json, compute_entry_hash
from .keys import load_verifier
from .note import SignerKey, VerifierKey, open_note, sign_note

_SIZE_RE = re.compile(r"^(0|[1-9][0-9]{0,18})$")
_HEX_HASH_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Checkpoint:
    """The text of a checkpoint: origin, tree size, root hash (and opaque extension lines)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> "Checkpoint":
        """Read a (signature-checked) note text; a malformed one is a :class:`LedgerError`."""
        lines = text.split("\n")[:-1]  # the text ends with a newline
        if len(lines) < 3 or not all(lines):
            raise LedgerError("the checkpoint's text must be at least three non-empty lines: origin, tree size, "
                              "root hash.")
        origin, size, root_b64 = lines[:3]
        if not _SIZE_RE.match(size):
            raise LedgerError(f"the checkpoint's tree size {size[:40]!r} is not a decimal number.")
        try:
            root = base64.b64decode(root_b64.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            root = b""
        if len(root) != merkle.HASH_SIZE:
            raise LedgerError("the checkpoint's root hash is not the base64 of a 32-byte SHA-256 hash.")
        return cls(origin, int(size), root, tuple(lines[3:]))

    def as_dict(self) -> dict:
        return {"origin": self.origin, "tree_size": self.size, "root_hash": self.root.hex()}


def make_checkpoint(leaf_hashes: list[bytes], signer: SignerKey) -> str:
    """The signed checkpoint of the tree over ``leaf_hashes``; its origin is the signer's name."""
    cp = Checkpoint(signer.name, len(leaf_hashes), merkle.root_of_leaf_hashes(leaf_hashes))
    return sign_note(cp.body(), signer)


def open_checkpoint(note: str, key: VerifierKey) -> tuple[Checkpoint | None, str]:
    """``(checkpoint, "")`` when ``note`` is a checkpoint signed by ``key``, else ``(None, reason)``.

    The signature is checked before the text is read (the signed-note spec: unsigned text means
    nothing). A note that is not a signed note at all raises :class:`LedgerError`.
    """
    text, reason = open_note(note, key)
    if text is None:
        return None, reason
    cp = Checkpoint.parse(text)
    if cp.origin != key.name:
        return None, f"the checkpoint is for the log {cp.origin!r}, but the key is {key.name!r}'s"
    return cp, ""


@dataclass
class CheckpointResult:
    """Outcome of checking today's ledger against a checkpoint. Hashes are hex."""

    ok: bool
    reason: str
    checkpoint: dict = field(default_factory=dict)
    ledger_size: int = 0
    ledger_root: str = ""
    root_at_checkpoint_size: str = ""
    consistency_path: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def check_extends(leaf_hashes: list[bytes], cp: Checkpoint, chain_intact: bool = True) -> CheckpointResult:
    """Does the ledger with these leaves extend ``cp``? (The signature is the caller's business.)

    ``chain_intact`` only sharpens the message: a broken root with an intact hash chain means the chain
    was rewritten consistently, which only someone who could write the database could do.
    """
    n, m = len(leaf_hashes), cp.size
    res = CheckpointResult(False, "", cp.as_dict(), n, merkle.root_of_leaf_hashes(leaf_hashes).hex())
    if n < m:
        res.reason = (f"the ledger has {n} entries but the checkpoint covers {m}: entries {n + 1}-{m} were "
                      "removed (the ledger was rolled back, truncated or replaced)")
        return res
    old_root = merkle.root_of_leaf_hashes(leaf_hashes, m)
    res.root_at_checkpoint_size = old_root.hex()
    if old_root != cp.root:
        how = (" The hash chain itself is intact, so it was recomputed after the change: the database was "
               "rewritten by someone who could write it." if chain_intact else "")
        res.reason = (f"the ledger's first {m} entries do not hash to the checkpoint's root (checkpoint "
                      f"{cp.root.hex()[:16]}..., ledger {old_root.hex()[:16]}...): an entry up to seq {m} was "
                      f"changed, removed, inserted or reordered, or the ledger was rebuilt.{how}")
        return res
    path = merkle.consistency_path(leaf_hashes, m, n)
    res.consistency_path = [h.hex() for h in path]
    if not merkle.verify_consistency(m, n, cp.root, bytes.fromhex(res.ledger_root), path):
        res.reason = f"the consistency proof from {m} to {n} entries does not verify"
        return res
    res.ok = True
    res.reason = (f"the ledger's {n} entries are exactly the checkpoint's (same Merkle root)" if n == m else
                  f"the ledger ({n} entries) extends the checkpoint of {m} entries: its first {m} entries hash to "
                  f"the checkpoint's root and the consistency proof ({len(path)} hashes) verifies")
    return res


def as_verifier(public_key: Any) -> VerifierKey:
    """A :class:`VerifierKey` from a key, its one-line text form, or a file (``Path``) holding it."""
    if isinstance(public_key, VerifierKey):
        return public_key
    if isinstance(public_key, SignerKey):
        return public_key.verifier()
    if isinstance(public_key, Path):
        return load_verifier(public_key)
    if isinstance(public_key, str):
        return VerifierKey.from_text(public_key)
    raise LedgerError(f"a public key must be a VerifierKey, its text or a Path (got {type(public_key).__name__}).")


def verify_inclusion(leaf: Any, proof: dict, checkpoint_text: str, public_key: Any) -> tuple[bool, str]:
    """Check offline that a ledger entry is in the log a signed checkpoint describes.

    ``leaf``: the entry (a dict with seq, ts_utc, kind, payload, prev_hash: its hash is recomputed from
    these fields, which proves the fields), or its entry hash (64 hex digits or 32 bytes).
    ``proof``: the dict of :meth:`Ledger.inclusion_proof` made at the checkpoint's tree size.
    ``checkpoint_text``: the signed checkpoint. ``public_key``: a :class:`VerifierKey`, its one-line
    text (as printed by ``ledger key``) or a ``Path`` to a file holding it.

    Returns ``(True, what was proven)`` or ``(False, why not)``; never raises for bad evidence.
    """
    try:
        key = as_verifier(public_key)
        cp, reason = open_checkpoint(checkpoint_text, key)
        if cp is None:
            return False, f"checkpoint: {reason}"
        entry_hash = _leaf_entry_hash(leaf)
        index, size, path = _read_inclusion_proof(proof, entry_hash)
    except LedgerError as exc:
        return False, str(exc)
    if size != cp.size:
        return False, (f"the proof is for a tree of {size} entries, the checkpoint covers {cp.size}: make the "
                       f"proof at the checkpoint's size (Ledger.inclusion_proof(seq, tree_size={cp.size}))")
    if not merkle.verify_inclusion(index, size, merkle.leaf_hash(entry_hash), path, cp.root):
        return False, (f"the audit path does not lead from this entry to the checkpoint's root: it is not entry "
                       f"{index + 1} of the signed log, or it was changed")
    return True, (f"entry {index + 1} (hash {entry_hash.hex()[:16]}...) is in the log {cp.origin} of {cp.size} "
                  f"entries signed by key ID {key.key_id.hex()}")


def _leaf_entry_hash(leaf: Any) -> bytes:
    """The 32-byte entry hash of ``leaf``: recomputed from an entry's fields, or given as hex/bytes."""
    if isinstance(leaf, dict):
        try:
            computed = compute_entry_hash(leaf["seq"], leaf["ts_utc"], leaf["kind"], canonical_json(leaf["payload"]),
                                          leaf["prev_hash"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerError(f"the entry lacks a field or has a bad one ({exc}).") from None
        if leaf.get("entry_hash") not in (None, computed):
            raise LedgerError("the entry's fields do not match its entry_hash: the entry was changed.")
        return bytes.fromhex(computed)
    if isinstance(leaf, (bytes, bytearray)) and len(leaf) == merkle.HASH_SIZE:
        return bytes(leaf)
    if isinstance(leaf, str) and _HEX_HASH_RE.match(leaf.strip().lower()):
        return bytes.fromhex(leaf.strip())
    raise LedgerError("the leaf must be a ledger entry (dict) or its entry hash (64 hex digits or 32 bytes).")


def _read_inclusion_proof(proof: dict, entry_hash: bytes) -> tuple[int, int, list[bytes]]:
    """(leaf index, tree size, audit path) of a proof dict, checked for shape and for the entry."""
    try:
        index, size, hexes = int(proof["leaf_index"]), int(proof["tree_size"]), list(proof["audit_path"])
    except (KeyError, TypeError, ValueError):
        raise LedgerError("the proof needs leaf_index, tree_size and audit_path (a list of hex hashes).") from None
    if not all(isinstance(h, str) and _HEX_HASH_RE.match(h) for h in hexes):
        raise LedgerError("the proof's audit_path must be a list of 64-digit lower-case hex hashes.")
    if proof.get("entry_hash") not in (None, entry_hash.hex()):
        raise LedgerError("the proof is for another entry (its entry_hash differs from the leaf's).")
    if proof.get("seq") not in (None, index + 1):
        raise LedgerError(f"the proof's seq {proof.get('seq')} is not its leaf_index + 1 ({index + 1}).")
    return index, size, [bytes.fromhex(h) for h in hexes]


def verify_consistency_between(old_checkpoint: str, new_checkpoint: str, proof: dict,
                               public_key: Any) -> tuple[bool, str]:
    """Check offline that the log of ``new_checkpoint`` extends that of ``old_checkpoint`` (both signed
    by ``public_key``), with the dict of :meth:`Ledger.consistency_proof` between their sizes.

    Returns ``(True, what was proven)`` or ``(False, why not)``; never raises for bad evidence.
    """
    try:
        key = as_verifier(public_key)
        (old, why_old), (new, why_new) = open_checkpoint(old_checkpoint, key), open_checkpoint(new_checkpoint, key)
        hexes = list(proof["consistency_path"])
        if not all(isinstance(h, str) and _HEX_HASH_RE.match(h) for h in hexes):
            raise LedgerError("the proof's consistency_path must be a list of 64-digit lower-case hex hashes.")
    except (KeyError, TypeError):
        return False, "the proof needs consistency_path (a list of hex hashes)."
    except LedgerError as exc:
        return False, str(exc)
    if old is None or new is None:
        return False, f"{'older' if old is None else 'newer'} checkpoint rejected: {why_old or why_new}"
    if (proof.get("old_size"), proof.get("new_size")) not in ((None, None), (old.size, new.size)):
        return False, f"the proof is from {proof.get('old_size')} to {proof.get('new_size')} entries, the " \
                      f"checkpoints cover {old.size} and {new.size}"
    if not merkle.verify_consistency(old.size, new.size, old.root, new.root, [bytes.fromhex(h) for h in hexes]):
        return False, (f"the checkpoint of {new.size} entries does not extend the one of {old.size}: the log was "
                       "rewritten between them (or the proof is not for these checkpoints)")
    return True, f"the log of {new.size} entries extends the one of {old.size} entries ({old.origin})"
