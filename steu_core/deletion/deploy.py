"""Which model to serve after each state of a request, and models that would bring its notes back.

After containment: the contained model (the sparse edit); after erasure: the erased model; never the original
again. A model trained after the request was received, from the original or on any of its forget notes (the
ledger's "model" entries, written by ``python -m steu_core train``, with their training manifests), brings
the notes back: it is named in a warning.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..ledger import Ledger
from ..training_manifest import read_manifest
from .book import RequestStatus
from ..runs.forget_hashes import load_forget_hashes
from .states import CLOSED, CONTAINED, DECLINED, ERASED, SCHEDULED, VERIFIED

MODEL_KIND = "model"  # ledger entries of models the tool trained


def serving(status: RequestStatus) -> dict:
    """{"serve": which model, "sha256", "path", "why"} for the request's state; "retire": the original's hash."""
    original = status.facts.get("model_sha256")
    erased, contained = status.latest(ERASED), status.latest(CONTAINED)
    if status.state in (ERASED, VERIFIED, CLOSED) and erased:
        d = erased.detail
        return {"serve": "erased", "sha256": d.get("model_sha256"), "path": str(Path(d.get("erasure", "")) / "model"),
                "why": "trained without the forget notes", "retire": original}
    if status.state in (CONTAINED, SCHEDULED) and contained:
        d = contained.detail
        return {"serve": "contained", "sha256": d.get("model_sha256"),
                "path": str(Path(d["run_dir"]) / "model") if d.get("run_dir") else None,
                "why": "the sparse edit; replace it by the erased model once erasure is done", "retire": original}
    if status.state == DECLINED:
        return {"serve": "unchanged", "sha256": original, "path": status.facts.get("model_path"),
                "why": "the request was declined", "retire": None}
    return {"serve": "original", "sha256": original, "path": status.facts.get("model_path"),
            "why": "nothing is contained yet: contain the request", "retire": None}


def model_entries(ledger: Ledger | None = None) -> list[dict]:
    return (ledger or Ledger()).find(MODEL_KIND)


def stale_model_warnings(status: RequestStatus, entries: list[dict]) -> list[str]:
    """Models trained after the request was received that hold its notes (trained from the original, or on them)."""
    received = status.received_at
    if not received or status.state == DECLINED:
        return []
    forget = load_forget_hashes(status.facts["forget_set"], status.request_id) if "forget_set" in status.facts else None
    out = []
    for e in entries:
        p = e["payload"]
        if e["ts_utc"] <= received:
            continue
        if p.get("base_sha256") and p.get("base_sha256") == status.facts.get("model_sha256"):
            out.append(f"model {p.get('path')} ({str(p.get('model_sha256'))[:12]}, trained {e['ts_utc'][:16]}) was "
                       "fine-tuned from the original after this request was received: serving it brings the notes back")
        elif forget is not None and (n := notes_in_model(p, forget)):
            out.append(f"model {p.get('path')} ({str(p.get('model_sha256'))[:12]}, trained {e['ts_utc'][:16]}) was "
                       f"trained on {n} of this request's forget notes after it was received: do not serve it")
    return out


def notes_in_model(payload: dict, forget) -> int:
    try:
        _, listed = read_manifest(Path(str(payload.get("path"))))
    except (DataError, OSError):  # a model moved or removed since: nothing to check against
        return 0
    return sum(1 for h in forget.hashes if h in listed)
