"""Step 3: run the unlearning in a worker process and follow it live."""
from __future__ import annotations

import math
from pathlib import Path

import streamlit as st

from dashboard import background, common
from steu_core import format as fmt
from steu_core import drafts, worker
from steu_core.errors import SteuError
from steu_core.methods import METHODS, selectable_methods, setting_fields
from steu_core.pmi import DEFAULT_BUDGET, k_from_budget
from steu_core.request import MAX_SEEDS, UnlearnRequest
from steu_core.hints import for_dashboard
from steu_core.runs import load_results, prepare, stages
from steu_core.runs.request_view import stored_request_rows

ss = st.session_state
st.title("3 · Run")


def _follow(run_id: str) -> None:
    ss["run_id"] = run_id
    st.query_params["run"] = run_id


# Which run does this page follow? The one in the URL or session, else one found running on load
# (after a browser refresh, or one started in another tab).
run_id = ss.get("run_id")
current = worker.status(run_id) if run_id else None
if current is None or not current.active:
    active = worker.active_runs()
    if active:
        current = active[0]
        _follow(current.run_id)
        run_id = current.run_id


def open_results_when_finished(s: worker.RunStatus) -> None:
    """A run this session started and watched opens its results as soon as it has finished."""
    if s.state == "finished" and ss.get("_watching") == s.run_id:
        ss.pop("_watching", None)
        ss["view_run"] = s.run_id
        common.goto("results", run=s.run_id)


# Each look redraws the progress in the browser, which draws without a GPU on the cores the run needs.
# In the last stages the page looks every second, so that the results open soon after the finish.
# (Making a look wait there for the finish kept the page in its "running" state, which the browser
# animates: about 0.3 s of browser CPU per second of those stages, against 0.16 with these looks;
# bench/dashboard_second_request.py.)
POLL_S = 2.0
CLOSING_POLL_S = 1.0


if current is not None:
    open_results_when_finished(current)


def monitor(run_id: str, closing: bool) -> None:
    st.fragment(run_every=CLOSING_POLL_S if closing else POLL_S)(show_progress)(run_id, closing)


def show_progress(run_id: str, closing: bool) -> None:
    s = worker.status(run_id)
    if not s.active:
        open_results_when_finished(s)
        st.rerun()  # the whole page switches to the outcome
    if stages.is_closing(s.stage) != closing:
        st.rerun()  # the page looks again at the rate of the new stage
    with st.container(border=True):
        st.markdown(f"#### :material/autorenew: Run `{run_id}` is in progress")
        st.markdown(common.milestone_line(s.stage))
        label = stages.progress_text(s.stage, s.step, s.total, s.activity)
        common.progress_bar(stages.overall_fraction(s.stage, s.step, s.total), label)
        c = st.columns(4)
        c[0].metric("Elapsed", fmt.duration(s.elapsed_s))
        c[1].metric("Training step", f"{s.step} / {s.total}" if s.stage == "unlearn" and s.total else "-")
        losses = s.losses or {}
        if losses:
            c[2].metric("Training loss", fmt.number(losses.get("loss"), 3),
                        help="Retain cross-entropy + weight x forget term, on the last batch.")
            c[3].metric("Forget term", fmt.number(losses.get("forget"), 3),
                        help="-log(1 - p(forgotten class)) on forget notes: falls towards 0 as the class is forgotten.")
        else:
            c[2].metric("Training loss", "-")
            c[3].metric("Forget term", "-")
        st.caption("You can leave this page or close the browser: the run continues, and this page finds it "
                   "again when you come back.")
        common.cancel_controls("run", s.cancel_requested, lambda force: worker.cancel(run_id, force=force), key="run")


if current is not None and current.active:
    monitor(current.run_id, stages.is_closing(current.stage))
    st.stop()

common.forget_cancel_request("run")

# --- the outcome of the last run followed -------------------------------------------------------
finished = current is not None and current.state == "finished"
if finished:
    st.success(f"Run `{current.run_id}` finished.", icon=":material/task_alt:")
    try:  # the request as the run recorded it: its uploads are deleted by now, the session's files say nothing
        made_for = stored_request_rows(load_results(Path(current.run_dir)))
    except SteuError as exc:
        common.show_error(exc)
    else:
        with st.container(border=True):
            st.subheader(":material/summarize: The request of this run")
            st.dataframe([{"": k, "Value": v} for k, v in made_for.items()], hide_index=True, width="stretch")
    if st.button("See the results", type="primary", icon=":material/fact_check:"):
        ss["view_run"] = current.run_id
        common.goto("results", run=current.run_id)
