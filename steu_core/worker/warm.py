"""The warm worker: one process that has already imported torch, transformers and the CLI, and forks a
child per job, so that a run started from the dashboard does not spend its first seconds importing
(on 2 cores: 6 s before the run starts, and 3 s of transformers' model code when it loads the model;
bench/second_request.py --worker measures both ways).

Why a separate process: the dashboard's own process runs Streamlit's threads, and forking a process
with threads is unsafe. This server starts none; it imports, binds a Unix socket and waits.

A child is the job ``python -m steu_core <args>`` would be: its own session (so cancelling stops its
whole group, and closing the dashboard never stops it), output appended to the job's log, the CLI's
exit status. Nothing about the job changes, only who paid for the imports.

Trust and staleness:
- the socket lives in a directory only this user may enter (``/tmp/steu-warm-<uid>/``, 0700, owned by
  us) and the server refuses a peer with another user id;
- its name is a fingerprint of the Python executable, the settings libraries read when imported
  (``IMPORT_TIME_ENV``, the data directory among them) and every steu_core source file's size and
  modification time, so changed code, a changed setting or another data directory never reach an old
  server: they start their own, and the old one leaves after ``IDLE_SECONDS`` without a job. A job
  gets the rest of its caller's environment with the job;
- the server never touches CUDA (a forked child could not use a GPU its parent had initialised).
When no server answers, :func:`launch` returns None and the caller starts a plain process.
STEU_WARM_WORKER=0 switches the warm worker off.

Its owners: the dashboard process that starts it, and every process that pings it through
:func:`ensure` (each dashboard using it). It leaves within a second or two once none of them lives, so
stopping the dashboard stops it; a job it forked goes on (its own session) and is found again from its
files by the next dashboard.

    python -m steu_core.worker.warm SOCKET [--idle SECONDS] [--lock-fd FD] [--owner PID]
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import steu_core
from steu_core.runs.staging import pid_alive

try:
    import fcntl
except ImportError:  # Windows: no fork either; every job starts as a new process
    fcntl = None

IDLE_SECONDS = 30 * 60.0
ENV_SWITCH = "STEU_WARM_WORKER"
REPLY_TIMEOUT_S = 10.0
MAX_SOCKET_PATH = 104
# Settings read when torch, its math libraries, transformers or Python start (after that, changing them
# changes nothing): a server imported with other values cannot serve a caller.
IMPORT_TIME_ENV = ("STEU_", "OMP_", "MKL_", "KMP_", "OPENBLAS_", "GOTO", "CUDA_", "NVIDIA_", "PYTORCH_", "TORCH",
                   "HF_", "TRANSFORMERS_", "TOKENIZERS_", "LD_", "PYTHON", "MALLOC", "VIRTUAL_ENV", "PATH")
_PACKAGE = Path(steu_core.__file__).resolve().parent
# The BERT family the tests cover; a checkpoint of another architecture imports its own module on first
# use, which is quick once modeling_utils is in.
PRELOAD = ("steu_core.cli", "transformers.modeling_utils", "transformers.models.bert.modeling_bert",
           "transformers.models.distilbert.modeling_distilbert", "transformers.models.roberta.modeling_roberta",
           "transformers.models.auto.tokenization_auto")


# -- where the server listens ---------------------------------------------------------------------

def enabled() -> bool:
    return (os.environ.get(ENV_SWITCH, "1") != "0" and hasattr(os, "fork") and hasattr(socket, "AF_UNIX")
            and fcntl is not None)


def fingerprint() -> str:
    """Changes whenever a job forked from an old server could differ from a freshly started process:
    other code, another interpreter, or a setting that libraries read when they are imported (a job
    gets the rest of its caller's environment with the job)."""
    sources = sorted((str(p.relative_to(_PACKAGE)), p.stat().st_size, p.stat().st_mtime_ns)
                     for p in _PACKAGE.rglob("*.py"))
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(IMPORT_TIME_ENV))
    facts = {"python": sys.executable, "env": env, "sources": sources}
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:20]


def private_socket_dir() -> Path | None:
    """``/tmp/steu-warm-<uid>``, made if missing; None when it is not ours alone (then no warm worker)."""
    folder = Path(tempfile.gettempdir()) / f"steu-warm-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    ours = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
    return folder if ours else None


