"""The run record: the one place that builds ``results.json`` and ``manifest.json`` (schema in
docs/CONTRACTS.md), the ledger entries of a run, and the loaders that read finished runs back."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import ConfigError, ResourceError, SteuError, as_user_error
from ..ledger import Ledger
from ..ledger.figures import LEDGER_FIGURES
from ..model import file_sha256
from ..paths import comparisons_dir, runs_dir
from ..phi import mask_tokens
from ..reference import ORACLE
from ..result_keys import (CONF_AUC_AFTER, CONF_AUC_CI_AFTER, CONFUSION_AFTER, FORGET_F1_AFTER,
                           LOSS_AUC_AFTER, LOSS_AUC_CI_AFTER, MACRO_F1_AFTER, MIA, PER_CLASS_F1_AFTER, RETAIN_F1_AFTER)
from ..stats import retained_class_f1
from ..verdicts import headline, verdict_items
from .prepare import calibration_section

SCHEMA_VERSION = 1
ORACLE_METHOD = ORACLE
HASH_DEFINITIONS = {
    "model sha256": "SHA-256 over the sorted lines '<file>:<sha256 of file>' of the directory",
    "content_sha256": "SHA-256 over the JSON [text, label] lines of the notes, in order"}


# The audits repeated for every further seed (the parameter diff is of the kept model only)
SEED_AUDITS = ["utility", "mia", "collateral"]
SPREAD_KEYS = (FORGET_F1_AFTER, RETAIN_F1_AFTER, MACRO_F1_AFTER, LOSS_AUC_AFTER)


def seed_figures(seed: int, audits: dict) -> dict:
    """The figures of one seed's model that the verdicts and the spread read."""
    mia = audits.get(MIA) or {}
    collateral = (audits.get("collateral") or {}).get("per_class", [])
    retained = ((audits.get("collateral") or {}).get("retained_notes") or {}).get("per_class", [])
    attacks = [a for threat in ("outputs", "model_file") for a in (mia.get("attacks") or {}).get(threat, [])]
    return {"seed": seed, FORGET_F1_AFTER: audits.get(FORGET_F1_AFTER),
            RETAIN_F1_AFTER: audits.get(RETAIN_F1_AFTER), MACRO_F1_AFTER: audits.get(MACRO_F1_AFTER),
            LOSS_AUC_AFTER: mia.get(LOSS_AUC_AFTER), LOSS_AUC_CI_AFTER: mia.get(LOSS_AUC_CI_AFTER),
            PER_CLASS_F1_AFTER: audits.get(PER_CLASS_F1_AFTER),
            "per_class_change_ci": {row["label"]: row["change_ci"] for row in collateral},
            "retained_change_ci": {row["label"]: row["change_ci"] for row in retained},
            "retained_f1_after": {row["label"]: row["f1_after"] for row in retained},
            "attacks_after": {a["attack"]: {"auc": a["after"]["auc"], "auc_ci": a["after"]["auc_ci"]} for a in attacks}}


