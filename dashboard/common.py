"""What every page of the dashboard shares: the model in use, the request being prepared, uploads,
error display and formatting. No ML, file-format or scoring logic: all of that is steu_core.

Configuration (environment variables, for demos and tests):

* ``STEU_DASHBOARD_MODEL`` - a checkpoint directory used instead of the embedded demo model;
* ``STEU_DASHBOARD_TRAIN`` / ``STEU_DASHBOARD_EVAL`` / ``STEU_DASHBOARD_FORGET`` - the default
  training, evaluation and sample forget files (default: ``data_samples/``).
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import streamlit as st

from steu_core import demo
from steu_core.data import NoteSet, check_forget_set, check_labels_known, load_notes
from steu_core.errors import SteuError
from steu_core.paths import steu_home

UPLOAD_TYPES = ["csv", "tsv", "jsonl", "ndjson", "parquet", "pq"]
ROLES = {"forget": "forget set", "train": "training (retain) set", "eval": "evaluation set"}
STAGES = [  # (progress.json stage, plain words), in the order a run goes through them
    ("starting", "Starting the worker"),
    ("start", "Starting the worker"),
    ("model", "Loading the model"),
    ("prepare-demo-model", "Preparing the demo model"),
    ("data", "Checking the data files"),
    ("tokenize", "Tokenising the notes"),
    ("score-original", "Scoring the original model"),
    ("select", "Selecting tokens (PMI)"),
    ("cache", "Caching encoder features"),
    ("unlearn", "Unlearning"),
    ("save", "Saving the new model version"),
    ("audit", "Running the audits"),
]
STAGE_WORDS = dict(STAGES)
MILESTONES = [("model", "Model"), ("data", "Data"), ("score-original", "Baseline"), ("select", "Token selection"),
              ("unlearn", "Unlearning"), ("audit", "Audits")]


# ---------------------------------------------------------------------------------------------
# Text from data files goes into Markdown: escape it so it is shown, never interpreted.

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~])")


def md(text) -> str:
    """``text`` escaped for Markdown (and Streamlit's $...$ LaTeX)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


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


def uploads_dir() -> Path:
    path = steu_home() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """The uploaded file's base name, reduced to safe characters (its extension kept)."""
    base = Path(str(name).replace("\\", "/")).name
    stem, ext = os.path.splitext(base)
    stem = _SAFE_NAME.sub("_", stem).strip("._") or "upload"
    ext = _SAFE_NAME.sub("", ext.lower())
    return f"{stem[:80]}{ext}"


def save_upload(name: str, data: bytes) -> Path:
    """Store an uploaded file under ``<data dir>/uploads/<content hash>/<name>`` (atomically; the
    same bytes uploaded twice land in the same place)."""
    digest = hashlib.sha256(data).hexdigest()[:20]
    folder = uploads_dir() / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_filename(name)
    if not (path.is_file() and path.stat().st_size == len(data)):
        tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------
# Cached heavy objects


@st.cache_resource(show_spinner=False, max_entries=3)
def _load_classifier(path: str, stamp: float):
    from steu_core.model import load_classifier

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
    from steu_core.model import device_description, resolve_device

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


def file_for(role: str) -> dict | None:
    """The file chosen for a role: an upload, else the sample default (train/eval only)."""
    chosen = st.session_state.get("files", {}).get(role)
    if chosen:
        return chosen
    if role in ("train", "eval"):
        p = sample_file(role)
        return {"path": str(p), "name": p.name, "source": "sample"}
    return None


@dataclass
class FileCheck:
    role: str
    path: str | None
    name: str | None
    notes: NoteSet | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.notes is not None and self.error is None


def check_file(role: str, labels: list[str] | None, forget_class: str | None = None,
               min_forget: int = 10) -> FileCheck:
    """Load and validate the file of ``role`` against the model's labels (and, for the forget set,
    the forget class) with steu_core's own checks."""
    chosen = file_for(role)
    if not chosen:
        return FileCheck(role, None, None)
    chk = FileCheck(role, chosen["path"], chosen["name"])
    try:
        chk.notes = read_notes(chosen["path"])
        if labels is not None:
            check_labels_known(chk.notes, labels)
        if role == "forget" and forget_class:
            check_forget_set(chk.notes, forget_class, min_forget)
    except SteuError as exc:
        chk.error = exc
    return chk


@st.cache_data(show_spinner=False, max_entries=16)
def _cross_check(model_dir: str, train: str, eval_: str, forget: str | None, forget_class: str,
                 min_forget: int, stamps: tuple) -> tuple[tuple[str, str] | None, list[str]]:
    """The checks across files that only the full request can do (e.g. no retain notes), and the
    warnings that do not stop a run - both from steu_core.runs."""
    from steu_core import runs

    try:
        req = runs.UnlearnRequest(train=train, eval=eval_, forget=forget, forget_class=forget_class, out="",
                                  model=model_dir, min_forget=min_forget)
        sets = runs.load_request_data(req, load_model(model_dir))
    except SteuError as exc:
        return (exc.message, exc.hint or ""), []
    train_s, eval_s, forget_s, retain_s = sets[:4]
    return None, runs.data_warnings(train_s, eval_s, forget_s, retain_s)


def cross_check(model_dir: Path, forget_class: str) -> tuple[SteuError | None, list[str]]:
    files = {r: file_for(r) for r in ROLES}
    paths = [files[r]["path"] if files[r] else None for r in ("train", "eval", "forget")]
    stamps = tuple(Path(p).stat().st_mtime_ns if p and Path(p).exists() else 0 for p in paths)
    err, warnings = _cross_check(str(model_dir), paths[0], paths[1], paths[2], forget_class,
                                 int(st.session_state.get("min_forget", 10)), stamps)
    return (SteuError(err[0], hint=err[1] or None) if err else None), warnings


# ---------------------------------------------------------------------------------------------
# Formatting


def f3(x) -> str:
    try:
        return f"{float(x):.3f}"
    except (TypeError, ValueError):
        return "n/a"


def pct(x, digits: int = 3) -> str:
    try:
        return f"{100 * float(x):.{digits}f} %"
    except (TypeError, ValueError):
        return "n/a"


def duration(seconds) -> str:
    try:
        s = int(round(float(seconds)))
    except (TypeError, ValueError):
        return "n/a"
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


def when(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(iso)


def stage_words(stage: str) -> str:
    return STAGE_WORDS.get(stage, stage.replace("-", " ").capitalize() if stage else "Working")


_SPANS = {  # share of the whole run at the start and end of each stage (for one steady progress bar)
    "starting": (0.0, 0.03), "start": (0.03, 0.05), "model": (0.05, 0.08), "prepare-demo-model": (0.05, 0.08),
    "data": (0.08, 0.10), "tokenize": (0.10, 0.12), "score-original": (0.12, 0.20), "select": (0.20, 0.23),
    "cache": (0.23, 0.26), "unlearn": (0.26, 0.86), "save": (0.86, 0.89), "audit": (0.89, 0.99),
}
COUNTED_STAGES = ("unlearn", "prepare-demo-model")


def overall_fraction(stage: str, step: int = 0, total: int = 0) -> float:
    """How far the whole run is, 0..1: stage position, refined by the step count where it means something."""
    lo, hi = _SPANS.get(stage, (0.0, 0.0))
    if stage in COUNTED_STAGES and total:
        return lo + (hi - lo) * max(0.0, min(1.0, step / total))
    return lo


def progress_text(stage: str, step: int = 0, total: int = 0) -> str:
    text = stage_words(stage)
    if stage in COUNTED_STAGES and total:
        text += f": step {step} of {total}"
    return text


def milestone_line(stage: str) -> str:
    """✓ Model ✓ Data ● Unlearning ○ Audits - where the run is, in one line."""
    order = [s for s, _ in STAGES]
    pos = order.index(stage) if stage in order else 0
    parts = []
    for key, label in MILESTONES:
        k = order.index(key)
        nxt = [order.index(m) for m, _ in MILESTONES if order.index(m) > k]
        end = min(nxt) if nxt else len(order)
        if pos >= end:
            parts.append(f":green[:material/check_circle: {label}]")
        elif pos >= k:
            parts.append(f"**:blue[:material/radio_button_checked: {label}]**")
        else:
            parts.append(f":gray[:material/radio_button_unchecked: {label}]")
    return " &nbsp; ".join(parts)


# ---------------------------------------------------------------------------------------------
# Navigation (the Page objects are made in app.py)

PAGES: dict[str, object] = {}


def goto(name: str, **query) -> None:
    page = PAGES.get(name, f"views/{name}.py")
    st.switch_page(page, query_params=query or None)


@dataclass
class RequestState:
    """Everything the Run page needs to know about the request being prepared."""

    checks: dict
    forget_class: str | None
    cross_error: SteuError | None = None
    warnings: list = None

    @property
    def ok(self) -> bool:
        return (self.forget_class is not None and all(c.ok for c in self.checks.values())
                and self.cross_error is None)

    def first_problem(self) -> str | None:
        if self.forget_class is None:
            return "choose the class to forget"
        for role, chk in self.checks.items():
            if chk.path is None:
                return f"add the {ROLES[role]}"
            if chk.error is not None:
                return f"fix the {ROLES[role]}: {chk.error.message}"
        if self.cross_error is not None:
            return self.cross_error.message
        return None


def evaluate_request(clf, model_dir: Path | None) -> RequestState:
    labels = list(clf.labels) if clf is not None else None
    fc = st.session_state.get("forget_class")
    fc = fc if labels and fc in labels else None
    mf = int(st.session_state.get("min_forget", 10))
    checks = {role: check_file(role, labels, fc, mf) for role in ("forget", "train", "eval")}
    state = RequestState(checks=checks, forget_class=fc)
    if clf is not None and fc and all(c.ok for c in checks.values()):
        state.cross_error, state.warnings = cross_check(model_dir, fc)
    return state


def detected_class(notes: NoteSet, labels: list[str]) -> str | None:
    """The forget set's class: its most common label that the model knows."""
    counts = sorted(notes.label_counts.items(), key=lambda kv: -kv[1])
    return next((lab for lab, _ in counts if lab in labels), None)
