"""The finished runs a data directory knows, for the run lists (dashboard, ``python -m steu_core runs``):
every finished run directory under its ``runs/`` folder, and every run its ledger records as finished
wherever that run was written (``unlearn --out`` elsewhere, a comparison's method with ``--record-ledger``).
The ledger's "run" entries say where (``run_dir``, :func:`steu_core.runs.record.run_dir_of`); the newest
entry of a run id counts, as everywhere else. A run the ledger holds whose directory is gone (moved,
deleted, a disk not mounted), or that an entry of an earlier version left unplaced, is listed too, with
``missing`` saying so in words and no figures; a listed directory is never trusted to be the run the ledger
pinned (``python -m steu_core verify`` checks that), only to name the same run id.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..ledger import Ledger
from ..paths import runs_dir
from ..verdicts import headline, run_verdicts

FIGURES = ("forget_f1_before", "forget_f1_after", "retain_f1_before", "retain_f1_after", "params_changed_fraction")


def run_summary(d: Path, r: dict) -> dict:
    """The headline figures of one finished run (for run lists)."""
    return {"run_id": r.get("run_id", d.name), "path": str(d), "created_utc": r.get("created_utc"),
            "method": r.get("method"), "forget_class": r.get("forget_class"),
            **{k: r.get(k) for k in FIGURES},
            "request_id": (r.get("request") or {}).get("request_id", ""), "verdict": headline(run_verdicts(r)),
            "missing": None}


def read_run(d: Path) -> dict | None:
    """results.json of the finished run in ``d``; None when there is none (or it is not JSON)."""
    f = d / "results.json"
    if d.name.startswith(".") or not f.is_file():  # a staging directory is never finished
        return None
    try:
        r = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return r if isinstance(r, dict) else None


def directory_runs(root: Path) -> list[dict]:
    """Finished runs directly under ``root``."""
    rows = []
    for d in sorted(root.iterdir() if root.is_dir() else [], reverse=True):
        r = read_run(d) if d.is_dir() else None
        if r is not None:
            rows.append(run_summary(d, r))
    return rows


def finished_entries(entries: list[dict]) -> dict[str, tuple[dict, dict]]:
    """run id -> (its newest "run" entry, the request entry it closes), for runs whose newest entry is a success."""
    by_hash = {e["entry_hash"]: e for e in entries}
    newest: dict[str, dict] = {}
    for e in entries:
        run_id = (e["payload"] or {}).get("run_id") if e["kind"] == "run" else None
        if isinstance(run_id, str) and run_id:
            newest[run_id] = e
    return {run_id: (e, (by_hash.get(e["payload"].get("request_entry")) or {}).get("payload") or {})
            for run_id, e in newest.items() if e["payload"].get("outcome") == "success"}


def ledger_run(run_id: str, entry: dict, request: dict) -> dict:
    """The list row of a run the ledger holds: its directory's figures where that directory still holds it,
    else a row that says the directory is gone."""
    recorded = entry["payload"].get("run_dir") or request.get("run_dir")
    if recorded:
        d = Path(recorded)
        r = read_run(d) if d.is_dir() else None
        if r is not None and r.get("run_id", d.name) == run_id:
            return run_summary(d, r)
        why = (f"its directory {recorded} holds another run" if r is not None else
               f"its directory {recorded} is gone (moved or deleted)" if not d.exists() else
               f"its directory {recorded} holds no finished run (results.json is missing)")
    else:
        why = "the ledger entry does not say where it was written (recorded by an earlier version)"
    return {"run_id": run_id, "path": recorded or "", "created_utc": entry["ts_utc"],
            "method": request.get("method"), "forget_class": request.get("forget_class"),
            **{k: None for k in FIGURES}, "request_id": entry["payload"].get("request_id") or "",
            "verdict": entry["payload"].get("verdict") or "", "missing": why}


def ledger_entries(ledger: Ledger | None) -> list[dict]:
    """The ledger's entries; [] when it cannot be read (the History page and ``ledger verify`` say why)."""
    try:
        return (ledger or Ledger()).entries()
    except Exception:  # noqa: BLE001 - an unreadable ledger hides no directory run; it is reported elsewhere
        return []


def list_runs(root: Path | None = None, ledger: Ledger | None = None) -> list[dict]:
    """Finished runs, newest first, with headline figures: those under ``root`` (default: the data directory's
    runs/), then every other run the ledger records as finished (``missing``: why it cannot be opened, or None)."""
    root = root or runs_dir()
    rows = directory_runs(root)
    listed = {r["run_id"] for r in rows}
    for run_id, (entry, request) in finished_entries(ledger_entries(ledger)).items():
        if run_id not in listed:
            rows.append(ledger_run(run_id, entry, request))
    return sorted(rows, key=lambda r: (str(r.get("created_utc") or "")[:19], r["run_id"]), reverse=True)


def location(row: dict, root: Path | None = None) -> str:
    """Where a listed run is, in words: the data directory, its own directory, or that it is gone."""
    if row.get("missing"):
        return f"not found: {row['missing']}"
    d = Path(row["path"])
    return "data directory" if d.parent == (root or runs_dir()) else str(d)
