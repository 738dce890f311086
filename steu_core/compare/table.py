"""``comparison.json``: one row per model (the original first, then every method), the noise analysis
and the findings, with the audits and the definitions of the figures."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from .. import __version__
from ..audits.deep import ORACLE, ORIGINAL, DeepInputs
from ..methods import METHODS
from ..request import CompareRequest
from ..verdicts import relearning
from .noise import findings, noise_analysis
from .schema import (CI_METRICS, DEFINITIONS, FULL_PREFIX, RELEARN_AUDITS, SCHEMA, STRONGEST, nested_get,
                     relearn_metrics, strongest_attack, strongest_metric)

# the original model was not edited and took no time: what a method's run reports, filled in for it
ORIGINAL_RUN_COLUMNS = {"k": 0, "coverage": None, "params_changed": 0, "params_changed_fraction": 0.0,
                        "param_diff_verdict": None, "encoder_unchanged": True, "wall_seconds": 0.0,
                        "run_seconds": None, "time_ratio_to_oracle": None, "steps": None, "run_dir": None}


def method_seconds(result: dict) -> float:
    """Token selection + unlearning of a run (its ``results.json``): the cost compared across methods."""
    w = result.get("wall_seconds", {})
    return float(w.get("select", 0.0) + w.get("unlearn", 0.0))


def _figure_columns(name: str, result: dict, audits: dict, when: str) -> dict:
    """The figures of model ``name``: from its run (``when`` = "before" for the original) and the deep audits."""
    def audit(audit_name: str, key: str):
        return nested_get(audits, audit_name, "per_model", name, key)

    return {"forget_f1": result[f"forget_f1_{when}"], "retain_f1": result[f"retain_f1_{when}"],
            "forget_f1_ci": audit("utility_ci", "forget_f1_ci"), "retain_f1_ci": audit("utility_ci", "retain_f1_ci"),
            "loss_mia_auc": nested_get(result, "mia", f"loss_auc_{when}"),
            "loss_mia_auc_ci": nested_get(result, "mia", f"loss_auc_ci_{when}"),
            "ref_mia_auc": audit("reference_mia", "auc"), "ref_mia_auc_ci": audit("reference_mia", "auc_ci"),
            "ref_mia_tpr_at_1pct_fpr": audit("reference_mia", "tpr_at_1pct_fpr"),
            "ref_mia_tpr_at_1pct_fpr_ci": audit("reference_mia", "tpr_at_1pct_fpr_ci"),
            "probe_auc": audit("probe", "probe_auc"), "probe_auc_ci": audit("probe", "probe_auc_ci"),
            "output_auc": audit("probe", "output_auc"),
            "ks_statistic": audit("forget_quality", "ks_statistic"),
            "ks_statistic_ci": audit("forget_quality", "ks_statistic_ci"),
            "ks_pvalue": audit("forget_quality", "ks_pvalue")}


def relearn_columns_of(name: str, audits: dict, n_values) -> dict:
    """Both relearning attacks' median steps for every N, every attacker's result as one list (what the
    verdict compares), and the strongest attacker's result."""
    columns, results = {}, []
    for audit, prefix, attacker in RELEARN_AUDITS:
        audit_n = n_values if audit == "relearn" else nested_get(audits, audit, "n_values", default=[]) or []
        for n in audit_n:
            relearn = nested_get(audits, audit, "per_model", name, f"n{n}") or {}
            columns[f"{prefix}{n}_steps"] = relearn.get("median_steps")
            columns[f"{prefix}{n}_steps_ci"] = relearn.get("median_steps_ci")
            columns[f"{prefix}{n}_text"] = relearn.get("text")
            columns[f"{prefix}{n}_ci_text"] = relearn.get("ci_text")
            results.append((f"{attacker}, n = {n}", relearn))
    columns["relearn_by_attack"] = [
        {"attack": attack, "steps": r["median_steps"], "steps_ci": r.get("median_steps_ci"), "text": r.get("text"),
         "ci_text": r.get("ci_text")} for attack, r in results if r and r.get("median_steps") is not None]
    strongest = strongest_attack(results)
    if strongest is not None:
        attack, r = strongest
        columns.update({f"{STRONGEST}_steps": r["median_steps"], f"{STRONGEST}_steps_ci": r.get("median_steps_ci"),
                        f"{STRONGEST}_text": r.get("text"), f"{STRONGEST}_ci_text": r.get("ci_text"),
                        f"{STRONGEST}_attack": attack})
    return columns


