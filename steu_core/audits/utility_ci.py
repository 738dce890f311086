"""Utility with bootstrap intervals: forget F1 and retain F1 of every model on the evaluation set
(same definitions as the ``utility`` audit), each with a 95 % interval from resampling the
evaluation notes. The same resamples are used for every model, so the intervals are comparable."""
from __future__ import annotations

import numpy as np

from ..stats import bootstrap_indices, percentile_interval
from .deep_base import DeepInputs, register_deep_audit


def _f1(tp, fp, fn) -> float:
    d = 2 * tp + fp + fn
    return float(2 * tp / d) if d else 0.0


def f1_pair(y: np.ndarray, pred: np.ndarray, n_classes: int, fc: int) -> tuple[float, float]:
    """(forget F1, retain F1) exactly as :func:`steu_core.audits.utility.utility_metrics` defines them,
    from one confusion matrix (fast enough to bootstrap)."""
    cm = np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    tp = cm[fc, fc]
    forget = _f1(tp, cm[:, fc].sum() - tp, cm[fc, :].sum() - tp)
    cm[fc, :] = 0  # retain F1 is computed on the notes of the retained classes only
    retained = [c for c in range(n_classes) if c != fc]
    retain = float(np.mean([_f1(cm[c, c], cm[:, c].sum() - cm[c, c], cm[c, :].sum() - cm[c, c])
                            for c in retained])) if retained else 0.0
    return forget, retain


@register_deep_audit("utility_ci")
def utility_ci(inp: DeepInputs) -> dict:
    y = np.asarray(inp.eval_labels, dtype=np.int64)
    resamples = list(bootstrap_indices(len(y), inp.seed, inp.n_boot))  # the same for every model
    per_model = {}
    for name, m in inp.models.items():
        pred = m.eval_logits.argmax(-1).numpy()
        ff, rf = f1_pair(y, pred, len(inp.labels), inp.forget_class_id)
        boot = np.array([f1_pair(y[i], pred[i], len(inp.labels), inp.forget_class_id) for i in resamples])
        per_model[name] = {"forget_f1": ff, "forget_f1_ci": percentile_interval(boot[:, 0]),
                           "retain_f1": rf, "retain_f1_ci": percentile_interval(boot[:, 1])}
    return {"utility_ci": {"per_model": per_model, "n_eval": int(len(y)),
                           "definition": "forget F1: one-vs-rest F1 of the forget class on the evaluation set; "
                                         "retain F1: macro F1 over the other classes on their evaluation notes; "
                                         "95 % percentile bootstrap over evaluation notes"}}
