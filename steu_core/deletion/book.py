"""Every deletion request's state, read back from the ledger: nothing about a request is kept elsewhere.

A request's history is built from three kinds of entries: the "request" entry of every run made for it (the
first one receives it; each names the method and carries the forget notes' hash root and the files), the
"run" entry of each finished run (a successful sparse run contains it) and its own "request_state" entries
(received explicitly, erasure scheduled, erased, verified, closed, declined). Each event keeps its ledger time,
the person who acted and the entry hash that proves it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..errors import ConfigError
from ..ledger import Ledger
from ..reference import ERASED as ERASED_METHOD, ORACLE
from .states import CLOSED, CONTAINED, DECLINED, LEDGER_KIND, OWED, RECEIVED, SCHEDULED, can_move

NOT_CONTAINING = {ORACLE, ERASED_METHOD}  # runs that are references or audits, not containment
DEADLINE_ENV = "STEU_ERASURE_DAYS"


@dataclass(frozen=True)
class Event:
    """One step of a request: its state, when (ledger time, UTC), who, and the entry that proves it."""

    state: str
    at: str
    actor: str
    entry_hash: str
    detail: dict = field(default_factory=dict)
    moved: bool = True  # False: on record, but it did not change the state (e.g. a second containment)


@dataclass
class RequestStatus:
    request_id: str
    state: str | None = None
    events: list[Event] = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # requester, reason, class, forget set, files, original model

    @property
    def received_at(self) -> str | None:
        return next((e.at for e in self.events if e.state == RECEIVED), None)

    def latest(self, state: str) -> Event | None:
        return next((e for e in reversed(self.events) if e.state == state and e.moved), None)

    @property
    def owed(self) -> str:
        return OWED.get(self.state or RECEIVED, "")

    def erasure_due(self) -> str | None:
        """The date erasure is due: a scheduled date, else received + $STEU_ERASURE_DAYS (None: no deadline, or
        no erasure owed any more)."""
        if self.state not in (None, RECEIVED, CONTAINED, SCHEDULED):
            return None
        scheduled = self.latest(SCHEDULED)
        if scheduled and scheduled.detail.get("due"):
            return scheduled.detail["due"]
        days = erasure_days()
        if days is None or not self.received_at:
            return None
        return (parse_time(self.received_at) + timedelta(days=days)).date().isoformat()

    def apply(self, event: Event) -> None:
        moved = can_move(self.state, event.state) and not (event.state == RECEIVED and self.state)
        self.events.append(Event(event.state, event.at, event.actor, event.entry_hash, event.detail, moved))
        if moved:
            self.state = event.state


def erasure_days() -> int | None:
    raw = os.environ.get(DEADLINE_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{DEADLINE_ENV} must be a whole number of days, 1 or more (got {raw!r}).",
                          hint=f"Set e.g. {DEADLINE_ENV}=30, or unset it for no deadline.")
    return int(raw)


def parse_time(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def all_requests(ledger: Ledger | None = None) -> dict[str, RequestStatus]:
    """Every request on record, by id, in the order they were received."""
    entries = (ledger or Ledger()).entries()
    by_hash = {e["entry_hash"]: e for e in entries}
    out: dict[str, RequestStatus] = {}
    for e in entries:
        rid = str(e["payload"].get("request_id") or "")
        event = event_of(e, by_hash)
        if not rid or event is None:
            continue
        status = out.setdefault(rid, RequestStatus(rid))
        if e["kind"] == "request" and status.state is not None:
            continue  # a later run of a received request (a method, an erasure's audit): its runs tell
        if event.state == RECEIVED:
            status.facts.update(request_facts(e["payload"]))
        status.apply(event)
    return out


def find_request(request_id: str, ledger: Ledger | None = None) -> RequestStatus:
    status = all_requests(ledger).get(request_id)
    if status is None:
        raise ConfigError(f"no deletion request '{request_id}' on record in this data directory's ledger.",
                          hint="List them with `python -m steu_core requests`; a request is recorded by its "
                               "first run (--request-id) or by `requests open`.")
    return status


def event_of(entry: dict, by_hash: dict) -> Event | None:
    """The request event an entry records, or None (entries of other kinds, failed runs, reference runs)."""
    p, kind = entry["payload"], entry["kind"]
    actor = str(p.get("actor") or p.get("operator") or "")
    if kind == LEDGER_KIND:
        detail = {k: v for k, v in p.items() if k not in ("request_id", "state", "actor")}
        return Event(str(p.get("state")), entry["ts_utc"], actor, entry["entry_hash"], detail)
    if kind == "request":
        return Event(RECEIVED, entry["ts_utc"], actor, entry["entry_hash"], {"first_run": p.get("run_id")})
    if kind == "run" and p.get("outcome") == "success" and not p.get("supersedes"):
        started = by_hash.get(str(p.get("request_entry")), {}).get("payload", {})
        if started.get("method") in NOT_CONTAINING:
            return None
        return Event(CONTAINED, entry["ts_utc"], str(started.get("operator") or ""), entry["entry_hash"],
                     {"run_id": p.get("run_id"), "method": started.get("method"), "verdict": p.get("verdict"),
                      "verdicts": p.get("verdicts"), "model_sha256": (p.get("hashes") or {}).get("unlearned_model"),
                      "run_dir": p.get("run_dir") or started.get("run_dir")})
    return None


FACT_KEYS = ("requester", "reason", "forget_class", "forget_set", "files", "model_sha256", "model_path")


def request_facts(payload: dict) -> dict:
    return {k: payload[k] for k in FACT_KEYS if payload.get(k) not in (None, "", {})}


def open_requests(ledger: Ledger | None = None) -> list[RequestStatus]:
    return [s for s in all_requests(ledger).values() if s.state not in (DECLINED, CLOSED)]


