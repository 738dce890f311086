"""The finished run a page shows: chosen in a select box, kept in the URL (``?run=``) so the page can be
linked to and survives a refresh. Shared by the try-a-note and presentation pages."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import common
from steu_core import format as fmt
from steu_core.errors import SteuError
from steu_core.runs import list_runs, load_results


def _label(by_id: dict, run_id: str) -> str:
    r = by_id[run_id]
    req = f" · {r['request_id']}" if r.get("request_id") else ""
    return f"{fmt.when(r.get('created_utc'), missing='')} · forget '{r.get('forget_class')}'{req} · {run_id}"


def pick_run(key: str, where=None, label: str = "Run") -> tuple[str, Path, dict] | None:
    """(run id, run directory, results) of the run chosen on this page, or None (and a notice) if
    there is no finished run or its results cannot be read."""
    ss, target = st.session_state, where or st
    runs = [r for r in list_runs() if not r["missing"]]  # a run whose directory is gone has nothing to show here
    if not runs:
        target.info("No finished run yet. Prepare a request (step 2) and run it (step 3).",
                    icon=":material/hourglass_empty:")
        return None
    by_id = {r["run_id"]: r for r in runs}
    ids = list(by_id)
    if ss.get(key) not in ids:
        wanted = st.query_params.get("run") or ss.get("view_run") or ss.get("run_id")
        ss[key] = wanted if wanted in ids else ids[0]
    run_id = target.selectbox(label, ids, key=key, format_func=lambda i: _label(by_id, i))
    st.query_params["run"] = run_id
    ss["view_run"] = run_id
    run_dir = Path(by_id[run_id]["path"])
    try:
        return run_id, run_dir, load_results(run_dir)
    except SteuError as exc:
        common.show_error(exc, target)
        return None
