"""The request being prepared in the dashboard, kept as a small draft record so that a browser refresh
or a second tab finds it again, with the same request id.

A draft is ``<data dir>/drafts/<draft id>.json`` (owner-only), named by the id of the session's upload
folder (:func:`steu_core.uploads.new_session`), which the dashboard carries in its URL (``?draft=``).
It holds the request's metadata only - request id, requester, reason, operator, class, columns, and
the paths and names of the files chosen (uploads already live, owner-only, in that session's folder
for as long as the request needs them). Never note text: the dashboard passes those fields only, and as
a guard against a slip a value that is not a short string, a number, a boolean, or a dict/list of those
is refused, and so is a draft over :data:`MAX_DRAFT_BYTES`.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path

from .paths import subdir
from .uploads import session_dir

MAX_DRAFT_BYTES = 16 * 1024
RUN_KEY = "draft_run"   # the run started from the draft, until it has ended
RUN_ENDED_STATES = ("finished", "failed", "cancelled", "missing")
MAX_TEXT = 2000         # longest string kept (a reason, a path): a guard against a slip, not a PHI filter
MAX_AGE_S = 30 * 86400  # drafts untouched for this long are deleted when another is written
FILE_MODE = 0o600


def new_request_id() -> str:
    """A fresh request id, "REQ-<UTC date>-<4 hex>": what the dashboard proposes for a new deletion request."""
    return f"REQ-{datetime.now(timezone.utc).strftime('%Y%m%d')}-{secrets.token_hex(2).upper()}"


def drafts_dir() -> Path:
    return subdir("drafts")


def draft_path(draft_id: str) -> Path:
    """The draft's file; an id that is not an upload-session id is refused (ValueError)."""
    session_dir(draft_id)  # the one check of the id's form (a path component, never '..')
    return drafts_dir() / f"{draft_id}.json"


def _check_value(value, where: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _check_value(k, where)
            _check_value(v, f"{where}.{k}")
    elif isinstance(value, list):
        for v in value:
            _check_value(v, where)
    elif isinstance(value, str) and len(value) > MAX_TEXT:
        raise ValueError(f"draft field {where} is {len(value)} characters long: a draft keeps no text")
    elif not (value is None or isinstance(value, (str, bool, int, float))):
        raise ValueError(f"draft field {where} is a {type(value).__name__}")


def save_draft(draft_id: str, record: dict) -> None:
    """Write the draft (atomically, owner-only); unchanged content is not rewritten."""
    _check_value(record, "draft")
    text = json.dumps(record, sort_keys=True)
    if len(text.encode()) > MAX_DRAFT_BYTES:
        raise ValueError(f"a draft is at most {MAX_DRAFT_BYTES} bytes")
    path = draft_path(draft_id)
    if path.is_file() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    remove_old_drafts()


def load_draft(draft_id: str | None) -> dict | None:
    """The draft named ``draft_id``, or None when there is none (or the id is not a draft id)."""
    try:
        record = json.loads(draft_path(str(draft_id)).read_text())
    except (ValueError, OSError):
        return None
    return record if isinstance(record, dict) else None


def remove_draft(draft_id: str) -> None:
    draft_path(draft_id).unlink(missing_ok=True)


def remove_old_drafts(now: float | None = None) -> int:
    """Delete drafts untouched for :data:`MAX_AGE_S` (requests nobody came back to)."""
    now = time.time() if now is None else now
    count = 0
    for f in drafts_dir().glob("*.json"):
        try:
            if now - f.stat().st_mtime > MAX_AGE_S:
                f.unlink()
                count += 1
        except OSError:
            continue
    return count


def after_its_run(record: dict, run_state: str | None) -> dict:
    """The draft's fields that change once the run started from it (``record[RUN_KEY]``) has ended, as
    ``run_state`` (the worker's state of that run) says: a finished run used the request id up, so the next
    request in this tab gets a new one; after a failed or cancelled run the id stays, for the retry. Empty
    while the run goes on, or when the draft started none."""
    if not record.get(RUN_KEY) or run_state not in RUN_ENDED_STATES:
        return {}
    if run_state == "finished":
        return {"request_id": new_request_id(), RUN_KEY: None}
    return {RUN_KEY: None}
