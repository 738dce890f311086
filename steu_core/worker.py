"""Runs off the caller's thread: one unlearning run = one worker process.

The dashboard must stay responsive while a run takes minutes, and a browser refresh must find the
run again. So a run is started as its own process, ``python -m steu_core unlearn ... --quiet``, in a
new session (closing the browser or restarting the page never kills it), and everything about it is
read back from files in the data directory:

* ``runs/.<run_id>.partial/progress.json`` - written by the run itself (see :mod:`steu_core.runs`);
* ``worker/<run_id>.json`` - the launch record: pid, start time, log file (written here);
* ``logs/<run_id>.log`` - the process's stdout/stderr. With ``--quiet`` the CLI prints only the
  summary figures or one user-facing error line; neither contains note text.

Nothing here keeps state that a page reload would lose: :func:`status`, :func:`active_runs` and
:func:`cancel` work from any process that sees the same data directory.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .errors import ConfigError
from .model import write_json_atomic
from .paths import runs_dir, steu_home, subdir
from .request import RunRequest, UnlearnRequest
from .runs import (CANCEL_FILE, PROGRESS_FILE, new_run_id, pid_alive, read_progress, request_cancel,
                   staging_dir)
from .uploads import launch_fields, release_run

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNNING_STATES = ("starting", "running")

# Worker processes started by this process, by pid. Polling them reaps a finished child, which would
# otherwise stay a zombie that ``os.kill(pid, 0)`` still reports as alive.
_CHILDREN: dict[int, subprocess.Popen] = {}


@dataclass
class RunStatus:
    """Where one run stands, from its files alone."""

    run_id: str
    run_dir: str
    state: str                      # starting | running | finished | failed | cancelled | missing
    stage: str = ""
    step: int = 0
    total: int = 0
    losses: dict = field(default_factory=dict)
    elapsed_s: float = 0.0
    message: str = ""
    pid: int | None = None
    started_utc: str = ""
    cancel_requested: bool = False

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
# Files of the data directory

def launch_dir() -> Path:
    return subdir("worker")


def logs_dir() -> Path:
    return subdir("logs")


def _launch_file(run_id: str) -> Path:
    return launch_dir() / f"{run_id}.json"


def read_launch(run_id: str) -> dict | None:
    try:
        return json.loads(_launch_file(run_id).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_launch(run_id: str, record: dict) -> None:
    write_json_atomic(_launch_file(run_id), record)


def log_path(run_id: str) -> Path:
    return logs_dir() / f"{run_id}.log"


def _error_line(run_id: str) -> str:
    """The last user-facing error line the worker printed (the CLI prints ``error: ...``)."""
    path = log_path(run_id)
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 8192))
            tail = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    for line in reversed(tail):
        line = line.strip()
        if line.startswith("error: "):
            return line[len("error: "):]
        if line.startswith("internal error: "):
            return line
    return ""


# ---------------------------------------------------------------------------------------------
# Process liveness

def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (comm) S ...": the state follows the last ')' (comm may contain spaces and parentheses)
    return stat[stat.rfind(")") + 2:stat.rfind(")") + 3] == "Z"


def _reap() -> None:
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            _CHILDREN.pop(pid, None)


def process_alive(pid: int | None) -> bool:
    """True while ``pid`` is a live process (a zombie or a reaped child counts as ended)."""
    _reap()
    if not pid:
        return False
    proc = _CHILDREN.get(int(pid))
    if proc is not None:
        return proc.poll() is None
    return pid_alive(pid) and not _is_zombie(int(pid))


def _is_worker(pid: int | None) -> bool:
    """A live process that is still our worker (guards against a recycled pid after a reboot)."""
    if not process_alive(pid):
        return False
    if int(pid) in _CHILDREN:  # started here (its command line may not show the exec yet)
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid
    return b"steu_core" in cmdline


# ---------------------------------------------------------------------------------------------
# Starting a run

def build_command(req: RunRequest) -> list[str]:
    """The ``python -m steu_core <command>`` argument list for ``req`` (``req.out`` must be set)."""
    return [sys.executable, "-m", "steu_core", req.command, *req.to_argv(), "--quiet"]


def start_run(req: UnlearnRequest, *, exclusive: bool = True) -> RunStatus:
    """Start ``req`` in a worker process and return at once.

    ``req.out`` empty: the run goes to ``runs/<new run id>`` in the data directory. With
    ``exclusive`` (the default) a second run is refused while one is active, so a double click or a
    second browser tab never starts the same work twice.
    """
    if exclusive:
        busy = active_runs()
        if busy:
            raise ConfigError(f"run '{busy[0].run_id}' is still in progress.",
                              hint="Wait for it to finish or cancel it before starting another.")
    if not str(req.out or "").strip():
        req.out = runs_dir() / new_run_id()
    out = Path(req.out).expanduser().resolve()
    req.out = out
    if out.exists():
        raise ConfigError(f"output directory '{out}' already exists.",
                          hint="Choose a new run id; finished runs are never overwritten.")
    if staging_dir(out).exists():
        prev = read_progress(out) or {}
        if prev.get("state") == "running" and process_alive(prev.get("pid")):
            raise ConfigError(f"another run is already writing '{out.name}'.", hint="Choose another run id.")
    req.validate()  # bad settings are refused here, in the caller's words, not in a log
    run_id = out.name
    cmd = build_command(req)
    env = dict(os.environ)
    env["STEU_HOME"] = str(steu_home())
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    log = log_path(run_id)
    with open(log, "ab") as fh:
        fh.write(f"[{_now()}] worker started for run {run_id}\n".encode())
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=str(REPO_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    _CHILDREN[proc.pid] = proc
    record = {"run_id": run_id, "run_dir": str(out), "pid": proc.pid, "started_utc": _now(),
              "started_at": time.time(), "log": str(log), "cancelled": False, **launch_fields(req)}
    _write_launch(run_id, record)
    return RunStatus(run_id=run_id, run_dir=str(out), state="starting", stage="starting", pid=proc.pid,
                     started_utc=record["started_utc"])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# Reading a run back

def _resolve(run: str | Path) -> Path:
    """A run directory from a path or a bare run id (looked up in the data directory)."""
    p = Path(run)
    if p.is_absolute() or len(p.parts) > 1:
        return p.expanduser().resolve()
    return (runs_dir() / p.name).resolve()


def status(run: str | Path) -> RunStatus:
    """finished / running / starting / failed (with the message) / cancelled / missing."""
    found = _observe(run)
    if not found.active:  # every end (finished, failed, cancelled, killed) is seen here: its uploads go
        release_run(_launch_file(found.run_id))
    return found


def _observe(run: str | Path) -> RunStatus:
    out = _resolve(run)
    run_id = out.name
    launch = read_launch(run_id) or {}
    base = dict(run_id=run_id, run_dir=str(out), started_utc=launch.get("started_utc", ""))
    if (out / "results.json").is_file():
        return RunStatus(state="finished", stage="done", **base)
    prog = read_progress(out)
    cancel_requested = (staging_dir(out) / CANCEL_FILE).exists() or bool(launch.get("cancelled"))
    if prog is not None:
        state = prog.get("state", "running")
        info = dict(stage=str(prog.get("stage") or ""), step=int(prog.get("step") or 0),
                    total=int(prog.get("total") or 0), losses=dict(prog.get("losses") or {}),
                    elapsed_s=float(prog.get("elapsed_s") or 0.0), pid=prog.get("pid"),
                    message=str(prog.get("message") or ""), cancel_requested=cancel_requested)
        if state == "running":
            if process_alive(prog.get("pid")):
                if launch.get("started_at"):
                    info["elapsed_s"] = max(info["elapsed_s"], time.time() - float(launch["started_at"]))
                return RunStatus(state="running", **info, **base)
            if (out / "results.json").is_file():  # finished between the two reads
                return RunStatus(state="finished", stage="done", **base)
            if cancel_requested and launch.get("cancelled"):
                info["message"] = "the run was stopped"
                return RunStatus(state="cancelled", **info, **base)
            info["message"] = _error_line(run_id) or ("the worker process ended unexpectedly (it was killed, or "
                                                      "the machine ran out of memory); nothing was finished.")
            return RunStatus(state="failed", **info, **base)
        return RunStatus(state=state, **info, **base)
    if launch:
        pid = launch.get("pid")
        if _is_worker(pid):
            return RunStatus(state="starting", stage="starting", pid=pid, cancel_requested=cancel_requested,
                             elapsed_s=max(0.0, time.time() - float(launch.get("started_at") or time.time())), **base)
        if (out / "results.json").is_file():
            return RunStatus(state="finished", stage="done", **base)
        if launch.get("cancelled"):
            return RunStatus(state="cancelled", stage="cancelled", message="the run was cancelled before it started",
                             **base)
        return RunStatus(state="failed", stage="failed", pid=pid, **base,
                         message=_error_line(run_id) or "the worker process ended before the run started.")
    return RunStatus(state="missing", message=f"no run '{run_id}' in the data directory", **base)


def active_runs(root: Path | None = None) -> list[RunStatus]:
    """Runs in progress in the data directory (newest first): staging directories of live runs, and
    runs launched here whose process has not created its staging directory yet."""
    root = root or runs_dir()
    found: dict[str, RunStatus] = {}
    if root.exists():
        for d in root.iterdir():
            if d.is_dir() and d.name.startswith(".") and d.name.endswith(".partial"):
                name = d.name[1:-len(".partial")]
                st = status(root / name)
                if st.active:
                    found[name] = st
    for f in launch_dir().glob("*.json"):
        run_id = f.stem
        if run_id in found:
            continue
        rec = read_launch(run_id) or {}
        if rec.get("run_dir") and Path(rec["run_dir"]).parent.resolve() == root.resolve() and _is_worker(rec.get("pid")):
            st = status(rec["run_dir"])
            if st.active:
                found[run_id] = st
    return sorted(found.values(), key=lambda s: (s.started_utc, s.run_id), reverse=True)


def unfinished_runs(root: Path | None = None) -> list[RunStatus]:
    """Runs that ended without a result (failed or cancelled), newest first, with their message."""
    root = root or runs_dir()
    out = []
    if root.exists():
        for d in root.iterdir():
            if d.is_dir() and d.name.startswith(".") and d.name.endswith(".partial"):
                st = status(root / d.name[1:-len(".partial")])
                if st.state in ("failed", "cancelled"):
                    out.append(st)
    return sorted(out, key=lambda s: (s.started_utc, s.run_id), reverse=True)


# ---------------------------------------------------------------------------------------------
# Stopping a run

def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(int(pid), sig)  # the worker leads its own session, so its group id is its pid
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(int(pid), sig)
        except (ProcessLookupError, PermissionError):
            pass


def cancel(run: str | Path, force: bool = False) -> bool:
    """Ask a run to stop. Returns False when there is nothing to stop.

    The run stops cleanly at its next check (between training steps): it removes its partial files
    and records ``cancelled``. A run that has not created its staging directory yet is stopped at
    once. ``force`` stops the process now (for a run stuck in a long stage) and clears its partial
    files the same way.
    """
    out = _resolve(run)
    st = status(out)
    if not st.active:
        return False
    launch = read_launch(out.name)
    if launch is not None:
        launch["cancelled"] = True
        _write_launch(out.name, launch)
    asked = request_cancel(out)
    if force or not asked:
        pid = st.pid or (launch or {}).get("pid")
        if pid and process_alive(pid):
            _signal_group(pid, signal.SIGTERM)
            for _ in range(50):
                if not process_alive(pid):
                    break
                time.sleep(0.1)
            else:
                _signal_group(pid, signal.SIGKILL)
        _mark_cancelled(out)
    return True


def _mark_cancelled(out: Path) -> None:
    """What a run does itself on cancel, done for a process that was stopped from outside."""
    stage = staging_dir(out)
    if not stage.is_dir():
        return
    prog = read_progress(out) or {}
    for child in stage.iterdir():
        if child.name != PROGRESS_FILE:
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
    prog.update(state="cancelled", stage="cancelled", message="the run was stopped")
    write_json_atomic(stage / PROGRESS_FILE, prog)


def discard(run: str | Path) -> bool:
    """Remove what a failed or cancelled run left (its staging directory and launch record)."""
    out = _resolve(run)
    st = status(out)
    if st.state not in ("failed", "cancelled"):
        return False
    shutil.rmtree(staging_dir(out), ignore_errors=True)
    _launch_file(out.name).unlink(missing_ok=True)
    return True


def wait(run: str | Path, timeout: float = 600.0, poll: float = 0.5) -> RunStatus:
    """Block until the run is no longer active (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while True:
        st = status(run)
        if not st.active or time.monotonic() > deadline:
            return st
        time.sleep(poll)
