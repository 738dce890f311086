"""The steps an officer records on a request: open it, schedule its erasure, close it or decline it (the
erasure and its verification record their own states). Each is one ledger entry with the person and time,
refused when the request's state does not allow it."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from ..data import load_notes
from ..demo import resolve_model_path
from ..errors import ConfigError, DataError
from ..ledger import Ledger
from ..model import hash_directory
from ..request import default_operator
from ..runs.forget_hashes import request_record
from ..runs.prepare import RequestData, check_forget_was_trained, load_forget_set, training_members
from .book import all_requests, find_request
from .states import CLOSED, DECLINED, LABELS, LEDGER_KIND, RECEIVED, SCHEDULED, VERIFIED, can_move

MAX_TEXT = 1000


def record_state(request_id: str, state: str, actor: str = "", **detail) -> dict:
    """Append ``state`` for ``request_id`` after checking the move; returns the ledger entry."""
    current = find_request(request_id).state if state != RECEIVED else None
    if not can_move(current, state):
        raise ConfigError(f"request '{request_id}' is {LABELS.get(current, current)}: it cannot become "
                          f"{LABELS[state]}.", hint=move_hint(current, state))
    payload = {"request_id": request_id, "state": state, "actor": actor_name(actor), **detail}
    return Ledger().append(LEDGER_KIND, payload)


def move_hint(current: str | None, state: str) -> str:
    if state == CLOSED:
        return "A request closes once its erasure is verified (verify-erasure --record), or it is declined."
    if current in (CLOSED, DECLINED):
        return "Closed and declined requests are final; open a new request id."
    return "See `python -m steu_core requests show <id>` for what is owed."


def actor_name(actor: str) -> str:
    actor = (actor or "").strip() or default_operator()
    if len(actor) > MAX_TEXT:
        raise ConfigError(f"the person's name is {len(actor)} characters long; at most {MAX_TEXT}.")
    return actor


def check_text(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ConfigError(f"{what} is required.", hint=f"Give {what} (it goes into the ledger and the report).")
    if len(value) > MAX_TEXT:
        raise ConfigError(f"{what} is {len(value)} characters long; at most {MAX_TEXT}.")
    return value


def schedule(request_id: str, due: str, actor: str = "") -> dict:
    try:
        day = date.fromisoformat(due)
    except (TypeError, ValueError):
        raise ConfigError(f"--by must be a date as YYYY-MM-DD (got {due!r}).") from None
    return record_state(request_id, SCHEDULED, actor, due=day.isoformat())


def decline(request_id: str, reason: str, actor: str = "") -> dict:
    return record_state(request_id, DECLINED, actor, reason=check_text(reason, "the reason for declining"))


def close(request_id: str, actor: str = "") -> dict:
    status = find_request(request_id)
    if status.state != VERIFIED:
        raise ConfigError(f"request '{request_id}' is {LABELS.get(status.state, status.state)}: only a verified "
                          "request can be closed.", hint=move_hint(status.state, CLOSED))
    return record_state(request_id, CLOSED, actor, verified_by=status.latest(VERIFIED).entry_hash)


def open_request(req) -> dict:
    """Record a request as received before any run: its people, class, files and forget notes by hash (``req`` is
    an :class:`~steu_core.request.UnlearnRequest`; its ``out`` is not used)."""
    if not req.request_id.strip():
        raise ConfigError("a request needs an id.", hint="Give --request-id, e.g. REQ-17.")
    if req.request_id in all_requests():
        raise ConfigError(f"request '{req.request_id}' is already on record.", hint="Choose a new request id.")
    cols = {"text_column": req.text_column, "label_column": req.label_column, "max_file_mb": req.max_file_mb}
    train = load_notes(req.train, **cols)
    labels = sorted(set(train.labels))
    if req.forget_class not in labels:
        raise DataError(f"the training file has no note of class '{req.forget_class}'.", file=train.name,
                        hint=f"Classes in the file: {', '.join(labels[:20])}.")
    forget = load_forget_set(req, train, req.forget_class, labels, cols)
    members = training_members(forget, train)
    check_forget_was_trained(forget, members, train)
    data = RequestData(train, train, forget, train, labels.index(req.forget_class), members)
    model_path = resolve_model_path(req.model)
    return record_state(req.request_id, RECEIVED, req.operator, requester=check_text(req.requester, "the requester"),
                        reason=check_text(req.reason, "the reason"), forget_class=req.forget_class,
                        model_sha256=hash_directory(model_path)["sha256"], model_path=str(Path(model_path).resolve()),
                        **request_record(req, data))