def _run_columns(name: str, result: dict, oracle_seconds: float | None) -> dict:
    """What the method's run changed and what it cost."""
    secs = method_seconds(result)
    # coverage only means something for edits confined to rows + head (the encoder unchanged)
    coverage = nested_get(result, "coverage", "fraction") if result.get("encoder_unchanged") else None
    return {"k": result.get("k"), "coverage": coverage, "params_changed": result.get("params_changed"),
            "params_changed_fraction": result.get("params_changed_fraction"),
            "param_diff_verdict": result.get("param_diff_verdict"), "encoder_unchanged": result.get("encoder_unchanged"),
            "wall_seconds": secs, "run_seconds": nested_get(result, "wall_seconds", "total"),
            "time_ratio_to_oracle": (secs / oracle_seconds) if oracle_seconds else None,
            "steps": nested_get(result, "training", "steps"), "run_dir": name}


def comparison_rows(methods: list[str], results: dict[str, dict], audits: dict, n_values) -> list[dict]:
    """One row per model: the original (its figures come from the first method's run), then ``methods``."""
    first = results[methods[0]]
    oracle_seconds = method_seconds(results[ORACLE]) if ORACLE in results else None
    rows = []
    for name in [ORIGINAL, *methods]:
        is_original = name == ORIGINAL
        result = first if is_original else results[name]
        row = {"method": name, "description": "the model before unlearning" if is_original
               else getattr(METHODS[name], "description", ""),
               **_figure_columns(name, result, audits, "before" if is_original else "after"),
               **relearn_columns_of(name, audits, n_values)}
        row.update(ORIGINAL_RUN_COLUMNS if is_original else _run_columns(name, result, oracle_seconds))
        rows.append(row)
    by = {r["method"]: r for r in rows}
    for row in rows:
        if row["method"] not in (ORIGINAL, ORACLE):
            row["relearn_verdict"] = relearning(row, by.get(ORACLE), by[ORIGINAL])
    return rows


def step_bounds(audits: dict, n_values, full_n) -> dict:
    """The bound of every relearning column (above it a median means "never within the bound")."""
    bounds = {f"relearn_n{n}_steps": nested_get(audits, "relearn", "max_steps") for n in n_values}
    bounds.update({f"{FULL_PREFIX}{n}_steps": nested_get(audits, "relearn_full", "max_steps") for n in full_n})
    return bounds


def json_safe(audits: dict) -> dict:
    """The audits as plain JSON values (arrays as lists, anything else unknown as its text)."""
    return json.loads(json.dumps(audits, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def build_comparison(req: CompareRequest, results: dict[str, dict], audits: dict, inputs: DeepInputs,
                     total_seconds: float) -> dict:
    """The content of ``comparison.json`` from every method's ``results.json`` and the deep audits."""
    first = results[req.methods[0]]
    n_values = nested_get(audits, "relearn", "n_values", default=[]) or []
    rows = comparison_rows(req.methods, results, audits, n_values)
    full_n = nested_get(audits, "relearn_full", "n_values", default=[]) or []
    metrics = CI_METRICS + relearn_metrics(n_values) + [(f"{FULL_PREFIX}{n}_steps", f"{FULL_PREFIX}{n}_steps_ci")
                                                        for n in full_n] + [strongest_metric()]
    noise = noise_analysis(rows, metrics)
    return {
        "schema": SCHEMA, "tool_version": __version__,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "forget_class": first["forget_class"], "forget_class_id": first["forget_class_id"], "labels": first["labels"],
        "model": nested_get(first, "model", "source"), "device": first.get("device"), "seed": req.seed,
        "methods": list(req.methods), "oracle": ORACLE if ORACLE in results else None,
        "data": {**first.get("data", {}), "retain_sample": len(inputs.retain)},
        "relearning_set": "full" if req.full_relearning else "quick", "rows": rows, "noise": noise,
        "findings": findings(rows, noise, metrics, step_bounds(audits, n_values, full_n)),
        "audits": json_safe(audits), "total_seconds": total_seconds, "definitions": dict(DEFINITIONS),
    }