def seed_spread(per_seed: list[dict]) -> dict:
    """Across seeds: min, max, mean and sample standard deviation of each headline figure."""
    out = {}
    for key in SPREAD_KEYS:
        values = np.array([s[key] for s in per_seed if s.get(key) is not None], dtype=float)
        if len(values):
            out[key] = {"min": float(values.min()), "max": float(values.max()), "mean": float(values.mean()),
                        "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return out


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_manifest(run_id: str, model_dir: Path, original_hash: dict, new_hash: dict, forget, forget_file_sha,
                   patch_sha: str) -> dict:
    return {"schema_version": SCHEMA_VERSION, "run_id": run_id, "tool_version": __version__,
            "original_model": {"path": str(model_dir), **original_hash},
            "unlearned_model": {"path": "model", **new_hash},
            "forget_set": {"name": forget.name, "content_sha256": forget.sha256,
                           "file_sha256": forget_file_sha, "rows": len(forget)},
            "patch": {"path": "patch.safetensors", "sha256": patch_sha},
            "hash_definitions": HASH_DEFINITIONS}


def build_results(*, header: dict, selection: dict, audits: dict, rest: dict) -> dict:
    """results.json in its documented key order: identity, method and selection, the audits' figures,
    then times, training, data, model, hashes, request, notes and warnings. Identifier-like selected tokens
    are stored masked (steu_core.phi): results.json is handed out, the tokenizer that reveals them is not."""
    selection = {**selection, "selected_tokens": mask_tokens(selection.get("selected_tokens") or [])}
    return {"schema_version": SCHEMA_VERSION, "tool_version": __version__, **header, **selection, **audits, **rest}


def data_section(data, tokens, eval_forget_rows: int, max_length: int) -> dict:
    """What results.json says about the data (a :class:`.prepare.RequestData` and the notes' token ids, a
    :class:`.step_results.Tokens`): file names, hashes and counts, never text."""
    train = data.train
    return {"train": train.describe() | {"name": train.name},
            "eval": data.evaluation_file.describe(), "forget": data.forget.describe(),
            "retain_rows": len(data.retain), "eval_rows": len(data.evaluation),
            "truncated_notes": {"forget": tokens.forget.truncated, "retain": tokens.retain.truncated,
                                "eval": tokens.evaluation.truncated, "max_length": max_length},
            "eval_forget_class_rows": eval_forget_rows, "forget_source": data.forget_source,
            "calibration": calibration_section(data)}


def request_section(req) -> dict:
    return {"request_id": req.request_id, "requester": req.requester, "reason": req.reason,
            "operator": req.operator}


def run_dir_of(req) -> str:
    """Where a request's run directory is written (absolute): the ledger records it, so that a run made with
    ``--out`` outside the data directory is found again (:mod:`.listing`)."""
    return str(Path(req.out).expanduser().resolve())


def request_entry(req, run_id: str, model_dir: Path, model_sha: str, forget, forget_class: str) -> dict:
    """The ledger entry written when a run starts (before any work)."""
    return {"request_id": req.request_id, "requester": req.requester, "reason": req.reason,
            "operator": req.operator, "run_id": run_id, "run_dir": run_dir_of(req), "model_path": str(model_dir),
            "model_sha256": model_sha, "forget_sha256": forget.sha256, "forget_rows": len(forget),
            "forget_class": forget_class, "method": req.method, "settings": req.settings, "seed": req.seed}


def run_entry(req, run_id: str, request_hash: str | None, results: dict, results_sha256: str) -> dict:
    """The ledger entry of a finished run: the hashes of its evidence, results.json's own among them (it cannot
    hold its own hash), so that a report is made only of figures the ledger pinned; and, beside the outcome, its
    verdicts (a run can succeed and still say "No")."""
    return {"request_id": req.request_id, "run_id": run_id, "run_dir": run_dir_of(req), "outcome": "success",
            **verdict_fields(results), "request_entry": request_hash, "hashes": {**results["hashes"], "results": results_sha256},
            **{k: results[k] for k in LEDGER_FIGURES}}


def verdict_fields(results: dict) -> dict:
    """The headline verdict and every verdict's value, as a run entry carries them."""
    v = results["verdicts"]
    return {"verdict": headline(v), "verdicts": {key: item["verdict"] for key, item in verdict_items(v).items()}}


def rejudged_entry(previous: dict, results: dict, results_sha256: str, comparison_sha256: str,
                   comparison: str, out: Path) -> dict:
    """The run entry that supersedes ``previous`` (the run's own) once a comparison has rewritten the run's
    results.json (its verdicts read against the comparison's retrain) and added its comparison.json: the same
    evidence, with the new results.json hash and the comparison's, and the run's final directory ``out`` (inside
    the comparison's). The newest run entry is the one that counts."""
    p = previous["payload"]
    return {"request_id": p.get("request_id"), "run_id": p.get("run_id"), "run_dir": str(out), "outcome": "success",
            **verdict_fields(results), "request_entry": p.get("request_entry"), "supersedes": previous["entry_hash"],
            "rejudged_by": comparison,
            "hashes": {**(p.get("hashes") or {}), "results": results_sha256, "comparison": comparison_sha256},
            **{k: results.get(k) for k in LEDGER_FIGURES}}


def append_rejudged(run_dir: Path, comparison: str, out: Path) -> dict | None:
    """Pin a run's results.json and comparison.json as rewritten by a comparison (see :func:`rejudged_entry`);
    None when the run has no successful entry to supersede (a comparison that records nothing)."""
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    previous = Ledger().find_run(str(results.get("run_id")))
    if previous is None or previous["payload"].get("outcome") != "success":
        return None
    return append_outcome(rejudged_entry(previous, results, file_sha256(run_dir / "results.json"),
                                         file_sha256(run_dir / "comparison.json"), comparison, out), out)


def outcome_entry(req, run_id: str, request_hash: str, state: str, message: str) -> dict:
    """The ledger entry of a run that failed or was cancelled."""
    return {"request_id": req.request_id, "run_id": run_id, "outcome": state, "request_entry": request_hash,
            "error": message[:500]}


def abandoned_entry(run_id: str, progress: dict) -> dict | None:
    """The ledger entry closing the request of a run whose process died mid-run (kill -9, a crash, a
    power cut), made when its staging directory is reclaimed; None if that run recorded no request."""
    return closing_entry(run_id, progress, "abandoned",
                         f"the run's process ({progress.get('pid')}) ended without finishing (killed or crashed); "
                         "nothing was finished and its staging directory was removed")


def closing_entry(run_id: str, progress: dict, outcome: str, error: str) -> dict | None:
    """An outcome entry written for a run that could not write its own (dead, or stopped from outside),
    from what its progress.json recorded; None if that run recorded no request."""
    request_hash = progress.get("request_entry")
    if not request_hash:
        return None
    return {"request_id": str(progress.get("request_id") or ""), "run_id": run_id, "outcome": outcome,
            "request_entry": request_hash, "stage": str(progress.get("stage") or ""), "error": error}


def append_outcome(payload: dict, out: Path) -> dict:
    """Append a run's outcome entry (kind "run"); a ledger that cannot take it is a
    :class:`LedgerUnavailable` saying the run in ``out`` was not finished."""
    ledger = Ledger()
    try:
        return ledger.append("run", payload)
    except Exception as exc:
        raise unrecorded_error(exc, out, ledger.busy_timeout_s) from None


def unrecorded_error(exc: Exception, out: Path, waited_s: float) -> SteuError:
    """The error of a finished computation whose ledger entry could not be written."""
    why = as_user_error(exc)
    if why is None and "locked" in str(exc).lower():
        why = ResourceError(f"the ledger stayed busy (locked by another process) for over {waited_s:g} s")
    if why is None:
        why = ResourceError(f"the ledger could not be written ({type(exc).__name__}: {str(exc)[:200]})")
    return LedgerUnavailable(f"{why.message}; the run's outcome is not on record, so the run was not finished "
                             f"and nothing was written to '{out}'.",
                             hint="Another process may be holding the ledger (STEU_HOME/ledger.sqlite) or the data "
                                  "directory is not writable: fix that, check it with 'python -m steu_core ledger "
                                  "verify', and run the request again.")


class LedgerUnavailable(ResourceError):
    """The ledger could not take a run's outcome (busy past its timeout, unwritable, full disk)."""


def record_abandoned(run_id: str, progress: dict) -> None:
    """Close the request of a dead run whose staging directory is being reclaimed ("abandoned")."""
    entry = abandoned_entry(run_id, progress)
    if entry is not None:
        Ledger().append("run", entry)


def record_stopped(run_id: str, progress: dict, message: str) -> None:
    """Close the request of a run whose process was stopped from outside before it could ("cancelled")."""
    entry = closing_entry(run_id, progress, "cancelled", message)
    if entry is not None:
        Ledger().append("run", entry)


def oracle_reference(model_sha: str, forget_class: str, train_sha: str | None, eval_sha: str | None,
                     roots: tuple[Path, ...] | None = None) -> dict | None:
    """The newest retrain without the forget notes on the same data - a ``retrain_oracle`` run, alone or in a
    saved comparison, of the same original model (by hash), class, training notes and evaluation notes (by
    content hash) - as the compact reference a run's verdicts read (:func:`reference_of`); None if none exists.
    The evaluation notes must match too: the reference's figures (F1, destinations, attack AUCs) are measured
    on them."""
    found = []
    for path in oracle_result_files(roots or (comparisons_dir(), runs_dir())):
        try:
            r = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        data = r.get("data") or {}
        if (r.get("method") == ORACLE_METHOD and (r.get("model") or {}).get("sha256_before") == model_sha
                and r.get("forget_class") == forget_class and (data.get("train") or {}).get("sha256") == train_sha
                and (data.get("eval") or {}).get("sha256") == eval_sha):
            found.append((str(r.get("created_utc") or ""), path, r))
    if not found:
        return None
    _, path, r = max(found, key=lambda item: item[0])
    return reference_of(r, path.parent)


def oracle_result_files(roots: tuple[Path, ...]) -> list[Path]:
    """results.json of every finished run directly under a root, and of every comparison's oracle run."""
    files = []
    for root in roots:
        for d in root.iterdir() if root.is_dir() else []:
            if d.name.startswith("."):
                continue  # staging directories: never finished
            files += [f for f in (d / "results.json", d / ORACLE_METHOD / "results.json") if f.is_file()]
    return files


def reference_of(oracle: dict, where: Path | None = None) -> dict:
    """What a run's verdicts read of a retrain without the forget notes: where it is, which data it was
    measured on, its retained-class F1 on the retained notes, where it sends the forgotten class's notes, and
    every membership attack's AUC against it."""
    fc, labels = oracle.get("forget_class_id"), oracle.get("labels") or []
    data, mia = oracle.get("data") or {}, oracle.get(MIA) or {}
    attacks = [a for threat in ("outputs", "model_file") for a in (mia.get("attacks") or {}).get(threat, [])]
    after = {a["attack"]: {"auc": a["after"]["auc"], "auc_ci": a["after"]["auc_ci"]} for a in attacks}
    old_records = (("loss", LOSS_AUC_AFTER, LOSS_AUC_CI_AFTER), ("confidence", CONF_AUC_AFTER, CONF_AUC_CI_AFTER))
    for name, auc, ci in old_records:  # records from before the attack list
        if name not in after and mia.get(auc) is not None:
            after[name] = {"auc": mia[auc], "auc_ci": mia.get(ci)}
    return {"method": ORACLE_METHOD, "run_id": oracle.get("run_id"), "path": str(where) if where else None,
            "created_utc": oracle.get("created_utc"),
            "model_sha256": (oracle.get("model") or {}).get("sha256_before"), "forget_class": oracle.get("forget_class"),
            "train_sha256": (data.get("train") or {}).get("sha256"), "eval_sha256": (data.get("eval") or {}).get("sha256"),
            "retained_f1_after": retained_f1_of(oracle.get(CONFUSION_AFTER), labels, fc),
            "forgotten_notes_after": ((oracle.get("collateral") or {}).get("forgotten_notes") or {}).get("after"),
            "attacks_after": after}


def retained_f1_of(confusion, labels: list[str], fc) -> dict:
    """{retained class: F1 on the retained-class notes} from a recorded confusion matrix."""
    if not confusion or fc is None:
        return {}
    kept = [c for i, c in enumerate(labels) if i != fc]
    return dict(zip(kept, (float(v) for v in retained_class_f1(np.asarray(confusion), int(fc)))))


def load_results(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise ConfigError(f"'{run_dir}' is not a finished run (no results.json).",
                          hint="Give the --out directory of a completed unlearn run.")
    return json.loads(path.read_text())
