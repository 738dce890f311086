"""What every page of the dashboard shares: the model in use, the request being prepared, uploads,
error display and formatting. No ML, file-format or scoring logic: all of that is steu_core.

Configuration (environment variables, for demos and tests):

* ``STEU_DASHBOARD_MODEL`` - a checkpoint directory used instead of the embedded demo model;
* ``STEU_DASHBOARD_TRAIN`` / ``STEU_DASHBOARD_EVAL`` / ``STEU_DASHBOARD_FORGET`` - the default
  training, evaluation and sample forget files (default: ``data_samples/``).
"""
from __future__ import annotations

import os
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

import streamlit as st

from steu_core import demo, uploads
from steu_core.data import NoteSet, load_notes
from steu_core.errors import SteuError
from steu_core.model import device_description, load_classifier, resolve_device
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
    if isinstance(exc, SteuError):
        body = md(exc.message)
        if exc.hint:
            body += f"  \n**What to do:** {md(exc.hint)}"
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
def _read_notes(path: str, mtime_ns: int, size: int) -> NoteSet:
    return load_notes(path)


def read_notes(path: str | Path) -> NoteSet:
    """Validated notes of a file (cached by path, size and modification time). Raises DataError."""
    p = Path(path)
    try:
        stat = p.stat()
    except OSError:
        return load_notes(p)  # raises the plain "file not found" error
    return _read_notes(str(p), stat.st_mtime_ns, stat.st_size)


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
# The deletion request being prepared (kept in session state across pages)


def new_request_id() -> str:
    return f"REQ-{datetime.now(timezone.utc).strftime('%Y%m%d')}-{secrets.token_hex(2).upper()}"


def init_request_state() -> None:
    ss = st.session_state
    ss.setdefault("request_id", new_request_id())
    ss.setdefault("requester", "")
    ss.setdefault("reason", "")
    ss.setdefault("operator", os.environ.get("USER", "") or "")
    ss.setdefault("files", {})          # role -> {"path": str, "name": str, "source": "upload"|"sample"}
    ss.setdefault("min_forget", 10)
    ss.setdefault("upload_session", uploads.new_session())  # this session's folder of uploads
    # an upload whose run ended was deleted with it: the request no longer has that file
    ss.setdefault("uploads_gone", []).extend(uploads.drop_missing(ss["files"]))


def file_for(role: str) -> dict | None:
    """The file chosen for a role: an upload, else the sample default (train/eval only)."""
    chosen = st.session_state.get("files", {}).get(role)
    if chosen:
        return chosen
    if role in ("train", "eval"):
        p = sample_file(role)
        return {"path": str(p), "name": p.name, "source": "sample"}
    return None


def check_file(role: str, labels: list[str] | None, forget_class: str | None = None,
               min_forget: int = 10) -> checks.FileCheck:
    """The file chosen for ``role``, checked with steu_core's own checks (read through the cache)."""
    chosen = file_for(role) or {}
    return checks.check_file(role, chosen.get("path"), chosen.get("name"), labels, forget_class, min_forget,
                             read=read_notes)


@st.cache_data(show_spinner=False, max_entries=16)
def _cross_check(model_dir: str, train: str, eval_: str, forget: str | None, forget_class: str,
                 min_forget: int, stamps: tuple) -> tuple[tuple[str, str] | None, list[str]]:
    err, warnings = checks.cross_check(load_model(model_dir), train, eval_, forget, forget_class, min_forget)
    return ((err.message, err.hint or "") if err else None), warnings


def cross_check(model_dir: Path, forget_class: str) -> tuple[SteuError | None, list[str]]:
    files = {r: file_for(r) for r in ROLES}
    paths = [files[r]["path"] if files[r] else None for r in ("train", "eval", "forget")]
    stamps = tuple(Path(p).stat().st_mtime_ns if p and Path(p).exists() else 0 for p in paths)
    err, warnings = _cross_check(str(model_dir), paths[0], paths[1], paths[2], forget_class,
                                 int(st.session_state.get("min_forget", 10)), stamps)
    return (SteuError(err[0], hint=err[1] or None) if err else None), warnings


# ---------------------------------------------------------------------------------------------
# Formatting


MILESTONE_MARKS = {"done": ":green[:material/check_circle: {}]", "current": "**:blue[:material/radio_button_checked: {}]**",
                   "todo": ":gray[:material/radio_button_unchecked: {}]"}


def milestone_line(stage: str) -> str:
    """✓ Model ✓ Data ● Unlearning ○ Audits - where the run is, in one line."""
    return " &nbsp; ".join(MILESTONE_MARKS[state].format(label) for label, state in stages.milestones(stage))


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
        state.cross_error, state.warnings = cross_check(model_dir, fc)
    return state
