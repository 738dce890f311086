"""The ledger's Merkle tree: roots, inclusion and consistency proofs, signed checkpoints.

:class:`LedgerProofs` is mixed into :class:`~steu_core.ledger.Ledger`; it reads the entries with the
ledger's ``_rows()`` and checks the chain with ``_verify_rows()``. Leaf ``i`` of the tree is entry
``seq = i + 1``; its leaf data is the entry's recomputed hash (:func:`.hashing.entry_leaf`).

Nothing is signed over a broken chain, and no proof is made from one: that would put the hospital's
signature on a ledger that is already known to be damaged.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import merkle
from .checkpoint import Checkpoint, CheckpointResult, as_verifier, check_extends, make_checkpoint, open_checkpoint
from .errors import LedgerError
from .hashing import entry_leaf
from .keys import local_verifier, signer_for
from .note import SignerKey

PROOF_FORMAT = "RFC 9162 SHA-256 Merkle tree; leaf i = entry seq i+1; leaf data = the 32 bytes of its entry_hash"


def leaf_hashes_of(rows: list[tuple]) -> list[bytes]:
    """The Merkle leaf hashes of ledger rows (seq, ts_utc, kind, payload, prev_hash, entry_hash)."""
    return [_leaf_hash_of(row) for row in rows]


def _leaf_hash_of(row: tuple) -> bytes:
    try:
        return merkle.leaf_hash(entry_leaf(*row[:5]))
    except (TypeError, ValueError):  # a field that is not text was written in by hand: no checkpoint holds it
        return merkle.leaf_hash(b"unreadable entry " + repr(row[:5]).encode("utf-8", "replace"))


class LedgerProofs:
    """Merkle-tree methods of the ledger (a mixin: needs ``_rows()`` and ``_verify_rows(rows)``)."""

    def _intact_rows(self, purpose: str) -> list[tuple]:
        """Every row, provided the hash chain is intact (a proof from a broken chain would mislead)."""
        rows = self._rows()
        check = self._verify_rows(rows)
        if not check.ok:
            raise LedgerError(f"cannot {purpose}: the hash chain is broken at entry {check.first_broken_seq} "
                              f"({check.reason}).",
                              hint="Run `python -m steu_core ledger verify`, find out what happened to the database "
                                   "and restore it from a backup first.")
        return rows

    def tree_head(self, tree_size: int | None = None) -> dict:
        """``{"tree_size": N, "root": hex}``: the Merkle root over the first N entries (all if None)."""
        leaves = leaf_hashes_of(self._rows())
        size = len(leaves) if tree_size is None else int(tree_size)
        _check_size(size, len(leaves), "tree_size", minimum=0)
        return {"tree_size": size, "root": merkle.root_of_leaf_hashes(leaves, size).hex()}

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> dict:
        """Proof that entry ``seq`` is in the tree of the first ``tree_size`` entries (default: all).

        Returns ``{"seq", "entry_hash", "leaf_index" (seq - 1), "tree_size", "audit_path" (hex list,
        leaf to root, RFC 9162 2.1.3), "root" (hex), "format"}``. To check it against a checkpoint,
        make it at the checkpoint's size and pass both to :func:`steu_core.ledger.verify_inclusion`.
        Raises :class:`LedgerError` for a seq or size outside the ledger, or a broken chain.
        """
        rows = self._intact_rows("make an inclusion proof")
        leaves = leaf_hashes_of(rows)
        size = len(leaves) if tree_size is None else int(tree_size)
        _check_size(size, len(leaves), "tree_size", minimum=1)
        if not 1 <= int(seq) <= size:
            raise LedgerError(f"entry {seq} is not among the first {size} entries of the ledger.",
                              hint="Check the seq (`python -m steu_core ledger show`).")
        seq = int(seq)
        path = merkle.inclusion_path(leaves, seq - 1, size)
        return {"seq": seq, "entry_hash": entry_leaf(*rows[seq - 1][:5]).hex(), "leaf_index": seq - 1,
                "tree_size": size, "audit_path": [h.hex() for h in path],
                "root": merkle.root_of_leaf_hashes(leaves, size).hex(), "format": PROOF_FORMAT}

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> dict:
        """Proof that the tree of ``new_size`` entries (default: all) extends that of ``old_size``.

        Returns ``{"old_size", "new_size", "old_root", "new_root", "consistency_path" (hex list,
        RFC 9162 2.1.4)}``; check it with :func:`steu_core.ledger.verify_consistency_between`.
        """
        leaves = leaf_hashes_of(self._intact_rows("make a consistency proof"))
        new_size = len(leaves) if new_size is None else int(new_size)
        _check_size(new_size, len(leaves), "new_size", minimum=0)
        _check_size(int(old_size), new_size, "old_size", minimum=0)
        path = merkle.consistency_path(leaves, int(old_size), new_size)
        return {"old_size": int(old_size), "new_size": new_size,
                "old_root": merkle.root_of_leaf_hashes(leaves, int(old_size)).hex(),
                "new_root": merkle.root_of_leaf_hashes(leaves, new_size).hex(),
                "consistency_path": [h.hex() for h in path], "format": PROOF_FORMAT}

    def checkpoint(self, key: SignerKey | str | Path | None = None) -> str:
        """A signed checkpoint (c2sp.org/tlog-checkpoint) of the whole ledger, as text.

        ``key``: a :class:`SignerKey`, a path to a key file, or None for the data directory's key
        (made on first use, owner-only). Raises :class:`LedgerError` for an empty ledger, a broken
        chain or an unusable key.
        """
        signer = key if isinstance(key, SignerKey) else signer_for(key)[0]
        rows = self._intact_rows("sign a checkpoint")
        if not rows:
            raise LedgerError(f"the ledger '{self.path}' is empty: there is nothing to checkpoint yet.",
                              hint="Make a checkpoint after the first request or run has been recorded.")
        return make_checkpoint(leaf_hashes_of(rows), signer)

    def verify_checkpoint(self, checkpoint_text: str, public_key: Any = None) -> CheckpointResult:
        """Check the checkpoint's signature, then that today's ledger extends it.

        ``public_key``: a :class:`VerifierKey`, its text, a ``Path`` to a file holding it, or None
        for the local signing key's public half. ``ok`` is False (with the reason) when the signature
        fails or any of the checkpoint's entries was changed, removed, reordered or rolled back.
        Raises :class:`LedgerError` when the text is not a signed checkpoint or the key is unusable.
        """
        key = as_verifier(public_key) if public_key is not None else local_verifier()
        cp, reason = open_checkpoint(checkpoint_text, key)
        if cp is None:
            return CheckpointResult(False, f"checkpoint rejected: {reason}")
        return self.extends(cp)

    def extends(self, checkpoint: Checkpoint) -> CheckpointResult:
        """Does today's ledger extend ``checkpoint`` (already opened: its signature is not checked here)?"""
        rows = self._rows()
        return check_extends(leaf_hashes_of(rows), checkpoint, chain_intact=self._verify_rows(rows).ok)


def _check_size(size: int, limit: int, name: str, minimum: int) -> None:
    if not minimum <= size <= limit:
        raise LedgerError(f"{name} {size} is outside {minimum}..{limit}.",
                          hint="Sizes count entries; `python -m steu_core ledger show` lists them.")
