"""Runs off the caller's thread: one unlearning run, or one comparison, = one worker process.

The dashboard must stay responsive while a run takes minutes, and a browser refresh must find the
run again. So a run is started as its own process, ``python -m steu_core unlearn ... --quiet`` (a
comparison: ``compare``), in a new session (closing the browser or restarting the page never kills
it), forked from the warm worker (:mod:`.warm`) when one is ready, and everything about it is read
back from files in the data directory:

* ``runs/.<run_id>.partial/progress.json`` (``comparisons/.<id>.partial/``) - written by the job itself
  (see :mod:`steu_core.runs`);
* ``worker/<run_id>.json`` - the launch record: pid, start time, log file, ``started_by`` ("warm worker"
  or "new process");
* ``logs/<run_id>.log`` - the process's stdout/stderr. With ``--quiet`` the CLI prints only the
  summary figures or one user-facing error line; neither contains note text.

Nothing here keeps state that a page reload would lose: :func:`status`, :func:`active_runs` and
:func:`cancel` (and their comparison twins) work from any process that sees the same data directory.

One job per module: ``process`` (starting, watching and stopping a process), ``warm`` (the warm
worker that forks jobs with their imports already done), ``files`` (launch records and logs), ``jobs``
(a job's life, for either kind). This module names the two kinds and is
the one import path: ``from steu_core import worker``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..paths import comparisons_dir, erasures_dir, precomputed_dir, runs_dir
from ..request import CompareRequest, PrecomputeRequest, UnlearnRequest
from ..runs.precompute import DONE_FILE as PRECOMPUTED_FILE
from . import jobs
from ..runs import staging_dir
from .files import launch_dir, launch_file, log_path, logs_dir, read_launch, write_launch
from .jobs import RUNNING_STATES, JobKind, RunStatus
from .process import REPO_ROOT, build_command, is_zombie, process_alive

RUNS = JobKind(noun="run", root=runs_dir, done_file="results.json", id_prefix="run")
COMPARISONS = JobKind(noun="comparison", root=comparisons_dir, done_file="comparison.json", id_prefix="cmp",
                      keeps_cancelled=False)
ERASURES = JobKind(noun="erasure", root=erasures_dir, done_file="erasure.json", id_prefix="erase")
# it only reads the request's uploads, which stay the request's (a run's end deletes them)
PRECOMPUTES = JobKind(noun="background scoring", root=precomputed_dir, done_file=PRECOMPUTED_FILE, id_prefix="pre",
                      owns_uploads=False)
KEEP_PRECOMPUTES = 8  # finished or failed background scorings kept (with their launch records and logs)

__all__ = ["COMPARISONS", "ERASURES", "PRECOMPUTES", "active_erasures", "cancel_erasure", "erasure_status", "start_erasure", "REPO_ROOT", "RUNNING_STATES", "RUNS", "JobKind", "RunStatus", "active_comparisons",
           "active_runs", "build_command", "cancel", "cancel_comparison", "comparison_status", "discard",
           "discard_comparison", "is_zombie", "launch_dir", "log_path", "logs_dir", "process_alive", "read_launch",
           "start_comparison", "start_precompute", "precompute_status", "cancel_precompute", "start_run", "status", "unfinished_comparisons", "unfinished_runs", "wait",
           "wait_comparison", "warm_up", "write_launch"]


def warm_up() -> bool:
    """Make sure a warm worker (:mod:`.warm`) is ready or starting; True when one answers now."""
    from . import warm  # imported on use, see process.start_job

    return warm.ensure(logs_dir() / "warm-worker.log")


# -- runs ---------------------------------------------------------------------------------------
def start_run(req: UnlearnRequest, *, exclusive: bool = True) -> RunStatus:
    """Start ``req`` in a worker process and return at once.

    ``req.out`` empty: the run goes to ``runs/<new run id>`` in the data directory. With
    ``exclusive`` (the default) a second run is refused while one is active, so a double click or a
    second browser tab never starts the same work twice.
    """
    return jobs.start(RUNS, req, active_runs() if exclusive else [])


def status(run: str | Path) -> RunStatus:
    return jobs.status(RUNS, run)


def active_runs(root: Path | None = None) -> list[RunStatus]:
    return jobs.active(RUNS, root)


def unfinished_runs(root: Path | None = None) -> list[RunStatus]:
    return jobs.unfinished(RUNS, root)


def cancel(run: str | Path, force: bool = False) -> bool:
    return jobs.cancel(RUNS, run, force)


def discard(run: str | Path) -> bool:
    return jobs.discard(RUNS, run)


def wait(run: str | Path, timeout: float = 600.0, poll: float = 0.5) -> RunStatus:
    return jobs.wait(RUNS, run, timeout, poll)


# -- comparisons --------------------------------------------------------------------------------
def start_comparison(req: CompareRequest, *, exclusive: bool = True) -> RunStatus:
    """Start a comparison in a worker process (``comparisons/<new id>`` when ``req.out`` is empty).

    With ``exclusive`` it is refused while a comparison or a run is active: each method of a
    comparison is a run that needs the model's run lock, and both would share the same CPU."""
    return jobs.start(COMPARISONS, req, (active_comparisons() + active_runs()) if exclusive else [])


