"""A finished run's evidence as the report reads it: results.json, comparison.json and the run's
ledger entry. Nothing here opens a data file, so no note text can reach the report."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError, EvidenceError
from ..ledger import Ledger
from ..result_keys import (FORGET_F1_AFTER, FORGET_F1_BEFORE, MACRO_F1_AFTER, MACRO_F1_BEFORE, RETAIN_F1_AFTER,
                           RETAIN_F1_BEFORE)
from ..runs.staging import pid_alive
from ..runs.verify import read_manifest, run_directory, verify_evidence

REPORT_SCHEMA = 1

REQUIRED_KEYS = ("run_id", "labels", "forget_class", FORGET_F1_BEFORE, FORGET_F1_AFTER, RETAIN_F1_BEFORE,
                 RETAIN_F1_AFTER, MACRO_F1_BEFORE, MACRO_F1_AFTER, "params_total", "params_changed",
                 "params_changed_fraction")

_RUN_HINT = "Give the --out directory of a completed unlearn run (it holds results.json)."
_TAMPERED_HINT = ("Restore the run directory from a backup (or run the request again), and check it with "
                  "'python -m steu_core verify'.")
_STATES = {"running": "is still running", "failed": "failed", "cancelled": "was cancelled"}


def load_finished_run(run_dir: str | Path) -> dict:
    """results.json of a finished run, or a ConfigError that says what is wrong with ``run_dir``."""
    run = Path(run_dir).expanduser()
    _check_run_dir(run)
    path = run / "results.json"
    if not path.is_file():
        raise ConfigError(f"'{run}' is not a finished run (no results.json).", hint=_RUN_HINT)
    results = _read_results(path)
    _check_results(path, results)
    return results


def _check_run_dir(run: Path) -> None:
    if not run.exists():
        partial = run.parent / f".{run.name}.partial"
        if partial.is_dir():
            raise ConfigError(f"'{run}' is not a finished run: the run writing to it {_unfinished_state(partial)}.",
                              hint=_RUN_HINT)
        raise ConfigError(f"run directory '{run}' does not exist.", hint=_RUN_HINT)
    if not run.is_dir():
        raise ConfigError(f"'{run}' is not a directory.", hint=_RUN_HINT)


def _unfinished_state(partial: Path) -> str:
    """What the run staged in ``partial`` is doing, in words: "is still running", "failed (message)"."""
    state = "did not finish (its progress.json is missing or unreadable)"  # a live run's always reads
    try:
        prog = json.loads((partial / "progress.json").read_text())
        state = _STATES.get(prog.get("state"), "did not finish")
        if prog.get("state") == "running" and not pid_alive(prog.get("pid")):
            state = (f"was abandoned: its process ({prog.get('pid')}) ended without finishing (killed or crashed); "
                     "run the request again with the same --out (that records it as abandoned)")
        elif prog.get("message") and prog.get("state") != "running":
            state += f" ({prog['message']})"
    except (OSError, json.JSONDecodeError, AttributeError):
        pass
    return state


def _read_results(path: Path) -> dict:
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"'{path}' cannot be read: {exc}.", hint="The run directory may be damaged; rerun.") from None
    if not isinstance(results, dict):
        raise ConfigError(f"'{path}' does not hold a results object.")
    return results


def _check_results(path: Path, results: dict) -> None:
    if results.get("schema_version") not in (None, REPORT_SCHEMA):
        raise ConfigError(f"'{path}' has schema_version {results.get('schema_version')}; this report reads "
                          f"version {REPORT_SCHEMA}.", hint="Use the STEU Audit version that wrote the run.")
    missing = [k for k in REQUIRED_KEYS if k not in results]
    if missing:
        raise ConfigError(f"'{path}' lacks {', '.join(missing)}.", hint="It was not written by a finished run.")


def check_pinned_evidence(run_dir: str | Path, results: dict) -> None:
    """Refuse (:class:`EvidenceError`, the first mismatch named) a recorded run whose files are not the ones its
    ledger entry pinned: results.json, manifest, patch, comparison.json and model/, as ``verify`` checks them. A
    run the ledger does not know passes: its report says "not recorded" and verify-report fails it."""
    run = run_directory(run_dir)
    run_id, named = read_manifest(run)["run_id"], str(results.get("run_id", ""))
    ledger = Ledger()
    if not any(ledger.find_run(i) for i in {run_id, named}):
        return
    if named != run_id:
        raise EvidenceError(f"results.json names run '{named}' but the manifest of '{run}' names '{run_id}': the run "
                            "directory was altered; no report was written.", hint=_TAMPERED_HINT)
    v, entry, _ = verify_evidence(run, ledger)
    failed = next((c for c in v.checks if not c.ok), None)
    if failed is not None:
        raise EvidenceError(f"the run's evidence does not match its ledger entry ({failed.name}: {failed.message}); "
                            "no report was written.", hint=_TAMPERED_HINT)
    if "results" not in (entry["payload"].get("hashes") or {}):
        raise EvidenceError(f"the ledger entry of run {run_id} pins no results.json hash (it was recorded by an "
                            "earlier version), so its figures cannot be attested; no report was written.",
                            hint="Run the request again with this version to get a report.")


def load_comparison(run_dir: str | Path) -> list[dict] | None:
    """Rows of ``comparison.json`` if the run directory has one (a list, or {"rows": [...]})."""
    path = Path(run_dir) / "comparison.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        return None
    return [r for r in rows if isinstance(r, dict)] or None


def ledger_record(run_id: str) -> dict:
    """The ledger entry of kind "run" for ``run_id`` and the state of the chain (never raises)."""
    try:
        ledger = Ledger()
        entry = ledger.find_run(run_id)
        check = ledger.verify()
    except Exception as exc:  # a missing or unreadable ledger must not stop the report
        return {"recorded": False, "text": "not recorded", "error": f"ledger unreadable: {type(exc).__name__}"}
    chain = (f"intact ({check.n_entries} entries)" if check.ok else
             f"BROKEN at entry {check.first_broken_seq}: {check.reason}")
    if entry is None:
        return {"recorded": False, "text": "not recorded", "ledger_path": str(ledger.path), "chain": chain}
    return {"recorded": True, "text": entry["entry_hash"], "entry_hash": entry["entry_hash"], "seq": entry["seq"],
            "ts_utc": entry["ts_utc"], "outcome": entry["payload"].get("outcome", ""),
            "prev_hash": entry["prev_hash"], "ledger_path": str(ledger.path), "chain": chain}
