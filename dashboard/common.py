"""What every page of the dashboard shares: the model in use, the request being prepared, uploads,
error display and formatting. No ML, file-format or scoring logic: all of that is steu_core.

Configuration (environment variables, for demos and tests):

* ``STEU_DASHBOARD_MODEL`` - a checkpoint directory used instead of the embedded demo model;
* ``STEU_DASHBOARD_TRAIN`` / ``STEU_DASHBOARD_EVAL`` / ``STEU_DASHBOARD_FORGET`` - the default
  training, evaluation and sample forget files (default: ``data_samples/``).
"""
from __future__ import annotations

import html
import json
import os
import re
import time
from functools import partial
from pathlib import Path
from typing import Callable

import streamlit as st

from steu_core import demo, drafts, forget_ids, hints, uploads, worker
from steu_core.data import NoteSet, load_notes
from steu_core.drafts import new_request_id
from steu_core.errors import SteuError
from steu_core.model import device_description, load_classifier, resolve_device
from steu_core.request import PEOPLE, default_operator, request_fields_of
from steu_core.runs import checks, stages
from steu_core.runs.checks import ROLES, RequestCheck

# ---------------------------------------------------------------------------------------------
# Text from data files goes into Markdown: escape it so it is shown, never interpreted.

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~])")


def md(text) -> str:
    """``text`` escaped for Markdown (and Streamlit's $...$ LaTeX)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def code(text) -> str:
    """``text`` as inline code: shown exactly as it is (no Markdown escaping inside a code span)."""
    return "`" + str(text).replace("`", "'") + "`"


def show_error(exc: BaseException, where=None) -> None:
    """A user error in plain words: the message, then what to do. Never a traceback."""
    target = where or st
    if isinstance(exc, SteuError):  # written for the command line: in the words of this dashboard's controls
        body = md(hints.for_dashboard(exc.message))
        if exc.hint:
            body += f"  \n**What to do:** {md(hints.for_dashboard(exc.hint))}"
    else:
        body = f"Unexpected problem ({md(type(exc).__name__)}). Details are in the server console."
    target.error(body, icon=":material/error:")


# ---------------------------------------------------------------------------------------------
# Defaults and the data directory


def sample_file(role: str) -> Path:
    env = {"train": "STEU_DASHBOARD_TRAIN", "eval": "STEU_DASHBOARD_EVAL", "forget": "STEU_DASHBOARD_FORGET"}[role]
    default = {"train": demo.DEMO_TRAIN, "eval": demo.DEMO_TEST, "forget": demo.DEMO_FORGET}[role]
    return Path(os.environ.get(env) or default)


def configured_model() -> str | None:
    return os.environ.get("STEU_DASHBOARD_MODEL") or None


# ---------------------------------------------------------------------------------------------
# Cached heavy objects


@st.cache_resource(show_spinner=False, max_entries=3)
def _load_classifier(path: str, stamp: float):
    return load_classifier(demo.resolve_model_path(path), device="cpu")  # the dashboard only reads metadata; runs use the GPU


def load_model(path: str | Path):
    """The classifier at ``path`` on the CPU (cached). Raises ModelError with a plain message."""
    p = Path(path).expanduser()
    stamp = (p / "config.json").stat().st_mtime if (p / "config.json").is_file() else 0.0
    return _load_classifier(str(p.resolve()) if p.exists() else str(p), stamp)


@st.cache_resource(show_spinner=False, max_entries=32)
def _read_notes(path: str, mtime_ns: int, size: int, text_column: str | None, label_column: str | None) -> NoteSet:
    return load_notes(path, text_column=text_column, label_column=label_column)


def read_notes(path: str | Path, text_column: str | None = None, label_column: str | None = None) -> NoteSet:
    """Validated notes of a file (cached by path, size, modification time and the columns chosen).
    Raises DataError."""
    p = Path(path)
    try:
        stat = p.stat()
    except OSError:
        return load_notes(p)  # raises the plain "file not found" error
    return _read_notes(str(p), stat.st_mtime_ns, stat.st_size, text_column, label_column)


@st.cache_data(show_spinner=False)
def compute_device() -> str:
    """The device a run will use (GPU name when CUDA is available)."""
    return device_description(resolve_device("auto"))


# ---------------------------------------------------------------------------------------------
# The model in use


def demo_ready() -> bool:
    return (demo.demo_model_dir() / "config.json").is_file()


def model_choice() -> tuple[str, str]:
    """(kind, path text): kind is 'demo', 'configured' or 'local'."""
    kind = st.session_state.get("model_kind")
    if kind is None:
        kind = "configured" if configured_model() else "demo"
    if kind == "configured" and configured_model():
        return kind, configured_model()
    if kind == "local":
        return kind, str(st.session_state.get("model_path_value", "")).strip()
    return "demo", "default"


def prepare_demo_model(where=None) -> Path:
    """The demo model directory, fine-tuning it first (once) with a progress bar."""
    if demo_ready():
        return demo.demo_model_dir()
    box = (where or st).container(border=True)
    box.markdown("**Preparing the demo model (first start only).** The packaged MiniLM encoder is being "
                 "fine-tuned on the sample notes; later starts load it in seconds.")
    bar = box.progress(0.0, text="Starting…")

    def progress(info: dict) -> None:
        total, step = int(info.get("total") or 0), int(info.get("step") or 0)
        loss = (info.get("losses") or {}).get("loss")
        text = f"Fine-tuning the demo model: step {step} of {total or '?'}"
        if loss is not None:
            text += f" · training loss {loss:.3f}"
        bar.progress(min(step / total, 1.0) if total else 0.0, text=text)

    path = demo.ensure_demo_model(progress=progress)
    bar.progress(1.0, text="The demo model is ready.")
    return path


def current_model(prepare: bool = True, where=None):
    """(classifier or None, model directory or None, error or None) for the model chosen on page 1."""
    kind, text = model_choice()
    try:
        if kind == "demo":
            if not demo_ready() and not prepare:
                return None, None, None
            path = prepare_demo_model(where)
        else:
            if not text:
                return None, None, None
            path = Path(text).expanduser()
        clf = load_model(path)
        return clf, Path(clf.path), None
    except SteuError as exc:
        return None, None, exc


def model_label(kind: str, path: Path | None) -> str:
    if kind == "demo":
        return "Demo model (MiniLM fine-tuned on the sample notes)"
    return str(path) if path else "(no model)"


# ---------------------------------------------------------------------------------------------
# The deletion request being prepared: kept in session state across pages, and in a draft record
# (steu_core.drafts) named in the URL (?draft=...) across a browser refresh or a second tab.

DRAFT_PARAM = "draft"
# request field -> the session key of its column picker (None there: the column is detected)
COLUMN_KEYS = {"forget_text_column": "col_forget_text", "forget_label_column": "col_forget_label",
               "id_column": "col_id", "text_column": "col_text", "label_column": "col_label"}
# the Compare page's choices (methods, relearning set) are kept under keys of their own, not the widgets'
# keys: Streamlit drops a widget's key on a page that does not draw it, and the draft is saved on every page
COMPARE_KEYS = ("cmp_methods", "cmp_full_relearning")
DRAFT_KEYS = ("request_id", "requester", "reason", "operator", "forget_class", "min_forget", "files",
              "forget_kind", drafts.RUN_KEY, *COLUMN_KEYS.values(), *COMPARE_KEYS)


def init_request_state() -> None:
    ss = st.session_state
    if "upload_session" not in ss:  # a new browser session: the request in the URL's draft, if any
        restore_draft()
    ss.setdefault("request_id", new_request_id())
    ss.setdefault("requester", "")
    ss.setdefault("reason", "")
    ss.setdefault("operator", default_operator())
    ss.setdefault("files", {})          # role -> {"path": str, "name": str, "source": "upload"|"sample"}
    ss.setdefault("min_forget", 10)
    ss.setdefault("forget_kind", "notes")  # the forget upload holds note texts, or ids of training notes
    ss.setdefault("upload_session", uploads.new_session())  # this session's folder of uploads
    # an upload whose run ended was deleted with it: the request no longer has that file
    ss.setdefault("uploads_gone", []).extend(uploads.drop_missing(ss["files"]))
    started = ss.get(drafts.RUN_KEY)  # a finished run used the request id up: the next request gets a new one
    if started:
        ss.update(drafts.after_its_run({drafts.RUN_KEY: started}, worker.status(started).state))
    save_draft()


def restore_draft() -> None:
    """Take up the request of the URL's draft (its id, people, class, columns and files)."""
    draft_id = st.query_params.get(DRAFT_PARAM)
    record = drafts.load_draft(draft_id)
    if record is None:
        return
    st.session_state.update({k: v for k, v in record.items() if k in DRAFT_KEYS})
    st.session_state["upload_session"] = draft_id


