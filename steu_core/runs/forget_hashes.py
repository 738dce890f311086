"""A deletion request's forget notes by hash, and the files it names, kept so that the request can be erased later.

Every run made for a request records, in its ledger "request" entry, the Merkle root and count of the hashes
of its forget notes found in the training file (the notes the model was trained on) and where the request's
files are, with their content hashes (paths and hashes only, never text). The sorted hash list itself is kept
in the data directory under its root (``requests/forget-<root>.json``), where an erasure finds it again.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data import NoteSet, note_digest
from ..errors import DataError
from ..model import file_sha256, write_json_atomic
from ..paths import subdir
from ..training_manifest import HashList

FORGET_LIST_PREFIX = "forget-"


def forget_hash_list(forget: NoteSet, members: np.ndarray) -> HashList:
    """The hashes of the forget notes that are training notes (each note once)."""
    return HashList.of(note_digest(t).hex() for t, member in zip(forget.texts, members) if member)


def keep_forget_hashes(hashes: HashList) -> dict:
    """Store the sorted list under its root (once) and return its summary for the ledger."""
    path = forget_list_path(hashes.root)
    if not path.exists():
        write_json_atomic(path, {"merkle_root": hashes.root, "count": len(hashes), "note_sha256": list(hashes.hashes)})
    return hashes.summary()


def forget_list_path(root: str) -> Path:
    return subdir("requests") / f"{FORGET_LIST_PREFIX}{root}.json"


def load_forget_hashes(summary: dict, request_id: str) -> HashList:
    """The forget-note hashes a request recorded, checked against the root its ledger entry pins."""
    path = forget_list_path(str(summary.get("merkle_root")))
    try:
        listed = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        raise DataError(f"the forget-note hashes of request '{request_id}' are not in this data directory "
                        f"({path.name}).", hint="Run the request again (python -m steu_core unlearn with its "
                        "--request-id, or the dashboard) on this machine to record them.") from None
    hashes = HashList.of(listed.get("note_sha256") or [])
    if hashes.root != summary.get("merkle_root") or len(hashes) != summary.get("count"):
        raise DataError(f"the kept forget-note hashes of request '{request_id}' do not match its ledger entry.",
                        file=str(path), hint="The file was changed; run the request again to record them anew.")
    return hashes


def request_files(req) -> dict:
    """Where the request's files are, with their hashes: what an erasure and its audits read again."""
    out = {"train": _file_fact(req.train), "eval": _file_fact(req.eval)}
    if req.forget_ids:
        out["forget_ids"] = _file_fact(req.forget_ids)
    elif req.forget:
        out["forget"] = _file_fact(req.forget)
    elif getattr(req, "forget_from_run", None):  # the forget set of an earlier run, found again by its hashes
        out["forget_from_run"] = {"path": str(Path(req.forget_from_run).expanduser().resolve())}
    columns = {k: getattr(req, k) for k in ("id_column", "text_column", "label_column", "forget_text_column",
                                               "forget_label_column") if getattr(req, k, None)}
    return {**out, "columns": columns} if columns else out


def _file_fact(path) -> dict:
    p = Path(path).expanduser().resolve()
    return {"path": str(p), "file_sha256": file_sha256(p)}


def request_record(req, data) -> dict:
    """What a run's ledger "request" entry adds for its deletion request: the forget notes by hash (the list
    kept in the data directory) and the request's files."""
    return {"forget_set": keep_forget_hashes(forget_hash_list(data.forget, data.members)), "files": request_files(req)}
