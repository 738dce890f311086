"""The Compare page's job: start a comparison of the request of pages 1-2 in the worker, follow it
method by method, cancel it. Every figure, check and word of progress comes from steu_core."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from dashboard import common
from steu_core import format as fmt
from steu_core import worker
from steu_core.audits.deep import DEEP_AUDITS
from steu_core.audits.relearn_full import QUICK as QUICK_RELEARNING, set_words as relearning_words
from steu_core.compare import DEFAULT_METHODS, method_rows, overall_fraction, phase_text, portable_command
from steu_core.compare.estimate import estimate_lines, estimate_request, measure_step_costs
from steu_core.errors import SteuError
from steu_core.methods import METHODS, selectable_methods
from steu_core.request import CompareRequest, parse_json_object
from steu_core.runs.forget_index import read_forget_index

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
        common.progress_bar(overall_fraction(s.stage, s.detail, s.step, s.total),
                            phase_text(s.stage, s.detail, s.step, s.total, s.activity))
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
    reuse = reusable_run()
    if reuse is not None:
        fields.update(forget=None, forget_ids=None, forget_from_run=str(reuse), forget_text_column=None,
                      forget_label_column=None, id_column=None)
    return CompareRequest(
        **fields, model=str(model_dir), out="", methods=methods, seed=int(ss.get("seed", 0)),
        device=ss.get("device", "auto"), max_length=int(ss.get("max_length", 128)), **extra)


def start_form(expanded: bool) -> None:
    """Method choice and the Start button for the request of pages 1-2; the terminal command below it."""
    with st.expander("Make a comparison", icon=":material/play_circle:", expanded=expanded):
        st.markdown("A comparison runs each chosen method on the request of pages 1-2 (each about as long as one run; "
                    "the retrain oracle trains the model again from its pretrained start, as long as training the "
                    "original - minutes on a GPU, up to hours on a laptop CPU), then scores every model on the same "
                    "notes and runs the deep audits, whose time is estimated below before you start.")
        methods, full = choices()
        try:
            extra = advanced()
        except SteuError as exc:
            common.show_error(exc)
            return
        clf, model_dir, model_error = common.current_model(prepare=False)
        check = common.evaluate_request(clf, model_dir) if clf is not None else None
        reuse = reusable_run() if clf is not None else None
        if reuse is not None:  # the forget set is the run's, found again in the training file
            check.checks.pop("forget", None)
            st.caption(f"The forget set: the notes of run {common.code(reuse.name)}, found again in the training "
                       "file by the SHA-256 of each note (the forget file was deleted with the run's uploads).")
        problem = ("choose and load a model (step 1)" if clf is None else check.first_problem())
        if problem:
            st.info(f"To start, {common.md(problem)}.", icon=":material/pending_actions:")
        elif methods:
            show_estimate(clf, request(model_dir, check.forget_class, methods, {**extra, "full_relearning": full}))
        busy = worker.active_runs()
        if busy:
            st.info(f"Run `{busy[0].run_id}` is in progress; start the comparison when it has finished.",
                    icon=":material/hourglass_top:")
        if st.button("Start the comparison", type="primary", icon=":material/play_arrow:", key="cmp_start",
                     disabled=bool(problem or busy or not methods)):
            start(request(model_dir, check.forget_class, methods, {**extra, "full_relearning": full}))
        terminal_hint(methods, full)


def reusable_run() -> Path | None:
    """The finished run this session followed, when the request's forget file is gone (deleted with the run's
    uploads) and the run kept its forget notes' hashes: the comparison takes its forget set from it."""
    run_id = ss.get("run_id")
    if common.file_for("forget") or not run_id:
        return None
    found = worker.status(run_id)
    if found.state != "finished":
        return None
    try:
        read_forget_index(found.run_dir)
    except SteuError:
        return None
    return Path(found.run_dir)


def choices() -> tuple[list[str], bool]:
    """The methods and the relearning set, kept in the request's draft (a reload finds them again)."""
    known = [m for m in ss.get("cmp_methods") or DEFAULT_METHODS if m in METHODS]
    kwargs = {} if "cmp_methods_pick" in ss else {"default": known}
    methods = st.multiselect("Methods", selectable_methods(), key="cmp_methods_pick", **kwargs,
                             format_func=lambda m: f"{m} - {METHODS[m].description}",
                             help="The oracle is what makes the KS test and the reference-model audit possible.")
    kwargs = {} if "cmp_full_pick" in ss else {"value": bool(ss.get("cmp_full_relearning"))}
    full = st.toggle("Full relearning set", key="cmp_full_pick", **kwargs,
                     help=f"The full-model relearning attacker with {relearning_words()} instead of "
                          f"{relearning_words(QUICK_RELEARNING)}: the attack's full strength, several times longer "
                          "on a CPU.")
    if (list(methods), bool(full)) != (ss.get("cmp_methods"), ss.get("cmp_full_relearning")):
        ss["cmp_methods"], ss["cmp_full_relearning"] = list(methods), bool(full)
        common.save_draft()
    return list(methods), bool(full)


@st.cache_resource(show_spinner="Measuring this machine's step costs for the time estimate…", max_entries=4)
def _step_costs(model_dir: str, max_length: int, _clf):
    return measure_step_costs(_clf, max_length)


@st.cache_data(show_spinner=False, max_entries=16)
def _estimate(key: str, _req: CompareRequest, _clf, _costs) -> dict:
    return estimate_request(_req, _clf, _costs)


def show_estimate(clf, req: CompareRequest) -> None:
    """The time the scoring and deep audits will take at most, with either relearning set, before the start."""
    key = json.dumps([str(req.model), str(req.train), str(req.eval), str(req.forget), str(req.forget_ids),
                      req.forget_class, req.methods, req.audits, req.audit_settings, req.retain_sample,
                      req.max_length, req.text_column, req.label_column, req.id_column], default=str)
    try:
        found = _estimate(key, req, clf, _step_costs(str(req.model), int(req.max_length), clf))
    except SteuError as exc:
        common.show_error(exc)
        return
    st.caption(common.md(estimate_lines(found, req.full_relearning)[0]))


def start(req: CompareRequest) -> None:
    try:
        started = worker.start_comparison(req)
    except SteuError as exc:
        common.show_error(exc)
    else:
        follow(started.run_id)
        st.rerun()


def terminal_hint(methods: list[str], full: bool = False) -> None:
    kind, text = common.model_choice()
    req = common.request_fields()  # the forget set as the request gives it: note texts or note ids
    command = portable_command("default" if kind == "demo" else text, req["train"], req["eval"],
                               req["forget_class"] or "CLASS", req["forget"], methods or None,
                               req["forget_ids"], req.get("id_column")) + (" --full-relearning" if full else "")
    reuse = reusable_run()
    if reuse is not None:
        command += f" --forget-from-run {reuse.name}"
    st.caption("Or run it from a terminal, in the project folder (put your files' locations in place of their "
               "names); it is saved in the data directory and appears here when finished:")
    st.code(command, language="bash", wrap_lines=True)
