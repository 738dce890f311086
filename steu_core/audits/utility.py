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

from ..result_keys import (CONFUSION_AFTER, CONFUSION_BEFORE, FORGET_F1_AFTER, FORGET_F1_BEFORE, MACRO_F1_AFTER,
                           MACRO_F1_BEFORE, PER_CLASS_F1_AFTER, PER_CLASS_F1_BEFORE, RETAIN_F1_AFTER, RETAIN_F1_BEFORE)
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
    b, a = (utility_metrics(inp.eval_labels, logits.argmax(-1).numpy(), inp.labels, inp.forget_class_id)
            for logits in (inp.eval_logits_before, inp.eval_logits_after))
    return {FORGET_F1_BEFORE: b["forget_f1"], RETAIN_F1_BEFORE: b["retain_f1"], MACRO_F1_BEFORE: b["macro_f1"],
            PER_CLASS_F1_BEFORE: b["per_class_f1"], CONFUSION_BEFORE: b["confusion"],
            FORGET_F1_AFTER: a["forget_f1"], RETAIN_F1_AFTER: a["retain_f1"], MACRO_F1_AFTER: a["macro_f1"],
            PER_CLASS_F1_AFTER: a["per_class_f1"], CONFUSION_AFTER: a["confusion"]}
