"""Where a run writes while it runs: a hidden staging directory next to ``out`` that is renamed to
``out`` only when every file is complete. It holds ``progress.json`` (read by the worker, the CLI
and the dashboard); a file named ``CANCEL`` there asks the run to stop. A staging directory whose
progress says "running" with a dead pid is an abandoned run: the next claim of ``out`` removes it
(after ``on_abandoned`` has recorded that run's outcome). Claiming is atomic: a directory already
holding ``progress.json`` is renamed onto the staging path, which fails while one is there.

Test hook: ``STEU_TEST_PAUSE_AT=<point>`` stops the run at a point so crash tests can kill it
there deterministically (see :func:`test_pause`); it does nothing unless that variable is set.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, as_user_error
from ..locks import claim_lock
from ..model import write_json_atomic

PROGRESS_FILE = "progress.json"
CANCEL_FILE = "CANCEL"


def staging_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.parent / f".{out.name}.partial"


def read_progress(out: str | Path) -> dict | None:
    """The progress of a run writing to ``out`` (None if there is none)."""
    return progress_in(staging_dir(out))


def progress_in(directory: Path) -> dict | None:
    try:
        return json.loads((directory / PROGRESS_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def request_cancel(out: str | Path) -> bool:
    stage = staging_dir(out)
    if stage.is_dir():
        (stage / CANCEL_FILE).touch()
        return True
    return False


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Staging:
    """The hidden directory a run writes into; claims ``out`` so two runs never interleave.

    ``on_abandoned(progress)`` is called, before anything is removed, with the progress of a dead
    run whose staging directory this claim reclaims (to record that run's outcome); if it raises,
    nothing is removed and the claim fails.
    """

    def __init__(self, out: Path, on_abandoned: Callable[[dict], None] | None = None):
        self.out, self.path = out, staging_dir(out)
        self.on_abandoned = on_abandoned
        self.t0 = time.perf_counter()
        self._last_write = 0.0
        self.state: dict = {}

    def claim(self) -> None:
        """Make the staging directory of ``out`` this process's, atomically (see :meth:`_place`);
        a finished ``out`` or a live run writing it is refused, an ended run's leftovers reclaimed."""
        self._refuse_finished()
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise as_user_error(exc) or ConfigError(
                f"cannot create the output directory's parent '{self.out.parent}' ({exc.strerror or type(exc).__name__}).",
                hint="Choose an --out in a directory you may write to.") from None
        for _ in range(3):
            if self._place():
                break
            self._reclaim()
        else:
            raise ConfigError(f"cannot claim '{self.path}'.", hint="Remove it by hand and retry.")
        if self.out.exists():  # a run into the same --out finished between the check and the claim
            self.discard()
            self._refuse_finished()

    def _refuse_finished(self) -> None:
        if os.path.lexists(self.out):
            raise ConfigError(f"output directory '{self.out}' already exists.",
                              hint="Choose a new --out; finished runs are never overwritten.")

    def _place(self) -> bool:
        """Rename a fresh directory that already holds progress.json (this pid, "running") onto the
        staging path. The rename is atomic and fails while a claimed staging directory is there (it
        is never empty), so of two processes claiming at once exactly one wins; False: one is there."""
        fresh = self.out.parent / f".{self.out.name}.claim-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.state.update(state="running", stage="start", step=0, total=0, losses={}, pid=os.getpid(), elapsed_s=0.0)
        try:
            fresh.mkdir()
            write_json_atomic(fresh / PROGRESS_FILE, self.state)
            os.rename(fresh, self.path)
        except OSError as exc:
            shutil.rmtree(fresh, ignore_errors=True)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                return False
            raise as_user_error(exc) or ConfigError(
                f"cannot write into '{self.out.parent}' ({exc.strerror or type(exc).__name__}).",
                hint="Choose an --out in a directory you may write to.") from None
        self._last_write = time.monotonic()
        return True

    def _reclaim(self) -> None:
        """Remove the staging directory of a run that is over (failed, cancelled, or abandoned: "running"
        with a dead pid); refuse while its writer lives. Under the reclaim lock, so that a claim placed
        after another claimant's reclaim is never taken for the dead one and removed."""
        with claim_lock(self.out):
            # what is there is looked at before its progress is read: a claim placed (without the lock) after
            # another claimant's reclaim would otherwise be read as "no progress" and removed as over
            if not os.path.lexists(self.path):
                return  # reclaimed by another claimant meanwhile
            prev = read_progress(self.out) or {}
            if prev.get("state") == "running" and pid_alive(prev.get("pid")):
                raise ConfigError(f"another run (process {prev.get('pid')}) is already writing '{self.out}'.",
                                  hint="Wait for it to finish or cancel it, or choose another --out.")
            if prev.get("state") == "running" and self.on_abandoned:
                self.on_abandoned(prev)
            aside = self.out.parent / f".{self.out.name}.reclaimed-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(self.path, aside)
            except FileNotFoundError:
                return
            if (progress_in(aside) or {}) != prev:  # the run read went, and a new claim took its place
                os.rename(aside, self.path)
                return
        shutil.rmtree(aside, ignore_errors=True) if aside.is_dir() else aside.unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove the staging directory entirely (a refused run leaves nothing behind)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def update(self, force: bool = False, **info) -> None:
        # step counts are written at most every 0.3 s; a new stage or activity is written at once
        changed = any(key in info and info[key] != self.state.get(key) for key in ("stage", "activity"))
        self.state.update(info)
        self.state.update(state=self.state.get("state", "running"), pid=os.getpid(),
                          elapsed_s=round(time.perf_counter() - self.t0, 2))
        now = time.monotonic()
        if force or changed or now - self._last_write > 0.3:
            self._last_write = now
            write_json_atomic(self.path / PROGRESS_FILE, self.state)

    def cancelled(self) -> bool:
        return (self.path / CANCEL_FILE).exists()

    def finish(self) -> None:
        (self.path / PROGRESS_FILE).unlink(missing_ok=True)
        (self.path / CANCEL_FILE).unlink(missing_ok=True)
        (self.path / RESUME_FILE).unlink(missing_ok=True)
        os.replace(self.path, self.out)

    def fail(self, state: str, message: str) -> None:
        """Remove every partial output; keep only progress.json saying what happened.

        If even that cannot be written (a full disk), the staging directory goes entirely.
        """
        if not self.path.exists():
            return
        try:
            for child in self.path.iterdir():
                if child.name != PROGRESS_FILE:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            self.state["state"] = state
            self.update(force=True, stage=state, message=message)
        except OSError:
            shutil.rmtree(self.path, ignore_errors=True)


RESUME_FILE = "RESUME"
TEST_PAUSE_ENV = "STEU_TEST_PAUSE_AT"
EXPLICIT_PAUSE_POINTS = {"save", "finish"}


def test_pause(stage: Staging, point: str | None) -> None:
    """Test hook, inert unless ``STEU_TEST_PAUSE_AT`` names ``point``.

    The run marks ``progress.json`` with ``"paused_at": point`` and sleeps until a file ``RESUME``
    appears in the staging directory (at most 10 minutes), so a test can kill -9 it at a known
    point. Points: ``select`` (token selection starts), ``unlearn`` (after the first training
    step), ``save`` (the new model is written into staging; patch, manifest and results are not),
    ``finish`` (results.json written into staging, not yet renamed into place); any other stage
    name the run reports works as well.
    """
    if not point or os.environ.get(TEST_PAUSE_ENV) != point or stage.state.get("paused_at") == point:
        return
    stage.update(force=True, paused_at=point)
    deadline = time.monotonic() + 600
    resume = stage.path / RESUME_FILE
    while time.monotonic() < deadline and not resume.exists():
        time.sleep(0.02)
    resume.unlink(missing_ok=True)
