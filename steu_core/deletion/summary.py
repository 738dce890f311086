"""A request in words and rows, for the CLI, the dashboard and the report (one wording for all)."""
from __future__ import annotations

from ..threat_models import THREAT_MODELS
from .book import NOT_CONTAINING, Event, RequestStatus, all_requests
from .deploy import serving, stale_model_warnings
from .states import CONTAINED, LABELS, MEANING, RECEIVED, SATISFIES, SCHEDULED


def state_label(state: str | None) -> str:
    return LABELS.get(state, state or "-")


def request_row(status: RequestStatus, model_entries: list[dict]) -> dict:
    """One line of the requests table."""
    serve = serving(status)
    return {"request": status.request_id, "state": state_label(status.state), "since": since(status),
            "class": status.facts.get("forget_class", ""), "owed": status.owed,
            "erasure due": status.erasure_due() or "", "serve": f"{serve['serve']} {str(serve['sha256'] or '')[:12]}",
            "warnings": len(stale_model_warnings(status, model_entries))}


def since(status: RequestStatus) -> str:
    moved = [e for e in status.events if e.moved]
    return moved[-1].at[:19].replace("T", " ") if moved else ""


def event_line(e: Event, keys: tuple[str, ...] = ("verdict", "due", "reason", "erasure")) -> str:
    """'2026-12-07 05:01:02  Contained  by alice  (entry 3f2a...)  steu run run-..., verdict ...'."""
    d = e.detail
    bits = [f"{e.at[:19].replace('T', ' ')}  {state_label(e.state)}  by {e.actor or '-'}  (entry {e.entry_hash[:16]})"]
    if d.get("run_id") or d.get("audit_run"):
        bits.append(f"{d.get('method') or 'audit'} run {d.get('run_id') or d.get('audit_run')}")
    for key in keys:
        if d.get(key):
            bits.append(f"{key} {d[key]}")
    if not e.moved:
        bits.append("(on record; the state did not change)")
    return ", ".join(bits)


def threat_model_line(state: str | None) -> str:
    tm = SATISFIES.get(state or "")
    return f"answers {THREAT_MODELS[tm]}" if tm else ""


def request_lines(status: RequestStatus, model_entries: list[dict]) -> list[str]:
    """The whole request as text: facts, state, what it means and what is owed, the model to serve, history."""
    f, serve = status.facts, serving(status)
    out = [f"Request {status.request_id}: {state_label(status.state)}" + (f" ({threat_model_line(status.state)})"
                                                                         if threat_model_line(status.state) else ""),
           f"  class '{f.get('forget_class', '?')}', {f.get('forget_set', {}).get('count', '?')} forget note(s) by hash"
           f" (root {str(f.get('forget_set', {}).get('merkle_root', ''))[:16]}...),"
           f" requester {f.get('requester') or '-'}"
           f", reason {f.get('reason') or '-'}",
           f"  {MEANING.get(status.state or '', '')}", f"  Owed: {status.owed}"]
    if status.erasure_due():
        out.append(f"  Erasure due by {status.erasure_due()}")
    out.append(f"  Serve: the {serve['serve']} model {serve['sha256'] or '?'} ({serve['why']})"
               + (f"; never the original {serve['retire'][:12]} again" if serve.get("retire") else ""))
    out += [f"  WARNING: {w}" for w in stale_model_warnings(status, model_entries)]
    out.append("  History:")
    out += [f"    {event_line(e)}" for e in status.events]
    return out


def history_rows(status: RequestStatus) -> list[dict]:
    """The request's events as table rows: when, what, who, the proving ledger entry, and what it recorded."""
    return [{"When (UTC)": e.at[:19].replace("T", " "), "State": state_label(e.state), "By": e.actor or "-",
             "Ledger entry": e.entry_hash[:16], "Verdict": str(e.detail.get("verdict") or ""),
             "Recorded": event_line(e, ("due", "reason", "erasure")).split(")", 1)[-1].lstrip(", ")}
            for e in status.events]


def verdict_rows(status: RequestStatus) -> list[dict]:
    """Containment's and erasure's verdicts per attacker (the newest of each), for the request's view."""
    out = []
    for state in ("contained", "erased"):
        event = status.latest(state)
        if event and event.detail.get("verdicts"):
            v = event.detail["verdicts"]
            out.append({"Step": state_label(state), "Run": event.detail.get("run_id") or event.detail.get("audit_run"),
                        **{THREAT_MODELS[tm].capitalize(): v.get(tm, "-") for tm in THREAT_MODELS},
                        "Headline": event.detail.get("verdict", "")})
    return out


def erasure_owed_note(request_id: str, method: str | None) -> str | None:
    """For a containment run's report: that erasure is still owed on its request, and by when (None: the run does
    not contain a request, or the request owes no erasure)."""
    status = all_requests().get(request_id) if request_id else None
    if status is None or method in NOT_CONTAINING or status.state not in (RECEIVED, CONTAINED, SCHEDULED):
        return None
    due = status.erasure_due()
    return (f"Erasure is still owed on request {request_id}: this sparse edit answers an attacker who sees the "
            "model's predictions, but the model file still holds what its encoder learned from the notes. Only a "
            "model trained without them removes that (python -m steu_core erase --requests "
            f"{request_id})" + (f"; due by {due}." if due else "."))
