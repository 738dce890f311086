"""The original model's scores of the request being prepared, computed in the background as soon as the model
and the files are known (steu_core.runs.precompute, in a worker process), so that the run starts from them:
started and followed from the Request and Run pages. Widgets only.

``STEU_DASHBOARD_PRECOMPUTE=0`` turns it off (the benchmark's baseline: bench/dashboard_second_request.py).
"""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard import common
from steu_core import format as fmt
from steu_core import worker
from steu_core.errors import SteuError
from steu_core.request import PrecomputeRequest
from steu_core.runs import precompute

ENV_SWITCH = "STEU_DASHBOARD_PRECOMPUTE"
POLL_S = 2.0
KEY = "_precompute"  # session state: {"id", "fingerprint", "data"} of the last one started


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1") != "0"


def keep_ready(model_dir: Path) -> None:
    """Start the background scoring of the request as the pages set it, unless it was started already, and
    show where it is. A change of data stops the one in progress; a change of method, settings or seed lets it
    finish first (the next one then reads its scores)."""
    if not enabled() or worker.active_runs() or worker.active_comparisons():  # they have the CPU now
        return
    ss = st.session_state
    req = PrecomputeRequest(**common.unlearn_fields(model_dir))
    fp, data_fp = precompute.fingerprint(req), precompute.fingerprint(req, method=False)
    job = ss.get(KEY) or {}
    if job.get("fingerprint") != fp:
        if job and worker.precompute_status(job["id"]).active:
            if job["data"] == data_fp:
                show(job["id"])
                return
            worker.cancel_precompute(job["id"])
        try:
            started = worker.start_precompute(req)
        except SteuError:  # the request's own checks say what is wrong; the run will say it again
            return
        ss[KEY] = job = {"id": started.run_id, "fingerprint": fp, "data": data_fp}
    show(job["id"])


def show(job_id: str) -> None:
    s = worker.precompute_status(job_id)
    if s.active:
        st.fragment(run_every=POLL_S)(follow)(job_id)
    elif s.state == "finished":
        seconds = ((precompute.read_done(Path(s.run_dir)) or {}).get("seconds") or {}).get("total")
        st.caption(f":material/bolt: The original model's scores for this request are ready (computed in the "
                   f"background in {fmt.duration(seconds)}): the run starts from them.")
    elif s.state == "failed":
        st.caption(f"The original model could not be scored in advance ({common.md(s.message)}); the run scores "
                   "it itself.")


def follow(job_id: str) -> None:
    s = worker.precompute_status(job_id)
    if not s.active:
        st.rerun()  # the page shows the outcome and stops looking
    with st.container(border=True):
        common.progress_bar(precompute.progress_of(s.stage, s.step, s.total),
                            f"In the background, so that the run starts from them: "
                            f"{precompute.progress_words(s.stage, s.step, s.total)}")
        st.caption("The original model is scored on the evaluation and forget notes while you fill in the "
                   "request; you can go on meanwhile, and a run started now waits for these scores.")
