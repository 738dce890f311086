"""Utility: does the model still do its job on the classes it keeps, and has it stopped predicting
the forgotten one?

- forget F1: one-vs-rest F1 of the forget class on the evaluation set;
- retain F1: macro F1 over the retained classes, on evaluation notes whose true label is retained;
- macro F1: macro F1 over all classes, on all evaluation notes;
- per-class F1 and the confusion matrix (rows = true, columns = predicted).
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

from .base import AuditInputs, register_audit


def utility_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], forget_class_id: int) -> dict:
    ids = list(range(len(labels)))
    retained = [i for i in ids if i != forget_class_id]
    keep = y_true != forget_class_id
    per_class = f1_score(y_true, y_pred, labels=ids, average=None, zero_division=0)
    return {
        "forget_f1": float(f1_score(y_true == forget_class_id, y_pred == forget_class_id, zero_division=0)),
        "retain_f1": float(f1_score(y_true[keep], y_pred[keep], labels=retained, average="macro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "per_class_f1": {labels[i]: float(per_class[i]) for i in ids},
        "confusion": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


@register_audit("utility")
def utility(inp: AuditInputs) -> dict:
    out = {}
    for when, logits in (("before", inp.eval_logits_before), ("after", inp.eval_logits_after)):
        m = utility_metrics(inp.eval_labels, logits.argmax(-1).numpy(), inp.labels, inp.forget_class_id)
        out[f"forget_f1_{when}"] = m["forget_f1"]
        out[f"retain_f1_{when}"] = m["retain_f1"]
        out[f"macro_f1_{when}"] = m["macro_f1"]
        out[f"per_class_f1_{when}"] = m["per_class_f1"]
        out[f"confusion_{when}"] = m["confusion"]
    return out
