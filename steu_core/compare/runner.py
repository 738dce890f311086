"""Running a comparison: every method as an ordinary run in the comparison's staging directory, then the
original and every new model scored on the same notes, the deep audits, and the table written."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..audits.deep import ORACLE, ORIGINAL, DeepInputs, model_outputs, run_deep_audits
from ..audits.hidden_mia import ATTACK as HIDDEN_ATTACK
from ..demo import resolve_model_path
from ..errors import Cancelled, SteuError, failure_message
from ..methods import calibration_share
from ..methods.sampling import stratified_sample
from ..model import encode, load_classifier, seed_everything, write_json_atomic
from ..request import CompareRequest
from ..runs import Staging, load_request_data, reference_of, run_unlearning
from ..runs.prepare import split_calibration
from ..runs.record import append_rejudged, verdict_fields
from ..verdicts import MODEL_FILE, OUTPUTS, compute_verdicts
from .files import write_comparison
from .table import build_comparison

CANCELLED = "the comparison was cancelled"
# the deep audits whose figures join each run's membership attacks: (audit, threat model, what it reads,
# whether an AUC below chance means over-forgetting)
ATTACK_NAMES = {"reference_mia": "RMIA (reference models)", "hidden_mia": HIDDEN_ATTACK}
COMPARISON_ATTACKS = (
    ("reference_mia", OUTPUTS, "the probability of the class against its average over reference models trained "
                               "with and without each note", True),
    ("hidden_mia", MODEL_FILE, "the mean-pooled hidden states of every depth", False))
# the part of a method run's progress shown inside the comparison's progress
RUN_PROGRESS_KEYS = ("stage", "step", "total", "activity", "elapsed_s")


def run_comparison(req: CompareRequest, progress: Callable[[dict], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> Path:
    """Run every method of ``req`` and the deep audits; return the finished comparison directory."""

    req.validate()
    out = Path(req.out).expanduser().resolve()
    stage = Staging(out)
    stage.claim()
    t_start = time.perf_counter()

    def report(info: dict) -> None:
        stage.update(**info)
        if progress:
            progress(dict(stage.state))

    def is_cancelled() -> bool:
        return stage.cancelled() or bool(cancel and cancel())

    try:
        results = _run_methods(req, stage.path, report, is_cancelled)
        report({"stage": "score", "method": None, "run": {}, "activity": ""})
        inputs = deep_inputs_from_runs(req, stage.path, report, is_cancelled)
        report({"method": None})  # the audits name the model they are at themselves
        audits = run_deep_audits(inputs, req.audits)
        report({"stage": "table"})
        comparison = build_comparison(req, results, audits, inputs, time.perf_counter() - t_start)
        judge_with_comparison(results, comparison, audits, stage.path, out)
        write_comparison(stage.path, comparison)
        # each run directory carries the comparison, so the PDF report of any of them shows it
        for method in req.methods:
            write_json_atomic(stage.path / method / "comparison.json", comparison)
        if req.record_ledger:  # the rewritten results.json and the comparison pinned, as the runs' own entries pin theirs
            for method in req.methods:
                append_rejudged(stage.path / method, out.name, out / method)
        if is_cancelled():
            raise Cancelled(CANCELLED)
        stage.finish()
        return out
    except BaseException as exc:
        if isinstance(exc, (Cancelled, KeyboardInterrupt)):
            stage.discard()  # nothing of a cancelled comparison is kept, not even its staging directory
        else:
            stage.fail("failed", str(exc) if isinstance(exc, SteuError) else failure_message(exc))
        raise


def judge_with_comparison(results: dict[str, dict], comparison: dict, audits: dict, root: Path, out: Path) -> None:
    """Every run's verdicts read again with what the comparison measured: the retrain oracle as the reference
    (usefulness, destinations, attack AUCs), its own attacks (:func:`add_comparison_attacks`), and the
    relearning verdict in the model-file verdict. Each results.json is rewritten in the staging directory,
    before the rename."""
    for method, r in results.items():
        add_comparison_attacks(r, audits, method)
    oracle = results.get(ORACLE)
    reference = reference_of(oracle, out / ORACLE) if oracle else None  # with the comparison's attacks
    rows = {row["method"]: row for row in comparison.get("rows", [])}
    for method, r in results.items():
        if reference is not None and method != ORACLE:
            r["reference"] = reference
        r["verdicts"] = compute_verdicts(r, relearn=(rows.get(method) or {}).get("relearn_verdict"))
        write_json_atomic(root / method / "results.json", r)
        if method in rows:  # the table says each method's verdicts too, as its run records them
            rows[method].update(verdict_fields(r))


def add_comparison_attacks(r: dict, audits: dict, method: str) -> None:
    """The comparison's membership attacks against the original and this method's model, added to the run's
    record: RMIA (it needs reference models) among the output attacks, the mean-pooled hidden states among the
    model-file attacks (they need a pass over every layer)."""
    attacks = (r.get("mia") or {}).get("attacks")
    if not attacks:
        return
    for audit, threat, features, class_probability in COMPARISON_ATTACKS:
        per_model = (audits.get(audit) or {}).get("per_model") or {}
        before, after = per_model.get(ORIGINAL), per_model.get(method)
        if not (before and after):
            continue
        name = ATTACK_NAMES[audit]
        attacks[threat] = [a for a in attacks.get(threat, []) if a["attack"] != name] + [
            {"attack": name, "features": features, "learned": audit == "hidden_mia",
             "over_forgetting_below_chance": class_probability,
             "before": {k: before.get(k) for k in ("auc", "auc_ci", "tpr_at_1pct_fpr")},
             "after": {k: after.get(k) for k in ("auc", "auc_ci", "tpr_at_1pct_fpr")}}]


def _run_methods(req: CompareRequest, root: Path, report: Callable[[dict], None],
                 is_cancelled: Callable[[], bool]) -> dict[str, dict]:
    """Every method of ``req`` as a run in ``root/<method>``; their ``results.json`` by method."""
    results: dict[str, dict] = {}
    for i, method in enumerate(req.methods, start=1):
        if is_cancelled():
            raise Cancelled(CANCELLED)
        report({"stage": "method", "method": method, "index": i, "total": len(req.methods), "run": {},
                "activity": "", "methods": list(req.methods)})
        run_dir = _run_method(req, method, i, root / method, report, is_cancelled)
        results[method] = json.loads((run_dir / "results.json").read_text())
    return results


def _run_method(req: CompareRequest, method: str, index: int, directory: Path, report: Callable[[dict], None],
                is_cancelled: Callable[[], bool]) -> Path:
    def run_progress(run_state: dict) -> None:
        # the run's activity also at the top, where a change of it is written at once (Staging.update)
        report({"stage": "method", "method": method, "index": index, "activity": run_state.get("activity") or "",
                "run": {key: run_state.get(key) for key in RUN_PROGRESS_KEYS}})

    try:
        return run_unlearning(req.unlearn_request(method, directory), progress=run_progress, cancel=is_cancelled)
    except SteuError as exc:
        # one comparison runs several methods: the message must say which one failed
        if not isinstance(exc, Cancelled):
            exc.message = f"method '{method}' failed: {exc.message}"
            exc.args = (str(exc),)
        raise


def without_calibration_notes(req: CompareRequest, evaluation, class_name: str, root: Path):
    """The evaluation notes less those any compared method calibrated on: the deep audits score every model on
    the same notes, and a calibrated method's held-out notes must be among none of them (the seeded draws
    nest, so the largest share's notes hold every other's)."""
    share = max(calibration_share(m, req.unlearn_request(m, root).settings) for m in req.methods)
    return split_calibration(evaluation, class_name, share, req.seed)[0] if share else evaluation


def deep_inputs_from_runs(req: CompareRequest, root: str | Path, report: Callable[[dict], None] | None = None,
                          is_cancelled: Callable[[], bool] | None = None) -> DeepInputs:
    """Score the original and the models in ``root/<method>/model`` (one per ``req.methods``) on the forget
    set, the evaluation set and a retain sample: the inputs of the deep audits. Also usable on a finished
    comparison directory, to rerun audits with other settings (:func:`run_deep_audits`)."""
    root = Path(root)
    report = report or (lambda info: None)
    is_cancelled = is_cancelled or (lambda: False)
    seed_everything(req.seed)
    clf = load_classifier(resolve_model_path(req.model), device=req.device)
    # the data are the same for every method: any method's request loads them
    ureq = req.unlearn_request(req.methods[0], root / "unused")
    _, evaluation, forget, retain, fc = load_request_data(ureq, clf)
    evaluation = without_calibration_notes(req, evaluation, clf.labels[fc], root)
    retain_ids = torch.as_tensor([clf.labels.index(y) for y in retain.labels])
    pick = stratified_sample(retain_ids, req.retain_sample, req.seed)
    enc_f = encode(clf.tokenizer, forget.texts, req.max_length)
    enc_e = encode(clf.tokenizer, evaluation.texts, req.max_length)
    enc_r = encode(clf.tokenizer, [retain.texts[i] for i in pick], req.max_length)
    report({"stage": "score", "method": ORIGINAL})
    models = {ORIGINAL: model_outputs(ORIGINAL, clf, enc_f, enc_e, enc_r, batch_size=req.batch_size)}
    for method in req.methods:
        if is_cancelled():
            raise Cancelled(CANCELLED)
        report({"stage": "score", "method": method})
        new = load_classifier(root / method / "model", device=req.device)
        models[method] = model_outputs(method, new, enc_f, enc_e, enc_r, original=models[ORIGINAL],
                                       batch_size=req.batch_size)
    return DeepInputs(labels=clf.labels, forget_class_id=fc, forget=enc_f, eval=enc_e,
                      eval_labels=np.array([clf.labels.index(y) for y in evaluation.labels]), retain=enc_r,
                      retain_labels=retain_ids[pick].numpy(), models=models, seed=req.seed, n_boot=req.n_boot,
                      settings=req.deep_audit_settings(), progress=report, cancel=is_cancelled)
