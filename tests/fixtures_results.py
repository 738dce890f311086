"""A results.json that follows docs/CONTRACTS.md (schema_version 1) key for key, and a finished run
directory around it, for tests of anything that reads runs (charts, report, dashboard, CLI).

Numbers are internally consistent: per-class, forget, retain and macro F1 are computed from the
confusion matrices; ROC curves come from a binormal model whose AUC is the reported AUC; the
parameter counts follow a MiniLM-sized model with a 4-class head and the paper's 0.19 % budget.

    from fixtures_results import make_results, make_run_dir
    r = make_results()                       # a dict
    run = make_run_dir(tmp_path)             # DIR with model/, patch.safetensors, manifest.json, results.json
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from statistics import NormalDist

LABELS = ["cardiac", "oncology", "respiratory", "substance"]
FORGET_CLASS = "substance"
HIDDEN = 384
VOCAB = 30522
ENCODER_PARAMS = 22_713_216  # MiniLM-L6 (embeddings + 6 layers + pooler)
FORGET_MARKER = "ZQX-FORGET-MARKER-7731"

_WORDS = ["heroin", "withdrawal", "buprenorphine", "naloxone", "methadone", "opioid", "overdose", "detox",
          "fentanyl", "suboxone", "cocaine", "relapse", "sobriety", "narcan", "intoxication", "cravings",
          "injection", "tox", "rehab", "abstinence", "alcohol", "benzodiazepine", "oxycodone", "stimulant",
          "methamphetamine", "needle", "sponsor", "counselling", "cannabis", "dependence"]


def _f1_from_confusion(cm: list[list[int]]) -> list[float]:
    n = len(cm)
    out = []
    for c in range(n):
        tp = cm[c][c]
        fp = sum(cm[r][c] for r in range(n)) - tp
        fn = sum(cm[c]) - tp
        out.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return out


def _roc(auc: float, n: int = 60) -> dict:
    """A binormal ROC curve with the given AUC: tpr = Phi(Phi^-1(fpr) + d), AUC = Phi(d / sqrt 2)."""
    nd = NormalDist()
    d = math.sqrt(2) * nd.inv_cdf(auc)
    fpr = [0.0] + [(i / n) ** 2 for i in range(1, n)] + [1.0]
    tpr = [0.0] + [nd.cdf(nd.inv_cdf(min(max(x, 1e-9), 1 - 1e-9)) + d) for x in fpr[1:-1]] + [1.0]
    return {"fpr": [round(x, 6) for x in fpr], "tpr": [round(y, 6) for y in tpr]}


def _tokens(k: int) -> list[dict]:
    toks = []
    for i in range(k):
        word = _WORDS[i] if i < len(_WORDS) else f"##{_WORDS[i % len(_WORDS)][:3]}{i}"
        df_forget = max(3, 90 - 3 * i // 2)
        df_total = df_forget + (i % 7) * 2 + 1
        toks.append({"token": word, "id": 2000 + 37 * i, "pmi": round(1.3863 - 0.004 * i - 0.01 * (i % 7), 6),
                     "df_forget": df_forget, "df_total": df_total,
                     "l2_change": round(0.42 * math.exp(-i / 25) + 0.05 * ((i * 7) % 5) / 5, 6)})
    return toks


def make_results(**overrides) -> dict:
    """A complete results.json dict; keyword arguments replace top-level keys."""
    k = 108
    head = HIDDEN * len(LABELS) + len(LABELS)
    params_total = ENCODER_PARAMS + head
    params_changed = k * HIDDEN + head
    fc = LABELS.index(FORGET_CLASS)
    confusion_before = [[38, 1, 1, 0], [2, 36, 1, 1], [1, 1, 37, 1], [0, 1, 2, 37]]
    confusion_after = [[38, 1, 1, 0], [2, 35, 2, 1], [1, 2, 37, 0], [9, 14, 17, 0]]
    f1_before, f1_after = _f1_from_confusion(confusion_before), _f1_from_confusion(confusion_after)
    retain_before = sum(f for i, f in enumerate(f1_before) if i != fc) / (len(LABELS) - 1)
    retain_after = sum(f for i, f in enumerate(f1_after) if i != fc) / (len(LABELS) - 1)
    loss_auc_before, loss_auc_after = 0.6423, 0.5081
    conf_auc_before, conf_auc_after = 0.6312, 0.4968
    history = [{"step": s, "loss": round(2.1 * math.exp(-s / 8) + 0.15, 6),
                "retain_loss": round(0.12 + 0.002 * s, 6), "forget_loss": round(2.0 * math.exp(-s / 7), 6)}
               for s in range(1, 36)]
    r = {
        "schema_version": 1,
        "tool_version": "0.1.0",
        "run_id": "run-20250301T101500Z-a1b2c3",
        "created_utc": "2025-03-01T10:15:00+00:00",
        "method": "steu",
        "method_settings": {"k": None, "budget": 0.0019, "alpha": 1.0, "lr_rows": 0.005, "lr_head": 0.002,
                            "forget_weight": 1.0, "batch_size": 16, "max_steps": 60, "min_steps": 5,
                            "forget_f1_target": 0.01, "retain_tolerance": 0.05},
        "seed": 0,
        "device": "cpu (2 threads)",
        "forget_class": FORGET_CLASS,
        "forget_class_id": fc,
        "labels": list(LABELS),
        "k": k,
        "budget": 0.0019,
        "selected_tokens": _tokens(k),
        "coverage": {"forget_examples": 120, "forget_examples_with_selected_token": 118, "fraction": 118 / 120},
        "params_total": params_total,
        "params_changed": params_changed,
        "params_changed_fraction": params_changed / params_total,
        "changed_tensors": ["bert.embeddings.word_embeddings.weight", "classifier.weight", "classifier.bias"],
        "changed_embedding_rows": k,
        "encoder_unchanged": True,
        "param_diff_verdict": "pass",
        "param_diff_message": (f"only the allowed parameters changed: {k} embedding row(s) and 2 head tensor(s); "
                               "every other tensor is bit-identical"),
        "forget_f1_before": f1_before[fc],
        "forget_f1_after": f1_after[fc],
        "retain_f1_before": retain_before,
        "retain_f1_after": retain_after,
        "macro_f1_before": sum(f1_before) / len(LABELS),
        "macro_f1_after": sum(f1_after) / len(LABELS),
        "per_class_f1_before": dict(zip(LABELS, f1_before)),
        "per_class_f1_after": dict(zip(LABELS, f1_after)),
        "confusion_before": confusion_before,
        "confusion_after": confusion_after,
        "mia": {
            "loss_auc_before": loss_auc_before, "loss_auc_after": loss_auc_after,
            "loss_auc_ci_before": [0.5712, 0.7098], "loss_auc_ci_after": [0.4367, 0.5794],
            "tpr_at_1pct_fpr_before": 0.0583, "tpr_at_1pct_fpr_after": 0.0083,
            "conf_auc_before": conf_auc_before, "conf_auc_after": conf_auc_after,
            "conf_auc_ci_before": [0.5601, 0.6987], "conf_auc_ci_after": [0.4255, 0.5671],
            "n_members": 120, "n_nonmembers": 40,
            "roc_before": {"loss": _roc(loss_auc_before), "confidence": _roc(conf_auc_before)},
            "roc_after": {"loss": _roc(loss_auc_after), "confidence": _roc(conf_auc_after)},
        },
        "wall_seconds": {"select": 0.84, "unlearn": 41.27, "audit": 6.52, "total": 52.1},
        "training": {"steps": 35, "max_steps": 60, "stopped_early": True, "history": history},
        "data": {
            "train": {"name": "train.csv", "sha256": "1f" * 32, "rows": 480},
            "eval": {"name": "eval.csv", "sha256": "2e" * 32, "rows": 160},
            "forget": {"name": "forget.csv", "sha256": "3d" * 32, "rows": 120},
            "retain_rows": 360,
            "eval_rows": 160,
        },
        "model": {"source": "default", "architecture": "BertForSequenceClassification", "model_type": "bert",
                  "params_total": params_total,
                  "sha256_before": "a0b1c2d3e4f5061728394a5b6c7d8e9f" * 2,
                  "sha256_after": "f9e8d7c6b5a4938271605f4e3d2c1b0a" * 2},
        "hashes": {"original_model": "a0b1c2d3e4f5061728394a5b6c7d8e9f" * 2,
                   "unlearned_model": "f9e8d7c6b5a4938271605f4e3d2c1b0a" * 2,
                   "forget_set": "3d" * 32, "patch": "5c" * 32},
        "request": {"request_id": "DR-2025-0042", "requester": "Data Protection Office, St. Example Hospital",
                    "reason": "Patient cohort withdrawal under GDPR Art. 17", "operator": "j.doe"},
    }
    r.update(copy.deepcopy(overrides))
    return r


def write_forget_csv(path: Path, marker: str = FORGET_MARKER, rows: int = 12) -> Path:
    """A fake forget-set CSV whose every note carries ``marker`` (a report must never show it)."""
    lines = ["text,label"] + [f'"Note {i}: {marker} patient on methadone, withdrawal symptoms",substance'
                              for i in range(rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def make_run_dir(root: str | Path, name: str | None = None, results: dict | None = None,
                 forget_marker: str = FORGET_MARKER) -> Path:
    """A finished run directory laid out as CONTRACTS.md describes (placeholder model and patch files).

    A fake forget CSV carrying ``forget_marker`` is written next to it (``root/data/forget.csv``) and a
    copy inside it, so tests can check that nothing reads note text into reports.
    """
    results = results if results is not None else make_results()
    run = Path(root) / (name or results["run_id"])
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text(json.dumps({"model_type": results["model"]["model_type"],
                                                           "id2label": dict(enumerate(results["labels"]))}))
    (run / "model" / "model.safetensors").write_bytes(b"placeholder")
    (run / "patch.safetensors").write_bytes(b"placeholder")
    write_forget_csv(Path(root) / "data" / "forget.csv", forget_marker)
    write_forget_csv(run / "forget.csv", forget_marker)
    _write_evidence(run, results)
    return run


def _write_evidence(run: Path, results: dict) -> None:
    manifest = {"schema_version": 1, "run_id": results["run_id"], "tool_version": results["tool_version"],
                "original_model": {"path": "/models/original", "sha256": results["hashes"]["original_model"]},
                "unlearned_model": {"path": "model", "sha256": results["hashes"]["unlearned_model"]},
                "forget_set": {"name": "forget.csv", "content_sha256": results["hashes"]["forget_set"],
                               "rows": results["data"]["forget"]["rows"]},
                "patch": {"path": "patch.safetensors", "sha256": results["hashes"]["patch"]}}
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (run / "results.json").write_text(json.dumps(results, indent=2))


def record_run(run: Path, results: dict, request_entry: bool = True) -> dict:
    """Record the run made by :func:`make_run_dir` the way a finished run is recorded: its hashes (and
    ``results["hashes"]``, updated in place) become those of its files, and its "run" entry pins them,
    results.json's among them, with the ledger figures. Returns the run entry."""
    from steu_core.ledger import Ledger
    from steu_core.model import file_sha256, hash_directory
    from steu_core.runs.record import LEDGER_FIGURES

    results["hashes"].update(unlearned_model=hash_directory(run / "model")["sha256"],
                             patch=file_sha256(run / "patch.safetensors"))
    _write_evidence(run, results)
    results["hashes"]["manifest"] = file_sha256(run / "manifest.json")
    (run / "results.json").write_text(json.dumps(results, indent=2))
    ledger, req = Ledger(), results["request"]
    first = None
    if request_entry:
        first = ledger.append("request", {"request_id": req["request_id"], "run_id": results["run_id"],
                                          "forget_sha256": results["hashes"]["forget_set"],
                                          "forget_rows": results["data"]["forget"]["rows"]})["entry_hash"]
    return ledger.append("run", {"request_id": req["request_id"], "run_id": results["run_id"], "outcome": "success",
                                 "request_entry": first, "hashes": {**results["hashes"],
                                                                    "results": file_sha256(run / "results.json")},
                                 **{k: results[k] for k in LEDGER_FIGURES}})


def make_comparison(results: dict | None = None) -> list[dict]:
    """Rows in the shape of comparison.json (method, forget_f1, retain_f1, params_changed_fraction, wall_seconds)."""
    r = results or make_results()
    return [
        {"method": "steu", "forget_f1": r["forget_f1_after"], "retain_f1": r["retain_f1_after"],
         "params_changed_fraction": r["params_changed_fraction"], "wall_seconds": r["wall_seconds"]["total"]},
        {"method": "head_only", "forget_f1": 0.0123, "retain_f1": 0.8712, "params_changed_fraction": 0.0000678,
         "wall_seconds": 12.4},
        {"method": "grad_ascent", "forget_f1": 0.0, "retain_f1": 0.6021, "params_changed_fraction": 1.0,
         "wall_seconds": 188.2},
        {"method": "retrain_oracle", "forget_f1": 0.0, "retain_f1": 0.9301, "params_changed_fraction": 1.0,
         "wall_seconds": 1240.9},
    ]
