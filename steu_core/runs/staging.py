"""Where a run writes while it runs: a hidden staging directory next to ``out`` that is renamed to
``out`` only when every file is complete. It holds ``progress.json`` (read by the worker, the CLI
and the dashboard); a file named ``CANCEL`` there asks the run to stop. A staging directory whose
progress says "running" with a dead pid is an abandoned run: the next claim of ``out`` removes it.

Test hook: ``STEU_TEST_PAUSE_AT=<point>`` stops the run at a point so crash tests can kill it
there deterministically (see :func:`test_pause`); it does nothing unless that variable is set.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from ..errors import ConfigError, as_user_error
from ..model import write_json_atomic

PROGRESS_FILE = "progress.json"
CANCEL_FILE = "CANCEL"


def staging_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.parent / f".{out.name}.partial"


def read_progress(out: str | Path) -> dict | None:
    """The progress of a run writing to ``out`` (None if there is none)."""
    path = staging_dir(out) / PROGRESS_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
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
    """The hidden directory a run writes into; claims ``out`` so two runs never interleave."""

    def __init__(self, out: Path):
        self.out, self.path = out, staging_dir(out)
        self.t0 = time.perf_counter()
        self._last_write = 0.0
        self.state: dict = {}

    def claim(self) -> None:
        if self.out.exists():
            raise ConfigError(f"output directory '{self.out}' already exists.",
                              hint="Choose a new --out; finished runs are never overwritten.")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise as_user_error(exc) or ConfigError(
                f"cannot create the output directory's parent '{self.out.parent}' ({exc.strerror or type(exc).__name__}).",
                hint="Choose an --out in a directory you may write to.") from None
        for _ in range(2):
            try:
                self.path.mkdir()
                break
            except FileExistsError:
                prev = read_progress(self.out) or {}
                if prev.get("state") == "running" and pid_alive(prev.get("pid")):
                    raise ConfigError(f"another run (process {prev.get('pid')}) is already writing '{self.out}'.",
                                      hint="Wait for it to finish or cancel it, or choose another --out.") from None
                shutil.rmtree(self.path, ignore_errors=True)  # left by a crashed or failed run
            except OSError as exc:
                raise as_user_error(exc) or ConfigError(
                    f"cannot write into '{self.out.parent}' ({exc.strerror or type(exc).__name__}).",
                    hint="Choose an --out in a directory you may write to.") from None
        else:
            raise ConfigError(f"cannot claim '{self.path}'.", hint="Remove it by hand and retry.")
        try:
            self.update(stage="start", step=0, total=0, losses={}, force=True)
        except OSError as exc:  # e.g. a full disk: leave nothing behind
            shutil.rmtree(self.path, ignore_errors=True)
            raise as_user_error(exc) or exc from None

    def update(self, force: bool = False, **info) -> None:
        self.state.update(info)
        self.state.update(state=self.state.get("state", "running"), pid=os.getpid(),
                          elapsed_s=round(time.perf_counter() - self.t0, 2))
        now = time.monotonic()
        if force or now - self._last_write > 0.3:
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
