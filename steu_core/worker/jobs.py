"""One job = one worker process: an unlearning run or a comparison, told apart by its :class:`JobKind`.

Everything about a job is read back from files: the staging directory's ``progress.json`` (written
by the job itself, :mod:`steu_core.runs.staging`), the launch record and the log (:mod:`.files`),
and the finished directory, which holds the kind's ``done_file``. Nothing here keeps state a page
reload would lose.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import ConfigError
from ..model import write_json_atomic
from ..runs.record import record_stopped
from ..runs import CANCEL_FILE, PROGRESS_FILE, new_run_id, read_progress, request_cancel, staging_dir
from ..uploads import launch_fields, release_run
from .files import error_line, launch_dir, launch_file, log_path, now_utc, read_launch, write_launch
from .process import is_worker, process_alive, start_job, stop_process

RUNNING_STATES = ("starting", "running")
# the keys of progress.json every job writes; a kind's own keys (a comparison's method, index,
# run) are kept in RunStatus.detail
COMMON_KEYS = ("state", "stage", "step", "total", "activity", "losses", "elapsed_s", "pid", "message")


@dataclass(frozen=True)
class JobKind:
    """What tells one kind of job from another."""

    noun: str                     # "run" | "comparison": the word in messages
    root: Callable[[], Path]      # where its directories go in the data directory
    done_file: str                # a directory holding this file is finished
    id_prefix: str                # new ids: <prefix>-<UTC time>-<hex>
    owns_uploads: bool = True     # its end deletes the request's uploads (a run's, a comparison's)
    # a cancelled job leaves its staging directory with progress.json saying so (a run), or nothing at all
    # (a comparison: its launch record says it was cancelled)
    keeps_cancelled: bool = True


@dataclass
class RunStatus:
    """Where one run (or comparison) stands, from its files alone."""

    run_id: str
    run_dir: str
    state: str                      # starting | running | finished | failed | cancelled | missing
    stage: str = ""
    step: int = 0
    total: int = 0
    activity: str = ""              # a long part of the stage, in words (stages.progress_text)
    losses: dict = field(default_factory=dict)
    elapsed_s: float = 0.0
    message: str = ""
    pid: int | None = None
    started_utc: str = ""
    cancel_requested: bool = False
    detail: dict = field(default_factory=dict)
    kind: str = "run"               # the JobKind's noun

    @property
    def active(self) -> bool:
        return self.state in RUNNING_STATES

    @property
    def fraction(self) -> float | None:
        """Share of the current stage done (None when the stage has no step count)."""
        if self.total and self.total > 0:
            return max(0.0, min(1.0, self.step / self.total))
        return None

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Starting

def start(kind: JobKind, req, busy: list[RunStatus]) -> RunStatus:
    """Start ``req`` in a worker process and return at once (refused while ``busy`` names a job).

    ``req.out`` empty: the job goes to ``<kind root>/<new id>`` in the data directory.
    """
    if busy:
        raise ConfigError(f"{busy[0].kind} '{busy[0].run_id}' is still in progress.",
                          hint="Wait for it to finish or cancel it before starting another.")
    if not str(req.out or "").strip():
        req.out = kind.root() / new_run_id(kind.id_prefix)
    out = Path(req.out).expanduser().resolve()
    req.out = out
    if out.exists():
        raise ConfigError(f"output directory '{out}' already exists.",
                          hint=f"Choose a new {kind.noun} id; finished {kind.noun}s are never overwritten.")
    if staging_dir(out).exists():
        prev = read_progress(out) or {}
        if prev.get("state") == "running" and process_alive(prev.get("pid")):
            raise ConfigError(f"another {kind.noun} is already writing '{out.name}'.",
                              hint=f"Choose another {kind.noun} id.")
    req.validate()  # bad settings are refused here, in the caller's words, not in a log
    job_id = out.name
    log = log_path(job_id)
    pid, started_by = start_job(req, log, f"[{now_utc()}] worker started for {kind.noun} {job_id}\n")
    record = {"run_id": job_id, "run_dir": str(out), "pid": pid, "started_by": started_by, "started_utc": now_utc(),
              "started_at": time.time(), "log": str(log), "cancelled": False,
              **(launch_fields(req) if kind.owns_uploads else {})}
    write_launch(job_id, record)
    return RunStatus(run_id=job_id, run_dir=str(out), state="starting", stage="starting", pid=pid,
                     started_utc=record["started_utc"], kind=kind.noun)


# ---------------------------------------------------------------------------------------------
# Reading a job back

def resolve(kind: JobKind, job: str | Path) -> Path:
    """A job directory from a path or a bare id (looked up in the kind's folder of the data directory)."""
    p = Path(job)
    if p.is_absolute() or len(p.parts) > 1:
        return p.expanduser().resolve()
    return (kind.root() / p.name).resolve()


def status(kind: JobKind, job: str | Path) -> RunStatus:
    """finished / running / starting / failed (with the message) / cancelled / missing."""
    found = observe(kind, job)
    if not found.active:  # every end (finished, failed, cancelled, killed) is seen here: its uploads go
        release_run(launch_file(found.run_id))
    return found


def observe(kind: JobKind, job: str | Path) -> RunStatus:
    out = resolve(kind, job)
    launch = read_launch(out.name) or {}
    base = dict(run_id=out.name, run_dir=str(out), started_utc=launch.get("started_utc", ""), kind=kind.noun)
    if (out / kind.done_file).is_file():
        return RunStatus(state="finished", stage="done", **base)
    prog = read_progress(out)
    cancel_requested = (staging_dir(out) / CANCEL_FILE).exists() or bool(launch.get("cancelled"))
    if prog is not None:
        return from_progress(kind, out, prog, launch, base, cancel_requested)
    if launch:
        return from_launch(kind, out, launch, base, cancel_requested)
    return RunStatus(state="missing", message=f"no {kind.noun} '{out.name}' in the data directory", **base)


def from_progress(kind: JobKind, out: Path, prog: dict, launch: dict, base: dict,
                  cancel_requested: bool) -> RunStatus:
    state = prog.get("state", "running")
    info = dict(stage=str(prog.get("stage") or ""), step=int(prog.get("step") or 0),
                total=int(prog.get("total") or 0), activity=str(prog.get("activity") or ""),
                losses=dict(prog.get("losses") or {}),
                elapsed_s=float(prog.get("elapsed_s") or 0.0), pid=prog.get("pid"),
                message=str(prog.get("message") or ""), cancel_requested=cancel_requested,
                detail={k: v for k, v in prog.items() if k not in COMMON_KEYS})
    if state != "running":
        return RunStatus(state=state, **info, **base)
    if process_alive(prog.get("pid")):
        if launch.get("started_at"):
            info["elapsed_s"] = max(info["elapsed_s"], time.time() - float(launch["started_at"]))
        return RunStatus(state="running", **info, **base)
    if (out / kind.done_file).is_file():  # finished between the two reads
        return RunStatus(state="finished", stage="done", **base)
    if cancel_requested and launch.get("cancelled"):
        info["message"] = f"the {kind.noun} was stopped"
        return RunStatus(state="cancelled", **info, **base)
    info["message"] = error_line(out.name) or ("the worker process ended unexpectedly (it was killed, or "
                                               "the machine ran out of memory); nothing was finished.")
    return RunStatus(state="failed", **info, **base)


def from_launch(kind: JobKind, out: Path, launch: dict, base: dict, cancel_requested: bool) -> RunStatus:
    """A job that has not written its progress yet (or never will)."""
    pid = launch.get("pid")
    if launch.get("cancelled") and not kind.keeps_cancelled:  # its process removed everything, or is doing so
        return RunStatus(state="cancelled", stage="cancelled",
                         message=f"the {kind.noun} was cancelled; nothing from it was kept", **base)
    if is_worker(pid):
        return RunStatus(state="starting", stage="starting", pid=pid, cancel_requested=cancel_requested,
                         elapsed_s=max(0.0, time.time() - float(launch.get("started_at") or time.time())), **base)
    if (out / kind.done_file).is_file():
        return RunStatus(state="finished", stage="done", **base)
    if launch.get("cancelled"):
        return RunStatus(state="cancelled", stage="cancelled",
                         message=f"the {kind.noun} was cancelled before it started", **base)
    return RunStatus(state="failed", stage="failed", pid=pid, **base,
                     message=error_line(out.name) or f"the worker process ended before the {kind.noun} started.")


def staged(root: Path) -> list[str]:
    """The names of the jobs with a staging directory under ``root``."""
    if not root.exists():
        return []
    return [d.name[1:-len(".partial")] for d in root.iterdir()
            if d.is_dir() and d.name.startswith(".") and d.name.endswith(".partial")]


def active(kind: JobKind, root: Path | None = None) -> list[RunStatus]:
    """Jobs in progress (newest first): staging directories of live jobs, and jobs launched here
    whose process has not created its staging directory yet."""
    root = root or kind.root()
    found: dict[str, RunStatus] = {}
    for name in staged(root):
        st = status(kind, root / name)
        if st.active:
            found[name] = st
    for f in launch_dir().glob("*.json"):
        job_id = f.stem
        if job_id in found:
            continue
        rec = read_launch(job_id) or {}
        if rec.get("run_dir") and Path(rec["run_dir"]).parent.resolve() == root.resolve() and is_worker(rec.get("pid")):
            st = status(kind, rec["run_dir"])
            if st.active:
                found[job_id] = st
    return sorted(found.values(), key=lambda s: (s.started_utc, s.run_id), reverse=True)


def unfinished(kind: JobKind, root: Path | None = None) -> list[RunStatus]:
    """Jobs that ended without a result (failed or cancelled), newest first, with their message."""
    root = root or kind.root()
    out = [st for st in (status(kind, root / name) for name in staged(root)) if st.state in ("failed", "cancelled")]
    return sorted(out, key=lambda s: (s.started_utc, s.run_id), reverse=True)


# ---------------------------------------------------------------------------------------------
# Stopping a job

def cancel(kind: JobKind, job: str | Path, force: bool = False) -> bool:
    """Ask a job to stop. Returns False when there is nothing to stop.

    The job stops cleanly at its next check (between training steps): it removes its partial files
    and records ``cancelled``. A job that has not created its staging directory yet is stopped at
    once. ``force`` stops the process now (for a job stuck in a long stage) and clears its partial
    files the same way.
    """
    out = resolve(kind, job)
    st = status(kind, out)
    if not st.active:
        return False
    launch = read_launch(out.name)
    if launch is not None:
        launch["cancelled"] = True
        write_launch(out.name, launch)
    asked = request_cancel(out)
    if force or not asked:
        pid = st.pid or (launch or {}).get("pid")
        if pid and process_alive(pid):
            stop_process(pid)
        mark_cancelled(out, f"the {kind.noun} was stopped", keep=kind.keeps_cancelled)
    return True


def mark_cancelled(out: Path, message: str, keep: bool = True) -> None:
    """What a job does itself on cancel, done for a process that was stopped from outside (``keep``: its
    progress.json stays, saying so; else the staging directory goes entirely)."""
    stage = staging_dir(out)
    if not stage.is_dir():
        return
    if not keep:
        shutil.rmtree(stage, ignore_errors=True)
        return
    prog = read_progress(out) or {}
    if prog.get("state") == "running":  # the stopped process never wrote its outcome: the request is closed here
        try:
            record_stopped(out.name, prog, message)
        except Exception as exc:  # the cancel still happens; the page says the ledger did not take it
            message += f" (its outcome could not be written to the ledger: {type(exc).__name__})"
    for child in stage.iterdir():
        if child.name != PROGRESS_FILE:
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
    prog.update(state="cancelled", stage="cancelled", message=message)
    write_json_atomic(stage / PROGRESS_FILE, prog)


def discard(kind: JobKind, job: str | Path) -> bool:
    """Remove what a failed or cancelled job left (its staging directory and launch record)."""
    out = resolve(kind, job)
    st = status(kind, out)
    if st.state not in ("failed", "cancelled"):
        return False
    shutil.rmtree(staging_dir(out), ignore_errors=True)
    launch_file(out.name).unlink(missing_ok=True)
    return True


def wait(kind: JobKind, job: str | Path, timeout: float = 600.0, poll: float = 0.5) -> RunStatus:
    """Block until the job is no longer active (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while True:
        st = status(kind, job)
        if not st.active or time.monotonic() > deadline:
            return st
        time.sleep(poll)