elif current is not None and current.state == "failed":
    st.error(f"**Run `{current.run_id}` failed.** {common.md(for_dashboard(current.message))}", icon=":material/error:")
elif current is not None and current.state == "cancelled":
    st.info(f"Run `{current.run_id}` was cancelled. Nothing from it was kept.", icon=":material/block:")
elif current is not None and current.state == "missing" and run_id:
    st.warning(f"Run {common.code(run_id)} is not in the data directory.", icon=":material/help:")

# --- a new run ----------------------------------------------------------------------------------
clf, model_dir, model_error = common.current_model(prepare=True)
if clf is None:
    st.warning("Choose and load a model first (step 1).", icon=":material/neurology:")
    if model_error is not None:
        common.show_error(model_error)
    st.stop()

req = common.evaluate_request(clf, model_dir)
kind, _ = common.model_choice()

with st.container(border=True):
    st.subheader(":material/summarize: The next request" if finished else ":material/summarize: The request")
    chk = req.checks
    forget_word = "ids" if common.forget_by_ids() else "notes"
    rows = {
        "Model": common.model_label(kind, model_dir),
        "Class to forget": req.forget_class or "(not chosen)",
        "Forget set": (f"{chk['forget'].name} ({forget_word}: {len(chk['forget'].notes):,} notes)" if chk["forget"].ok
                       else "(not chosen yet)" if chk["forget"].path is None else "(missing or invalid)"),
        "Training notes": f"{chk['train'].name} ({len(chk['train'].notes):,} notes)" if chk["train"].ok else "(missing or invalid)",
        "Evaluation notes": f"{chk['eval'].name} ({len(chk['eval'].notes):,} notes)" if chk["eval"].ok else "(missing or invalid)",
        "Request id": ss.get("request_id", ""),
        "Requester": ss.get("requester", "") or "-",
        "Reason": ss.get("reason", "") or "-",
        "Operator": ss.get("operator", "") or "-",
    }
    st.dataframe([{"": k, "Value": v} for k, v in rows.items()], hide_index=True, width="stretch")

# STEU first; the others are the controls and baselines of `python -m steu_core compare`.
METHOD_NAMES = ["steu"] + sorted(m for m in selectable_methods() if m != "steu")

EDIT_SIZE = ("k", "budget")  # chosen together by the "Size of the edit" control


def forget_untouched_settings(method: str) -> None:
    """On a change of method, drop the settings still at the previous method's default, so each
    method starts from its own defaults while a value the user typed carries over."""
    previous = ss.get("_settings_method")
    ss["_settings_method"] = method
    if previous and previous != method:
        for f in setting_fields(previous):
            if f.name in ss and ss[f.name] == f.default:
                del ss[f.name]


def setting_widget(where, f) -> None:
    """One method setting as a form field: type, default and help from the method's config."""
    label = f.name.replace("_", " ").capitalize()
    help = f"{f.help} (allowed: {f.bounds})" if f.bounds else f.help
    if f.kind == "bool":
        where.checkbox(label, value=bool(f.default), key=f.name, help=help)
    elif f.kind == "str" and f.choices:
        where.selectbox(label, f.choices, index=f.choices.index(f.default), key=f.name, help=help)
    elif f.kind == "str":
        where.text_input(label, value=str(f.default), key=f.name, help=help)
    elif f.kind == "int":
        low = int(f.minimum) if f.minimum is not None else None
        where.number_input(label, value=f.default, step=1, min_value=low, key=f.name, help=help,
                           placeholder="derived by the method" if f.optional else None)
    else:
        step = 10.0 ** math.floor(math.log10(abs(f.default))) if f.default else 0.01
        low = float(f.minimum) if f.minimum is not None else None
        where.number_input(label, value=float(f.default), step=step, min_value=low, format="%g", key=f.name,
                           help=help)


