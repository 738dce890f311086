"""The bytes that the ledger hashes: canonical JSON, entry hashes and Merkle leaves.

One place for them, because three things must agree on them byte for byte: the hash chain
(:mod:`.store`), the Merkle tree over the entries (:mod:`.proofs`) and the offline check of an
entry against a checkpoint (:mod:`.checkpoint`).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def canonical_json(obj: Any) -> str:
    """The one text form of a JSON value: sorted keys, no spaces, UTF-8, finite numbers only."""

    def default(o):
        if hasattr(o, "item") and callable(o.item):  # numpy scalars
            return o.item()
        if isinstance(o, Path):
            return str(o)
        if isinstance(o, (set, frozenset)):
            return sorted(o)
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")

    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                          default=default)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"ledger payload is not canonical JSON: {exc}") from None


def compute_entry_hash(seq: int, ts_utc: str, kind: str, payload_json: str, prev_hash: str) -> str:
    """SHA-256 (hex) of the canonical JSON array [seq, ts_utc, kind, payload_json, prev_hash]."""
    material = canonical_json([int(seq), ts_utc, kind, payload_json, prev_hash])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def entry_leaf(seq: int, ts_utc: str, kind: str, payload_json: str, prev_hash: str) -> bytes:
    """The Merkle leaf of an entry: the 32 bytes of its entry hash, recomputed from its fields (never
    read from the stored entry_hash column, so that the tree commits to the fields themselves)."""
    return bytes.fromhex(compute_entry_hash(seq, ts_utc, kind, payload_json, prev_hash))
