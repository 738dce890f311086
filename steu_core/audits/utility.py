"""Utility: does the model still do its job on the classes it keeps, and has it stopped predicting
the forgotten one?

- forget F1: one-vs-rest F1 of the forget class on the evaluation set;
- retain F1: macro F1 over the retained classes, on evaluation notes whose true label is retained;
- macro F1: macro F1 over all classes, on all evaluation notes;
- per-class F1 and the confusion matrix (rows = true, columns = predicted).

All of them come from :mod:`steu_core.stats` (one confusion matrix, then :func:`~steu_core.stats.f1_figures`).
"""
from __future__ import annotations

import numpy as np

from ..stats import confusion_counts, f1_figures
from .base import AuditInputs, register_audit


def utility_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], forget_class_id: int) -> dict:
    n = len(labels)
    cm = confusion_counts(y_true, y_pred, n)
    figures = f1_figures(cm, forget_class_id)  # per class ..., forget, retain, macro
    return {
        "forget_f1": float(figures[n]),
        "retain_f1": float(figures[n + 1]),
        "macro_f1": float(figures[n + 2]),
        "per_class_f1": {labels[i]: float(figures[i]) for i in range(n)},
        "confusion": cm.tolist(),
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
