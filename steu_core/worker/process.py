"""The worker's processes: starting one in its own session, telling whether it still lives, stopping it.

A worker leads its own session (closing the browser or restarting the page never kills it), so its
process group id is its pid and stopping it stops everything it started.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..paths import steu_home
from ..runs import pid_alive

REPO_ROOT = Path(__file__).resolve().parent.parent.parent

# Worker processes started by this process, by pid. Polling them reaps a finished child, which would
# otherwise stay a zombie that ``os.kill(pid, 0)`` still reports as alive.
CHILDREN: dict[int, subprocess.Popen] = {}


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (comm) S ...": the state follows the last ')' (comm may contain spaces and parentheses)
    return stat[stat.rfind(")") + 2:stat.rfind(")") + 3] == "Z"


def reap() -> None:
    for pid, proc in list(CHILDREN.items()):
        if proc.poll() is not None:
            CHILDREN.pop(pid, None)


def process_alive(pid: int | None) -> bool:
    """True while ``pid`` is a live process (a zombie or a reaped child counts as ended)."""
    reap()
    if not pid:
        return False
    proc = CHILDREN.get(int(pid))
    if proc is not None:
        return proc.poll() is None
    return pid_alive(pid) and not is_zombie(int(pid))


def is_worker(pid: int | None) -> bool:
    """A live process that is still our worker (guards against a recycled pid after a reboot)."""
    if not process_alive(pid):
        return False
    if int(pid) in CHILDREN:  # started here (its command line may not show the exec yet)
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid
    return b"steu_core" in cmdline


def start_job(req, log: Path, first_line: str) -> tuple[int, str]:
    """Start ``python -m steu_core`` for ``req`` (``req.out`` set): forked from the warm worker when
    one answers, else a new process. Returns the pid and which of the two started it."""
    from . import warm  # imported on use: ``python -m steu_core.worker.warm`` must find it not yet imported

    pid = warm.launch(cli_args(req), log, first_line, job_env())
    if pid is not None:
        return pid, "warm worker"
    return spawn(build_command(req), log, first_line).pid, "new process"


def job_env() -> dict[str, str]:
    """A job's environment: the caller's, with the same data directory and this code importable."""
    env = dict(os.environ)
    env["STEU_HOME"] = str(steu_home())
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def spawn(cmd: list[str], log: Path, first_line: str) -> subprocess.Popen:
    """Start ``cmd`` in a new session with the same data directory, its output appended to ``log``."""
    env = job_env()
    with open(log, "ab") as fh:
        fh.write(first_line.encode())
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=str(REPO_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    CHILDREN[proc.pid] = proc
    return proc


def cli_args(req) -> list[str]:
    """The arguments after ``python -m steu_core`` for a request (``req.out`` must be set)."""
    return [req.command, *req.to_argv(), "--quiet"]


def build_command(req) -> list[str]:
    """The ``python -m steu_core <command>`` argument list for a request (``req.out`` must be set)."""
    return [sys.executable, "-m", "steu_core", *cli_args(req)]


def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(int(pid), sig)  # the worker leads its own session, so its group id is its pid
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(int(pid), sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_process(pid: int) -> None:
    """SIGTERM, then SIGKILL after 5 s if it is still there."""
    signal_group(pid, signal.SIGTERM)
    for _ in range(50):
        if not process_alive(pid):
            return
        time.sleep(0.1)
    signal_group(pid, signal.SIGKILL)
