"""The Compare page's job: start a comparison of the request of pages 1-2 in the worker, follow it
method by method, cancel it. Every figure, check and word of progress comes from steu_core."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import common
from steu_core import format as fmt
from steu_core import worker
from steu_core.audits.deep import DEEP_AUDITS
from steu_core.compare import DEFAULT_METHODS, method_rows, overall_fraction, phase_text, portable_command
from steu_core.errors import SteuError
from steu_core.methods import METHODS, selectable_methods
from steu_core.request import CompareRequest, parse_json_object

ss = st.session_state
QUERY_KEY = "cmp"
SETTINGS_FIELD = "Method settings"


def follow(job_id: str) -> None:
    ss["cmp_job"] = job_id
    st.query_params[QUERY_KEY] = job_id


def followed() -> worker.RunStatus | None:
    """The comparison this page follows: the one in the URL or session, else one found running
    (after a browser refresh, or one started in another tab)."""
    job_id = ss.get("cmp_job") or st.query_params.get(QUERY_KEY)
    current = worker.comparison_status(job_id) if job_id else None
    if current is None or not current.active:
        active = worker.active_comparisons()
        if active:
            current = active[0]
            follow(current.run_id)
    return current


@st.fragment(run_every=1.0)
def monitor(job_id: str) -> None:
    s = worker.comparison_status(job_id)
    if not s.active:
        st.rerun()  # the whole page switches to the outcome
    with st.container(border=True):
        st.markdown(f"#### :material/autorenew: Comparison `{job_id}` is in progress")
        common.progress_bar(overall_fraction(s.stage, s.detail), phase_text(s.stage, s.detail, s.step, s.total))
        rows = method_rows(s.stage, s.detail)
        if rows:
            st.dataframe([{"Method": r["method"], "State": r["state"],
                           "Where it is": r["text"], "Progress": r["fraction"]} for r in rows],
                         hide_index=True, width="stretch", key="cmp_methods",
                         column_config={"Progress": st.column_config.ProgressColumn("Progress", min_value=0.0,
                                                                                    max_value=1.0)})
        st.metric("Elapsed", fmt.duration(s.elapsed_s))
        st.caption("You can leave this page or close the browser: the comparison continues, and this page finds "
                   "it again when you come back.")
        common.cancel_controls("comparison", s.cancel_requested,
                               lambda force: worker.cancel_comparison(job_id, force=force), key="cmp")


def outcome(current: worker.RunStatus | None) -> str | None:
    """Say how the followed comparison ended; the directory of a finished one (to show it)."""
    common.forget_cancel_request("cmp")
    if current is None:
        return None
    if current.state == "finished":
        st.success(f"Comparison `{current.run_id}` finished; its table is below.", icon=":material/task_alt:")
        return current.run_dir
    if current.state == "failed":
        st.error(f"**Comparison `{current.run_id}` failed.** {common.md(current.message)}", icon=":material/error:")
    elif current.state == "cancelled":
        st.info(f"Comparison `{current.run_id}` was cancelled. Nothing from it was kept.", icon=":material/block:")
    return None


def advanced() -> dict:
    """The comparison's own settings (methods' settings, deep audits, bootstrap, retain sample)."""
    with st.expander("Advanced settings", icon=":material/tune:"):
        a, b = st.columns(2)
        audits = a.multiselect("Deep audits", sorted(DEEP_AUDITS), default=sorted(DEEP_AUDITS), key="cmp_audits",
                               help="The deeper checks run on every model once the methods have finished.")
        n_boot = b.number_input("Bootstrap resamples per interval", min_value=10, max_value=10000, value=1000, step=50,
                                key="cmp_n_boot")
        retain = b.number_input("Retain notes scored per model", min_value=2, max_value=100000, value=256, step=16,
                                key="cmp_retain_sample")
        text = a.text_area(SETTINGS_FIELD, value="{}", key="cmp_settings", height=80,
                           help='Per method, e.g. {"steu": {"k": 50}, "retrain_oracle": {"epochs": 3}}; each '
                                "method's own defaults otherwise (see 3 · Run, Advanced settings).")
    settings = parse_json_object(text.strip() or "{}", SETTINGS_FIELD,
                                 hint='Write one object per method, e.g. {"steu": {"max_steps": 40}}.')
    return dict(audits=list(audits), n_boot=int(n_boot), retain_sample=int(retain), settings=settings)


def request(model_dir: Path, forget_class: str, methods: list[str], extra: dict) -> CompareRequest:
    """The comparison of the request of pages 1-2 (its files, note ids, columns and people, as a run
    gets them), with the Run page's seed, device and token settings."""
    fields = {**common.request_fields(), "forget_class": forget_class}
    return CompareRequest(
        **fields, model=str(model_dir), out="", methods=methods, seed=int(ss.get("seed", 0)),
        device=ss.get("device", "auto"), max_length=int(ss.get("max_length", 128)), **extra)


def start_form(expanded: bool) -> None:
    """Method choice and the Start button for the request of pages 1-2; the terminal command below it."""
    with st.expander("Make a comparison", icon=":material/play_circle:", expanded=expanded):
        st.markdown("A comparison runs each chosen method on the request of pages 1-2, then scores every model on "
                    "the same notes. The retrain oracle trains the model again from its pretrained start, so it "
                    "takes as long as training the original - minutes on a GPU, up to hours on a laptop CPU; the "
                    "other methods take about as long as one run each.")
        methods = st.multiselect("Methods", selectable_methods(), default=[m for m in DEFAULT_METHODS if m in METHODS],
                                 key="cmp_methods_pick", format_func=lambda m: f"{m} - {METHODS[m].description}",
                                 help="The oracle is what makes the KS test and the reference-model audit possible.")
        try:
            extra = advanced()
        except SteuError as exc:
            common.show_error(exc)
            return
        clf, model_dir, model_error = common.current_model(prepare=False)
        check = common.evaluate_request(clf, model_dir) if clf is not None else None
        problem = ("choose and load a model (step 1)" if clf is None else check.first_problem())
        if problem:
            st.info(f"To start, {common.md(problem)}.", icon=":material/pending_actions:")
        busy = worker.active_runs()
        if busy:
            st.info(f"Run `{busy[0].run_id}` is in progress; start the comparison when it has finished.",
                    icon=":material/hourglass_top:")
        if st.button("Start the comparison", type="primary", icon=":material/play_arrow:", key="cmp_start",
                     disabled=bool(problem or busy or not methods)):
            start(request(model_dir, check.forget_class, methods, extra))
        terminal_hint(methods)


def start(req: CompareRequest) -> None:
    try:
        started = worker.start_comparison(req)
    except SteuError as exc:
        common.show_error(exc)
    else:
        follow(started.run_id)
        st.rerun()


def terminal_hint(methods: list[str]) -> None:
    kind, text = common.model_choice()
    req = common.request_fields()  # the forget set as the request gives it: note texts or note ids
    command = portable_command("default" if kind == "demo" else text, req["train"], req["eval"],
                               req["forget_class"] or "CLASS", req["forget"], methods or None,
                               req["forget_ids"], req.get("id_column"))
    st.caption("Or run it from a terminal, in the project folder (put your files' locations in place of their "
               "names); it is saved in the data directory and appears here when finished:")
    st.code(command, language="bash", wrap_lines=True)