def socket_path() -> Path | None:
    """Where the server for this code and environment listens; None when the warm worker is off, the
    folder is not private, or the path is longer than a Unix socket's name may be (104 bytes on
    macOS, 108 on Linux: a long TMPDIR)."""
    folder = private_socket_dir() if enabled() else None
    path = folder / f"{fingerprint()}.sock" if folder else None
    return path if path is not None and len(os.fsencode(path)) < MAX_SOCKET_PATH else None


# -- the dashboard's side -------------------------------------------------------------------------

def ask(path: Path, message: dict, timeout: float = REPLY_TIMEOUT_S) -> dict | None:
    """Send one JSON line to the server at ``path``; its one-line JSON reply, or None if none came."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(path))
            conn.sendall(json.dumps(message).encode() + b"\n")
            reply = json.loads(read_line(conn))
    except (OSError, ValueError):
        return None
    return reply if isinstance(reply, dict) else None


def ensure(log: Path) -> bool:
    """True when a warm server for this code and environment answers; otherwise start one (in the
    background, its output appended to ``log``) and return False: until it has imported everything,
    jobs start as plain processes."""
    path = socket_path()
    if path is None:
        return False
    if ask(path, {"ping": True, "owner": os.getpid()}, timeout=2.0) is not None:
        return True
    lock = open(lock_file(path), "a+b")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return False  # a server holds it: starting, or about to answer
    # The lock goes to the new server with its file descriptor, so from this moment until that
    # server exits no other caller can start a second one (its imports take seconds).
    with lock, open(log, "ab") as out:
        subprocess.Popen([sys.executable, "-m", "steu_core.worker.warm", str(path), "--lock-fd", str(lock.fileno()),
                          "--owner", str(os.getpid())],
                         cwd=str(_PACKAGE.parent), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True, pass_fds=(lock.fileno(),))
    return False


def launch(args: list[str], log: Path, first_line: str, env: dict[str, str]) -> int | None:
    """Start ``python -m steu_core <args>`` with environment ``env`` as a child of the warm server; its
    pid, or None when no server answers (start a plain process then)."""
    path = socket_path()
    if path is None or not path.exists():
        return None
    reply = ask(path, {"args": list(args), "log": str(log), "first_line": first_line, "env": dict(env)})
    pid = (reply or {}).get("pid")
    return pid if isinstance(pid, int) and pid > 0 else None


def stop(path: Path | None = None, timeout_s: float = 10.0) -> int | None:
    """Stop the server at ``path`` (default: the one for this code and environment) and wait until its
    socket is gone; its pid, or None when no server answered."""
    path = path or socket_path()
    reply = ask(path, {"ping": True}) if path else None
    if not reply:
        return None
    os.kill(reply["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return reply["pid"]


def lock_file(path: Path) -> Path:
    return path.with_suffix(".lock")


def read_line(conn: socket.socket, limit: int = 1 << 20) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise ValueError("message too long")
    return data


# -- the server -----------------------------------------------------------------------------------

def preload() -> None:
    """Import what every job imports (the CLI and, through it, torch, transformers, scikit-learn,
    scipy) and the model code that loading a checkpoint imports on first use (3 s on 2 cores, most of
    it transformers' shared ``modeling_utils``)."""
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:  # another transformers version: that job imports its own
            continue
    import torch
    if torch.cuda.is_initialized():
        raise RuntimeError("CUDA was initialised while importing; a forked job could not use the GPU")


def serve(path: Path, idle_s: float, lock_fd: int | None = None, owner: int | None = None) -> dict | None:
    """Serve until idle for ``idle_s``, the socket is taken away, or every owner has ended (``owner``:
    the first; every ping naming one adds it). Returns None in the server; in a forked child it returns
    that child's job (the caller runs it). ``lock_fd``: the socket's lock, already taken by the caller that
    started this server."""
    with (os.fdopen(lock_fd, "a+b") if lock_fd is not None else open(lock_file(path), "a+b")) as lock:
        if lock_fd is None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None  # another server holds this socket
        preload()
        signal.signal(signal.SIGTERM, leave)  # a stopped server removes its socket on the way out
        with bind(path) as listener:
            return accept_jobs(listener, path, idle_s, {owner} if owner else set())


def leave(_signum, _frame) -> None:
    sys.exit(0)


def bind(path: Path) -> socket.socket:
    path.unlink(missing_ok=True)  # a socket left by a server that died (we hold the lock)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o077)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    listener.listen(8)
    listener.settimeout(1.0)
    return listener


def accept_jobs(listener: socket.socket, path: Path, idle_s: float, owners: set[int]) -> dict | None:
    server_pid, inode, last_job = os.getpid(), path.stat().st_ino, time.monotonic()
    try:
        while time.monotonic() - last_job < idle_s and socket_still_ours(path, inode) and owned(owners):
            reap_children()
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            with conn:
                job = answer(conn, owners)
                if job is None:
                    continue
                if os.fork() == 0:
                    return job  # the child: the with-blocks close its copies of both sockets
                job["conn"].close()  # the child replies
                last_job = time.monotonic()
        return None
    finally:
        if os.getpid() == server_pid and socket_still_ours(path, inode):
            path.unlink(missing_ok=True)


def owned(owners: set[int]) -> bool:
    """True while some owner lives (or none was named: then only the idle time ends the server)."""
    for pid in list(owners):
        if not pid_alive(pid):
            owners.discard(pid)
            if not owners:
                return False
    return True


def answer(conn: socket.socket, owners: set[int] | None = None) -> dict | None:
    """Read one request: a ping is answered here (a ping naming an ``owner`` pid adds it to ``owners``); a
    job is returned with its own copy of the connection, on which the forked child sends its pid
    (:func:`run_job`)."""
    conn.settimeout(REPLY_TIMEOUT_S)
    try:
        if peer_uid(conn) not in (None, os.getuid()):
            return None
        message = json.loads(read_line(conn))
    except (OSError, ValueError):
        return None
    if not isinstance(message, dict):
        return None
    if message.get("ping"):
        owner = message.get("owner")
        if owners is not None and isinstance(owner, int) and not isinstance(owner, bool) and owner > 0:
            owners.add(owner)
        conn.sendall(json.dumps({"pong": True, "pid": os.getpid()}).encode() + b"\n")
        return None
    args, env = message.get("args"), message.get("env")
    if not (isinstance(args, list) and args and all(isinstance(a, str) for a in args)
            and isinstance(env, dict) and all(isinstance(v, str) for v in env.values())
            and isinstance(message.get("log"), str) and isinstance(message.get("first_line"), str)):
        conn.sendall(b'{"error": "a job needs args (strings), env, log and first_line"}\n')
        return None
    return {**message, "conn": conn.dup()}


def peer_uid(conn: socket.socket) -> int | None:
    """The connecting process's user id where the system tells it (Linux), else None."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def socket_still_ours(path: Path, inode: int) -> bool:
    try:
        return path.stat().st_ino == inode
    except OSError:
        return False


def reap_children() -> None:
    """Collect finished jobs, so none lingers as a zombie that still looks alive to ``kill(pid, 0)``."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# -- a forked child -------------------------------------------------------------------------------

def run_job(job: dict) -> int:
    """Become the job: a new session, the log as stdout and stderr, the pid sent back, the CLI run."""
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as in a plain process: cancelling stops the job at once
    os.environ.clear()
    os.environ.update(job["env"])
    redirect_output(Path(job["log"]), job["first_line"])
    with job["conn"] as conn:  # the caller learns the pid only once the job owns its output
        try:
            conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        except OSError:
            pass
    from steu_core.cli import main  # preload() imported it before the fork: this only names it
    return main(job["args"])


def redirect_output(log: Path, first_line: str) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    with open(log, "ab") as out:
        out.write(first_line.encode())
        out.flush()
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m steu_core.worker.warm", description=__doc__.split("\n\n")[0])
    p.add_argument("socket", type=Path)
    p.add_argument("--idle", type=float, default=IDLE_SECONDS, help="leave after this many seconds without a job")
    p.add_argument("--lock-fd", type=int, help="the socket's lock, inherited already taken")
    p.add_argument("--owner", type=int, help="leave once this process (and every later owner) has ended")
    args = p.parse_args(argv)
    job = serve(args.socket, args.idle, args.lock_fd, args.owner)
    return run_job(job) if job is not None else 0


if __name__ == "__main__":
    sys.exit(main())
