"""The STEU ledger: an append-only, hash-chained log of requests, runs and reports, with a Merkle
tree over its entries, signed checkpoints and offline proofs.

Modules: ``store`` (the SQLite log and its hash chain), ``hashing`` (the bytes that are hashed),
``merkle`` (RFC 9162 tree, pure functions), ``note`` (C2SP signed notes, Ed25519 keys), ``keys``
(the signing key on disk), ``checkpoint`` (C2SP checkpoints; offline checks), ``proofs`` (the
ledger's tree, proofs and checkpoints), ``files`` (is this file a ledger?), ``figures`` (the figures a
run entry pins), ``errors``.
The names below are the ones other code imports as ``steu_core.ledger.X``.
"""
from __future__ import annotations

from .checkpoint import Checkpoint, CheckpointResult, verify_consistency_between, verify_inclusion
from .errors import LedgerError
from .files import LEDGER_FILE, check_ledger_file
from .hashing import canonical_json, compute_entry_hash, entry_leaf
from .keys import default_key_path, load_verifier, signer_for
from .note import SignerKey, VerifierKey
from .store import BUSY_TIMEOUT_S, GENESIS_HASH, Ledger, VerifyResult, default_path, entry_summary


__all__ = ["BUSY_TIMEOUT_S", "Checkpoint", "CheckpointResult", "GENESIS_HASH", "LEDGER_FILE", "Ledger", "LedgerError",
           "SignerKey", "VerifierKey", "VerifyResult", "canonical_json", "check_ledger_file", "compute_entry_hash",
           "default_key_path", "default_path", "entry_leaf", "entry_summary", "load_verifier",
           "signer_for", "verify_consistency_between", "verify_inclusion"]
