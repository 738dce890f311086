"""One unlearning run per model at a time.

A run holds an exclusive lock on its model for as long as it runs: a lock file in the data
directory, ``STEU_HOME/locks/model-<sha256 of the resolved model path>.lock``, locked with the
operating system's file lock (``filelock``). The operating system drops the lock when the process
ends, however it ends (kill -9 included), so a crashed run never leaves a stale lock behind.

A second run on the same model is refused at once with "another run on this model is in progress",
naming the holder's process id, output directory and start time, or, with ``wait_s > 0``, waits up
to that long for the first to finish (a queue of length one per waiting process). Who holds the lock
is written next to it in ``<lock>.json`` (pid, out, started); that file is informative only and may
be stale - the lock itself decides.

Claiming an output directory is atomic without a lock (see :mod:`steu_core.runs.staging`); only
reclaiming an abandoned run's staging directory (check it is dead, move it aside) must not
interleave with another reclaim of the same directory, so that step holds :func:`claim_lock`.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from .errors import ConfigError
from .paths import subdir


def model_key(model: str | Path) -> str:
    """A stable key for a model: the resolved directory (the demo model's directory for "default")."""
    if str(model) == "default":
        # demo trains models (torch, transformers): the lock stays importable without loading them
        from .demo import demo_model_dir

        path = demo_model_dir()
    else:
        path = Path(model).expanduser()
    try:
        path = path.resolve()
    except OSError:
        path = path.absolute()
    return hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:24]


def lock_path(model: str | Path) -> Path:
    return subdir("locks") / f"model-{model_key(model)}.lock"  # subdir: an unwritable STEU_HOME is named


def claim_lock_path(out: str | Path) -> Path:
    """The lock serialising reclaims of one output directory's staging area."""
    key = hashlib.sha256(str(Path(out).absolute()).encode("utf-8")).hexdigest()[:24]
    return subdir("locks") / f"out-{key}.lock"


@contextmanager
def claim_lock(out: str | Path, wait_s: float = 30.0) -> Iterator[None]:
    """Hold the reclaim lock of ``out`` (held for milliseconds: waits up to ``wait_s``)."""
    lock = FileLock(str(claim_lock_path(out)))
    try:
        lock.acquire(timeout=wait_s)
    except Timeout:
        raise ConfigError(f"another process has been claiming '{out}' for over {wait_s:.0f} s.",
                          hint="Wait for it, or choose another --out.") from None
    try:
        yield
    finally:
        lock.release()


def holder(model: str | Path) -> dict:
    """Who last took the lock on ``model`` (may be stale; empty if unknown)."""
    try:
        return json.loads(lock_path(model).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}


def _busy_error(model: str | Path, waited: float) -> ConfigError:
    info = holder(model)
    who = []
    if info.get("pid"):
        who.append(f"process {info['pid']}")
    if info.get("out"):
        who.append(f"writing '{info['out']}'")
    if info.get("started"):
        who.append(f"since {info['started']}")
    detail = f" ({', '.join(who)})" if who else ""
    waited_txt = f" after waiting {waited:.0f} s" if waited > 0 else ""
    return ConfigError(f"another run on this model is in progress{detail}; this run was refused{waited_txt}.",
                       hint="Wait for it to finish (or cancel it), or queue behind it with --wait SECONDS.")


@contextmanager
def model_run_lock(model: str | Path, *, out: str | Path = "", wait_s: float = 0.0,
                   on_wait: Callable[[dict], None] | None = None) -> Iterator[Path]:
    """Hold the run lock of ``model`` for the ``with`` block; refuse (ConfigError) if it is taken.

    ``wait_s`` > 0 waits up to that many seconds, calling ``on_wait`` once with the holder's info.
    """
    path = lock_path(model)
    lock = FileLock(str(path))
    t0 = time.monotonic()
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if wait_s <= 0:
            raise _busy_error(model, 0.0) from None
        if on_wait:
            on_wait(holder(model))
        try:
            lock.acquire(timeout=wait_s)
        except Timeout:
            raise _busy_error(model, time.monotonic() - t0) from None
    try:
        info = {"pid": os.getpid(), "out": str(out),
                "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        try:
            tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(info))
            os.replace(tmp, path.with_suffix(".json"))
        except OSError:  # the holder note is informative only
            pass
        yield path
    finally:
        lock.release()
