"""Training manifests: which notes a model was trained on, by hash, so that the absence of a note can be
proven without the training text.

A manifest holds the SHA-256 of every training note used (:func:`steu_core.data.note_digest`: the note's
UTF-8 text, line endings normalised, the hash the membership check matches notes by), as a sorted list,
with the count and the RFC 9162 Merkle root of that list. A note is absent when its hash falls strictly
between two neighbouring entries of the sorted list (or before the first, after the last): the proof is
those neighbours with their inclusion paths to the root, checkable with the root alone.
"""
from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .data import NoteSet, note_digest
from .errors import DataError
from .ledger.merkle import inclusion_path, leaf_hash, root_of_leaf_hashes, verify_inclusion

MANIFEST_FILE = "training_manifest.json"
MANIFEST_FORMAT = "steu-training-manifest/1"
NOTE_HASH_RULE = ("SHA-256 of each note's UTF-8 text with line endings normalised to LF (the hash by which the "
                  "membership check matches notes); the list is sorted, and its Merkle root is RFC 9162's over "
                  "the 32-byte hashes as leaves")


def note_hashes(notes: NoteSet | Iterable[str]) -> list[str]:
    """The sorted hex SHA-256 of every note (a note present twice is listed twice)."""
    texts = notes.texts if isinstance(notes, NoteSet) else notes
    return sorted(note_digest(t).hex() for t in texts)


def merkle_root(sorted_hashes: Sequence[str]) -> str:
    return root_of_leaf_hashes(_leaves(sorted_hashes)).hex()


def _leaves(sorted_hashes: Sequence[str]) -> list[bytes]:
    return [leaf_hash(bytes.fromhex(h)) for h in sorted_hashes]


@dataclass(frozen=True)
class HashList:
    """A sorted list of note hashes and its root, checked when read."""

    hashes: tuple[str, ...]
    root: str

    @classmethod
    def of(cls, hashes: Iterable[str]) -> "HashList":
        ordered = tuple(sorted(hashes))
        return cls(ordered, merkle_root(ordered))

    def __len__(self) -> int:
        return len(self.hashes)

    def __contains__(self, h: str) -> bool:
        i = bisect.bisect_left(self.hashes, h)
        return i < len(self.hashes) and self.hashes[i] == h

    def summary(self) -> dict:
        return {"count": len(self.hashes), "merkle_root": self.root}

    def absence_proof(self, h: str) -> dict:
        """Why ``h`` is not in the list: its sorted neighbours with their inclusion paths (to :attr:`root`)."""
        if h in self:
            raise ValueError("the hash is in the list: it has no absence proof")
        i = bisect.bisect_left(self.hashes, h)
        leaves = _leaves(self.hashes)
        return {"note_sha256": h, "size": len(self.hashes), "root": self.root,
                "left": self._neighbour(leaves, i - 1), "right": self._neighbour(leaves, i)}

    def _neighbour(self, leaves: list[bytes], index: int) -> dict | None:
        if not 0 <= index < len(self.hashes):
            return None
        return {"index": index, "note_sha256": self.hashes[index],
                "path": [p.hex() for p in inclusion_path(leaves, index)]}


def check_absence_proof(proof: dict, root: str) -> bool:
    """True when ``proof`` shows, against ``root`` alone, that its note hash is not in the sorted list: the
    neighbours are adjacent leaves of that tree (or the list's ends) and the hash lies strictly between them."""
    h, size, left, right = proof["note_sha256"], int(proof["size"]), proof.get("left"), proof.get("right")
    if size == 0:
        return root == merkle_root([]) and left is None and right is None
    if not (left or right):
        return False
    if left is None and right["index"] != 0 or right is None and left["index"] != size - 1:
        return False  # a missing neighbour is only allowed at an end of the list
    if left and right and right["index"] != left["index"] + 1:
        return False
    for side in (left, right):
        if side and not verify_inclusion(side["index"], size, leaf_hash(bytes.fromhex(side["note_sha256"])),
                                         [bytes.fromhex(p) for p in side["path"]], bytes.fromhex(root)):
            return False
    return (left is None or left["note_sha256"] < h) and (right is None or h < right["note_sha256"])


def write_manifest(directory: Path, hashes: HashList, facts: dict) -> Path:
    """``training_manifest.json`` in ``directory``: the facts of the training and the sorted hash list."""
    body = {"format": MANIFEST_FORMAT, "note_hash": NOTE_HASH_RULE, **facts, **hashes.summary(),
            "note_sha256": list(hashes.hashes)}
    path = Path(directory) / MANIFEST_FILE
    path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_manifest(path: Path) -> tuple[dict, HashList]:
    """A manifest and its hash list, refused when the list is not sorted or does not give its stated root."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"no training manifest at '{path}'.", hint="Give the directory of a model this tool trained "
                        "(it writes training_manifest.json beside the weights).") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"'{path}' is not a training manifest (not JSON).", file=str(path)) from None
    hashes = tuple(body.get("note_sha256") or ())
    if body.get("format") != MANIFEST_FORMAT or list(hashes) != sorted(hashes):
        raise DataError(f"'{path}' is not a valid training manifest (format or order).", file=str(path))
    listed = HashList(hashes, merkle_root(hashes))
    if listed.root != body.get("merkle_root") or len(listed) != body.get("count"):
        raise DataError(f"the training manifest '{path}' does not hash to the root and count it states: it was "
                        "changed after it was written.", file=str(path))
    return body, listed
