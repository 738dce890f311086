"""Utility with bootstrap intervals: forget F1 and retain F1 of every model on the evaluation set
(same definitions as the ``utility`` audit), each with a 95 % interval from resampling the
evaluation notes. The same resamples are used for every model, so the intervals are comparable."""
from __future__ import annotations

import numpy as np

from ..stats import confusion_counts, f1_figures, percentile_interval, resample_blocks
from .deep_base import DeepInputs, register_deep_audit


def f1_pair(y: np.ndarray, pred: np.ndarray, n_classes: int, fc: int) -> np.ndarray:
    """(forget F1, retain F1) exactly as :func:`steu_core.audits.utility.utility_metrics` defines them,
    from the confusion matrix of ``pred`` (or one pair per row, for (R, n) label arrays)."""
    figures = f1_figures(confusion_counts(y, pred, n_classes), fc)
    return figures[..., n_classes:n_classes + 2]  # f1_figures: per class ..., forget, retain, macro


@register_deep_audit("utility_ci")
def utility_ci(inp: DeepInputs) -> dict:
    y = np.asarray(inp.eval_labels, dtype=np.int64)
    c, fc = len(inp.labels), inp.forget_class_id
    per_model = {}
    for name, m in inp.models.items():
        pred = m.eval_logits.argmax(-1).numpy()
        ff, rf = (float(v) for v in f1_pair(y, pred, c, fc))
        # the same resamples for every model (the same seed), so the intervals are comparable
        boot = np.concatenate([f1_pair(y[i], pred[i], c, fc) for i in resample_blocks(len(y), inp.seed, inp.n_boot)])
        per_model[name] = {"forget_f1": ff, "forget_f1_ci": percentile_interval(boot[:, 0]),
                           "retain_f1": rf, "retain_f1_ci": percentile_interval(boot[:, 1])}
    return {"utility_ci": {"per_model": per_model, "n_eval": int(len(y)),
                           "definition": "forget F1: one-vs-rest F1 of the forget class on the evaluation set; "
                                         "retain F1: macro F1 over the other classes on their evaluation notes; "
                                         "95 % percentile bootstrap over evaluation notes"}}
