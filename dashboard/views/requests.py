"""Deletion requests: each one's state, what is still owed, the model to serve, its history with times, persons
and ledger proofs; schedule, erase (one retrain for several requests), verify, close or decline."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import common
from steu_core import format as fmt
from steu_core import worker
from steu_core.deletion import actions, states
from steu_core.deletion.book import all_requests
from steu_core.deletion.deploy import model_entries, serving, stale_model_warnings
from steu_core.deletion.job import EraseRequest
from steu_core.deletion.summary import history_rows, request_row, state_label, threat_model_line, verdict_rows
from steu_core.deletion import verify as erasure_check
from steu_core.errors import SteuError
from steu_core.runs import stages

ss = st.session_state

st.title("7 · Deletion requests")
st.caption("A request is contained in minutes (a sparse edit stops the predictions) and erased by a retrain "
           "without its notes (the model file no longer holds them); several requests share one retrain.")
book = all_requests()
entries = model_entries()
if not book:
    st.info("No deletion request on record yet: a request is recorded by its first run.",
            icon=":material/hourglass_empty:")
    st.stop()

rows = [request_row(s, entries) for s in book.values()]
table = pd.DataFrame(rows).rename(columns=str.capitalize)
picked = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                      key="requests_table")
chosen = st.query_params.get("request")
if picked.selection.rows:
    chosen = rows[picked.selection.rows[0]]["request"]
    st.query_params["request"] = chosen  # the request stays open across a refresh

active = worker.active_erasures()


@st.fragment(run_every=2.0)
def erasure_progress(run_id: str) -> None:
    """The erasure in progress, redrawn every 2 s; the whole page once it has ended (its requests moved)."""
    s = worker.erasure_status(run_id)
    if not s.active:
        st.rerun()
    where = stages.progress_text(s.stage, s.step, s.total, s.activity)
    st.info(f"**Erasure {s.run_id} in progress**: {common.md(where)} · {fmt.duration(s.elapsed_s)}",
            icon=":material/hourglass_top:")
    common.cancel_controls("erasure", s.cancel_requested, lambda force=False: worker.cancel_erasure(s.run_id, force),
                           "erase_cancel")


if active:
    erasure_progress(active[0].run_id)


def erase_form() -> None:
    erasable = [rid for rid, s in book.items() if states.can_move(s.state, states.ERASED)]
    if not erasable:
        return
    with st.expander("Erase requests by one retrain", icon=":material/model_training:"):
        st.caption("Trains a new model from the original's starting point, with its training settings, on the "
                   "training notes minus every chosen request's forget notes, then audits it for each request. "
                   "About as long as training the original (minutes on a GPU, longer on a CPU); it resumes "
                   "from its last checkpoint if stopped.")
        chosen_ids = st.multiselect("Requests", erasable, default=erasable, key="erase_pick")
        if st.button("Start the erasure", disabled=bool(active) or not chosen_ids, key="erase_start"):
            try:
                started = worker.start_erasure(EraseRequest(requests=chosen_ids, operator=ss.get("operator", "")))
                st.success(f"Erasure {started.run_id} started.")
            except SteuError as exc:
                common.show_error(exc)


erase_form()
if not chosen or chosen not in book:
    st.stop()

status = book[chosen]
st.subheader(f"Request {chosen}: {state_label(status.state)}")
line, due = threat_model_line(status.state), status.erasure_due()
st.markdown(f"{states.MEANING.get(status.state, '')} {('**' + line.capitalize() + '.**') if line else ''}  \n"
            f"**Still owed:** {status.owed}" + (f" (**due by {due}**)" if due else ""))
serve = serving(status)
st.markdown(f"**Serve:** the {serve['serve']} model `{serve['sha256'] or '?'}` ({serve['why']})"
            + (f"; never the original `{serve['retire'][:16]}` again." if serve.get("retire") else "."))
for warning in stale_model_warnings(status, entries):
    st.warning(warning, icon=":material/warning:")
if verdict_rows(status):
    st.dataframe(pd.DataFrame(verdict_rows(status)), hide_index=True, width="stretch")
st.markdown("**History** (every state with its time, person and the ledger entry that proves it)")
st.dataframe(pd.DataFrame(history_rows(status)), hide_index=True, width="stretch")


def act(label: str, call) -> None:
    try:
        call()
        st.success(label)
        st.rerun()
    except SteuError as exc:
        common.show_error(exc)


cols = st.columns(3)
with cols[0]:
    if states.can_move(status.state, states.SCHEDULED):
        due = st.date_input("Erasure due by", value=dt.date.today() + dt.timedelta(days=30), key="sched_due")
        if st.button("Schedule erasure", key="sched_go"):
            act("Scheduled.", lambda: actions.schedule(chosen, due.isoformat(), ss.get("operator", "")))
with cols[1]:
    erased = status.latest(states.ERASED)
    if erased and states.can_move(status.state, states.VERIFIED) and st.button("Verify the erasure", key="verify_go"):
        check = erasure_check.check_request(chosen, erased.detail["erasure"])
        for s_, what, detail in check.lines:
            st.markdown(f"**{s_.upper()}** {what}: {common.md(detail)}")
        if check.ok:
            act("Verified.", lambda: erasure_check.record_verified(chosen, check, ss.get("operator", "")))
    if status.state == states.VERIFIED and st.button("Close the request", key="close_go"):
        act("Closed.", lambda: actions.close(chosen, ss.get("operator", "")))
with cols[2]:
    if status.state not in states.FINAL:
        reason = st.text_input("Reason to decline", key="decline_reason")
        if st.button("Decline", key="decline_go", disabled=not reason.strip()):
            act("Declined.", lambda: actions.decline(chosen, reason, ss.get("operator", "")))
