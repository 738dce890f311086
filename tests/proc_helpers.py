"""Run ``python -m steu_core`` as a real process, pause it at a stage (STEU_TEST_PAUSE_AT), kill it.

Shared by the crash and concurrency tests.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import CLASS_WORDS, make_notes, write_csv
from tiny_models import make_tiny_classifier

ROOT = Path(__file__).resolve().parent.parent
FAST_SETTINGS = '{"max_steps": 4, "min_df": 2}'


def unlearn_argv(model, train, evaluation, out, forget_class="substance", extra=()) -> list[str]:
    return [sys.executable, "-m", "steu_core", "unlearn", "--quiet", "--model", str(model), "--train", str(train),
            "--eval", str(evaluation), "--forget-class", forget_class, "--out", str(out), "--device", "cpu",
            "--k", "4", "--settings", FAST_SETTINGS, "--min-forget", "5", "--max-length", "48", *extra]


def spawn(argv, home: Path, pause_at: str | None = None, log_dir: Path | None = None, **env_extra) -> subprocess.Popen:
    env = dict(os.environ, STEU_HOME=str(home), PYTHONUNBUFFERED="1", **env_extra)
    env.pop("STEU_TEST_PAUSE_AT", None)
    if pause_at:
        env["STEU_TEST_PAUSE_AT"] = pause_at
    log_dir = log_dir or home
    name = f"proc-{time.monotonic_ns()}"
    out = open(log_dir / f"{name}.stdout", "wb")
    err = open(log_dir / f"{name}.stderr", "wb")
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err)
    proc.log_paths = (Path(out.name), Path(err.name))  # type: ignore[attr-defined]
    out.close()
    err.close()
    return proc


def logs(proc) -> tuple[str, str]:
    o, e = proc.log_paths
    return o.read_text(errors="replace"), e.read_text(errors="replace")


def staging_progress(out: Path) -> dict | None:
    p = out.parent / f".{out.name}.partial" / "progress.json"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def wait_paused(proc, out: Path, point: str, timeout: float = 180.0) -> dict:
    """Block until the run writing ``out`` reports it is paused at ``point``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        prog = staging_progress(out)
        if prog and prog.get("paused_at") == point:
            return prog
        if proc.poll() is not None:
            o, e = logs(proc)
            raise AssertionError(f"the run exited ({proc.returncode}) before pausing at {point}:\n{o}\n{e}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the run did not reach {point} within {timeout:.0f} s")


def resume(out: Path) -> None:
    (out.parent / f".{out.name}.partial" / "RESUME").touch()


def kill9(proc) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def small_untrained_request(d) -> dict:
    """An untrained tiny BERT with small train and eval files in ``d``: enough for CLI runs whose
    bookkeeping (hashes, claims, ledger entries) is tested, not their forgetting."""
    return {"model": make_tiny_classifier("bert", d / "model", sorted(CLASS_WORDS)),
            "train": write_csv(d / "train.csv", make_notes(12, seed=1)),
            "eval": write_csv(d / "eval.csv", make_notes(6, seed=2))}