def edit_size_settings(a, b) -> dict:
    """k or a parameter budget, for methods that edit embedding rows."""
    mode = a.radio("Size of the edit", ["budget", "k"], key="sel_mode", persist_state="session",
                   format_func={"budget": "Parameter budget (share of the model)", "k": "Fixed number of rows"}.get)
    if mode == "k":
        return {"k": int(b.number_input("Embedding rows to edit (k)", min_value=1, max_value=5000, value=50, step=1,
                                        key="k_rows", persist_state="session"))}
    budget_pct = b.number_input("Budget, % of all parameters", min_value=0.001, max_value=10.0,
                                value=100 * DEFAULT_BUDGET, step=0.01, format="%.3f", key="budget_pct",
                                persist_state="session",
                                help="The paper uses 0.19 %: the edited rows plus the classification head.")
    k_preview = k_from_budget(clf.params_total, clf.head_params_total, clf.hidden_size, budget_pct / 100)
    b.caption(f"About **{k_preview}** embedding rows for this model.")
    return {"budget": budget_pct / 100}


def method_settings(method: str) -> dict:
    """The method's settings form; returns the values that differ from the method's defaults."""
    forget_untouched_settings(method)
    fields = setting_fields(method)
    a, b = st.columns(2)
    chosen = {}
    if {f.name for f in fields} & set(EDIT_SIZE):
        chosen = edit_size_settings(a, b)
    else:
        a.caption("This method edits no embedding rows: no size of edit to choose.")
    others = [f for f in fields if f.name not in EDIT_SIZE]
    st.caption(f"Settings of **{method}** (its own defaults; hover a field for what it does):")
    cols = st.columns(4)
    for i, f in enumerate(others):
        setting_widget(cols[i % 4], f)
    chosen.update({f.name: ss[f.name] for f in others if ss.get(f.name, f.default) != f.default})
    return chosen


with st.expander("Advanced settings", icon=":material/tune:"):
    st.caption("The defaults follow the STEU paper and suit most requests.")
    method = st.selectbox("Method", METHOD_NAMES, key="method", persist_state="session",
                          format_func=lambda m: f"{m} - {METHODS[m].description}",
                          help="STEU is the method this tool is for. The others are controls and baselines, "
                               "to see what STEU's sparse edit does that they do not (5 · History compares runs).")
    ss["_run_settings"] = method_settings(method)  # read by common.unlearn_fields, here and on the Request page
    d, e, f = st.columns(3)
    d.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="seed", persist_state="session")
    d.number_input("Seeds to run", min_value=1, max_value=MAX_SEEDS, value=1, step=1, key="seeds",
                   persist_state="session", help="Run the method this many times (seed, seed + 1, ...): every figure "
                                                 "gets its spread and the verdicts hold for the least favourable "
                                                 "seed. 3-5 on a CPU; each seed adds about one unlearning's time.")
    limit = prepare.max_length_limit(clf) or 512
    e.number_input("Tokens per note", min_value=8, max_value=limit, value=min(128, limit), step=8, key="max_length",
                   persist_state="session", help=f"Longer notes are cut to this many tokens (this model reads at "
                                                 f"most {limit}); the results say how many were cut.")
    devices = ["auto", "cpu"] + (["cuda"] if common.compute_device().startswith("cuda") else [])
    e.selectbox("Device", devices, key="device", persist_state="session",
                help=f"auto = {common.compute_device()}")
    f.number_input("Minimum forget notes", min_value=1, max_value=100000, step=1, key="min_forget",
                   persist_state="session", help="Fewer notes than this are refused: the audit would be too weak.")

busy = worker.active_runs()
problem = req.first_problem()
if problem:
    st.info(f"To start, {common.md(for_dashboard(problem))} (step 2).", icon=":material/pending_actions:")
    st.page_link(common.PAGES.get("request", "views/request.py"), label="Go to 2 · Deletion request",
                 icon=":material/arrow_back:")
method = ss.get("method", "steu")
if not problem and not busy:
    background.keep_ready(model_dir)
start = st.button("Run STEU" if method == "steu" else f"Run {method}", type="primary", icon=":material/play_arrow:",
                  disabled=bool(problem or busy), help="Starts the run in a separate process; this page shows its "
                                                       "progress.")
if start:
    try:  # the request's files, class, columns and people: the same fields the checks above used
        started = worker.start_run(UnlearnRequest(**common.unlearn_fields(model_dir)))
    except SteuError as exc:
        common.show_error(exc)
    else:
        _follow(started.run_id)
        ss["_watching"] = started.run_id
        ss[drafts.RUN_KEY] = started.run_id  # the request id is used up once this run has finished
        common.save_draft()
        st.rerun()