def save_draft() -> None:
    """Keep the request's metadata in its draft, and the draft's id in the URL."""
    ss = st.session_state
    try:
        drafts.save_draft(ss["upload_session"], {k: ss.get(k) for k in DRAFT_KEYS})
    except ValueError as exc:  # e.g. a reason typed at great length: the page works, a refresh loses it
        st.warning(f"This request is not kept across a browser refresh ({md(exc)}); shorten the request details.",
                   icon=":material/warning:")
    if st.query_params.get(DRAFT_PARAM) != ss["upload_session"]:
        st.query_params[DRAFT_PARAM] = ss["upload_session"]


def file_for(role: str) -> dict | None:
    """The file chosen for a role: an upload, else the sample default (train/eval only)."""
    chosen = st.session_state.get("files", {}).get(role)
    if chosen:
        return chosen
    if role in ("train", "eval"):
        p = sample_file(role)
        return {"path": str(p), "name": p.name, "source": "sample"}
    return None


def forget_by_ids() -> bool:
    return st.session_state.get("forget_kind") == "ids"


def request_fields() -> dict:
    """The request's fields as the dashboard's controls set them (steu_core.request.request_fields_of)."""
    ss = st.session_state
    paths = {r: (file_for(r) or {}).get("path") for r in ROLES}
    columns = {f: ss.get(k) for f, k in COLUMN_KEYS.items()}
    return request_fields_of(paths, forget_by_ids(), columns, columns_of(paths["train"]), ss.get("forget_class"),
                             int(ss.get("min_forget", 10)), {k: ss.get(k, "") for k in PEOPLE})


