"""Runs: one deletion request through one method, from files to a finished run directory.

``request`` (in :mod:`steu_core.request`) -> :mod:`.prepare` (data checked against the model) ->
:mod:`.pipeline` (the named steps) -> :mod:`.record` (results.json, manifest, ledger entries);
:mod:`.staging` is where a run writes while it runs, :mod:`.stages` the stages it reports.
"""
from ..request import CompareRequest, RunRequest, UnlearnRequest  # noqa: F401
from .pipeline import run_unlearning  # noqa: F401
from .prepare import check_max_length, data_warnings, load_request_data  # noqa: F401
from .listing import list_runs, location  # noqa: F401
from .record import SCHEMA_VERSION, load_results, new_run_id, reference_of  # noqa: F401
from .staging import (CANCEL_FILE, PROGRESS_FILE, RESUME_FILE, TEST_PAUSE_ENV, Staging, pid_alive,  # noqa: F401
                      read_progress, request_cancel, staging_dir)