def comparison_status(comparison: str | Path) -> RunStatus:
    """Like :func:`status`; ``detail`` holds the comparison's ``method``, ``index`` and the current
    method's own progress ``run`` (see docs/CONTRACTS.md)."""
    return jobs.status(COMPARISONS, comparison)


def active_comparisons(root: Path | None = None) -> list[RunStatus]:
    return jobs.active(COMPARISONS, root)


def unfinished_comparisons(root: Path | None = None) -> list[RunStatus]:
    return jobs.unfinished(COMPARISONS, root)


def cancel_comparison(comparison: str | Path, force: bool = False) -> bool:
    return jobs.cancel(COMPARISONS, comparison, force)


def discard_comparison(comparison: str | Path) -> bool:
    return jobs.discard(COMPARISONS, comparison)


def wait_comparison(comparison: str | Path, timeout: float = 600.0, poll: float = 0.5) -> RunStatus:
    return jobs.wait(COMPARISONS, comparison, timeout, poll)


# -- erasures (one retrain for several deletion requests, then their audits) ---------------------
def start_erasure(req) -> RunStatus:
    """Start ``python -m steu_core erase`` in a worker process (``erasures/<new id>`` when ``req.out`` is empty);
    refused while an erasure, a comparison or a run is active (they share the CPU and the model)."""
    return jobs.start(ERASURES, req, active_erasures() + active_comparisons() + active_runs())


def erasure_status(erasure: str | Path) -> RunStatus:
    return jobs.status(ERASURES, erasure)


def active_erasures(root: Path | None = None) -> list[RunStatus]:
    return jobs.active(ERASURES, root)


def cancel_erasure(erasure: str | Path, force: bool = False) -> bool:
    """Stop an erasure; the retrain's checkpoint stays, so starting the same erasure again resumes it."""
    return jobs.cancel(ERASURES, erasure, force)


# -- the original model's scores, computed while a request is being prepared ---------------------
def start_precompute(req: PrecomputeRequest) -> RunStatus:
    """Start computing ``req``'s original scores in a worker process (``precomputed/<new id>``); a run of the
    same request started meanwhile waits for them (:mod:`steu_core.runs.precompute`). Older ones are pruned."""
    prune_precomputes()
    return jobs.start(PRECOMPUTES, req, [])


def precompute_status(job: str | Path) -> RunStatus:
    return jobs.status(PRECOMPUTES, job)


def cancel_precompute(job: str | Path) -> bool:
    """Stop a background scoring now (what it stored so far stays valid: each entry is written whole)."""
    return jobs.cancel(PRECOMPUTES, job, force=True)


def prune_precomputes(keep: int = KEEP_PRECOMPUTES) -> None:
    """Remove all but the newest ``keep`` ended background scorings: directory, launch record and log."""
    root = precomputed_dir()
    names = {d.name.lstrip(".").removesuffix(".partial") for d in root.iterdir() if d.is_dir()}
    for job_id in sorted((n for n in names if n.startswith("pre-")), reverse=True)[keep:]:
        if precompute_status(root / job_id).active:
            continue
        for folder in (root / job_id, staging_dir(root / job_id)):
            shutil.rmtree(folder, ignore_errors=True)
        launch_file(job_id).unlink(missing_ok=True)
        log_path(job_id).unlink(missing_ok=True)