def unlearn_fields(model_dir: Path) -> dict:
    """The fields of the run the Run page starts: the request's, with the Run page's method, its settings (as
    that page last set them) and the advanced settings."""
    ss = st.session_state
    return dict(**request_fields(), model=str(model_dir), out="", method=ss.get("method", "steu"),
                settings=dict(ss.get("_run_settings") or {}), seed=int(ss.get("seed", 0)),
                device=ss.get("device", "auto"), seeds=int(ss.get("seeds", 1)), max_length=int(ss.get("max_length", 128)))


@st.cache_data(show_spinner=False, max_entries=32)
def _file_columns(path: str, mtime_ns: int) -> list[str]:
    return forget_ids.file_columns(path)


def columns_of(path: str | None) -> list[str]:
    """The column names of a chosen file ([] when it cannot be read: its check says why)."""
    try:
        return _file_columns(str(path), Path(path).stat().st_mtime_ns) if path else []
    except (OSError, SteuError):
        return []


def check_file(role: str, labels: list[str] | None, forget_class: str | None = None,
               min_forget: int = 10) -> checks.FileCheck:
    """The file chosen for ``role``, checked with steu_core's own checks (read through the cache)."""
    chosen = file_for(role) or {}
    fields = request_fields()
    read = partial(read_notes, text_column=fields["text_column"], label_column=fields["label_column"])
    if role == "forget":
        return checks.check_forget(chosen.get("path"), chosen.get("name"), labels, forget_class, min_forget,
                                   by_ids=forget_by_ids(), columns=fields, train_path=fields["train"], read=read)
    return checks.check_file(role, chosen.get("path"), chosen.get("name"), labels, forget_class, min_forget,
                             read=read)


@st.cache_data(show_spinner=False, max_entries=16)
def _cross_check(model_dir: str, fields_json: str, stamps: tuple) -> tuple[tuple[str, str] | None, list[str]]:
    err, warnings = checks.cross_check(load_model(model_dir), json.loads(fields_json))
    return ((err.message, err.hint or "") if err else None), warnings


def cross_check(model_dir: Path) -> tuple[SteuError | None, list[str]]:
    fields = request_fields()
    paths = [fields[k] for k in ("train", "eval", "forget", "forget_ids")]
    stamps = tuple(Path(p).stat().st_mtime_ns if p and Path(p).exists() else 0 for p in paths)
    err, warnings = _cross_check(str(model_dir), json.dumps(fields, sort_keys=True), stamps)
    return (SteuError(err[0], hint=err[1] or None) if err else None), warnings


# ---------------------------------------------------------------------------------------------
# Formatting


MILESTONE_MARKS = {"done": ":green[:material/check_circle: {}]", "current": "**:blue[:material/radio_button_checked: {}]**",
                   "todo": ":gray[:material/radio_button_unchecked: {}]"}


def milestone_line(stage: str) -> str:
    """✓ Model ✓ Data ● Unlearning ○ Audits - where the run is, in one line."""
    return " &nbsp; ".join(MILESTONE_MARKS[state].format(label) for label, state in stages.milestones(stage))


def progress_bar(fraction: float, text: str) -> None:
    """A progress bar redrawn at every look at a run. Not st.progress: that one animates each change of
    width, and a browser drawing without a GPU spends CPU on every frame of it, taken from the run on
    the same cores."""
    st.markdown(progress_html(fraction, text, st.get_option("theme.primaryColor") or "#0f7c8c"),
                unsafe_allow_html=True)


def progress_html(fraction: float, text: str, colour: str) -> str:
    pct = 100 * max(0.0, min(1.0, float(fraction)))
    label = html.escape(text)
    return (f'<div role="progressbar" aria-label="{label}" aria-valuemin="0" aria-valuemax="100" '
            f'aria-valuenow="{pct:.0f}" style="margin-bottom:0.5rem"><div style="margin-bottom:0.3rem">{label}</div>'
            f'<div style="background:rgba(49,51,63,0.12);height:0.5rem;border-radius:0.25rem">'
            f'<div style="background:{html.escape(colour)};width:{pct:.1f}%;height:100%;border-radius:0.25rem">'
            f'</div></div></div>')


# ---------------------------------------------------------------------------------------------
# Navigation (the Page objects are made in app.py)

PAGES: dict[str, object] = {}


def goto(name: str, **query) -> None:
    page = PAGES.get(name, f"views/{name}.py")
    st.switch_page(page, query_params=query or None)


def evaluate_request(clf, model_dir: Path | None) -> RequestCheck:
    labels = list(clf.labels) if clf is not None else None
    fc = st.session_state.get("forget_class")
    fc = fc if labels and fc in labels else None
    mf = int(st.session_state.get("min_forget", 10))
    file_checks = {role: check_file(role, labels, fc, mf) for role in ("forget", "train", "eval")}
    state = RequestCheck(checks=file_checks, forget_class=fc)
    if clf is not None and fc and all(c.ok for c in file_checks.values()):
        state.cross_error, state.warnings = cross_check(model_dir)
    return state


def cancel_controls(noun: str, requested: bool, cancel: Callable[..., object], key: str) -> None:
    """Cancel a job, then offer "Stop now" once a cancel has waited 15 s for the job's next safe point:
    the same controls for a run and a comparison. ``cancel(force=...)`` asks or stops the job."""
    asked_key = f"_{key}_cancel_at"
    if requested:
        asked = st.session_state.setdefault(asked_key, time.time())
        st.warning("Stopping at the next safe point; partial files will be removed.", icon=":material/block:")
        if time.time() - asked > 15 and st.button("Stop now", key=f"{key}_force_stop", icon=":material/dangerous:"):
            cancel(force=True)
            st.rerun()
    elif st.button(f"Cancel {noun}", key=f"{key}_cancel", icon=":material/cancel:"):
        cancel(force=False)
        st.session_state[asked_key] = time.time()
        st.rerun(scope="fragment")


def forget_cancel_request(key: str) -> None:
    """A job that ended: a later job starts without the earlier one's cancel time."""
    st.session_state.pop(f"_{key}_cancel_at", None)
