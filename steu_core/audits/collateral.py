"""Collateral damage: what forgetting one class cost the others, with intervals that say whether a
change is beyond the noise of the evaluation set.

- ``retained_notes``, utility as the field measures it after class forgetting: each retained class's F1
  and the retained macro F1 over the evaluation notes whose true label is a retained class, before and
  after, each with a bootstrap 95 % interval, and the interval of the change (after - before) from a
  paired bootstrap over the same resampled notes. The usefulness verdict judges these;
- per class, over ALL evaluation notes (the forgotten class's notes included, re-routed to other classes
  after forgetting, where they count as those classes' false alarms): the same figures, a secondary view;
- forget F1, retain F1 and macro F1 before and after, with intervals (``utility_ci``);
- where the forgotten class's evaluation notes go: its confusion row before and after.
"""
from __future__ import annotations

import numpy as np

from ..result_keys import (FORGET_F1_AFTER, FORGET_F1_BEFORE, MACRO_F1_AFTER, MACRO_F1_BEFORE, RETAIN_F1_AFTER,
                           RETAIN_F1_BEFORE)
from ..stats import f1_intervals
from .base import AuditInputs, register_audit

# the intervals of the summary figures, keyed by the figure's key, in f1_figures' column order after the classes
SUMMARY = ((FORGET_F1_BEFORE, FORGET_F1_AFTER), (RETAIN_F1_BEFORE, RETAIN_F1_AFTER), (MACRO_F1_BEFORE, MACRO_F1_AFTER))


def forgotten_notes_went(y_true: np.ndarray, pred_before: np.ndarray, pred_after: np.ndarray, labels: list[str],
                         forget_class_id: int) -> dict:
    """The forgotten class's confusion row before and after: counts and shares by predicted class."""
    mask = y_true == forget_class_id
    n = int(mask.sum())

    def row(pred: np.ndarray) -> dict:
        counts = np.bincount(pred[mask], minlength=len(labels))
        return {labels[i]: {"count": int(c), "share": float(c / n) if n else 0.0} for i, c in enumerate(counts)}
    return {"n": n, "before": row(pred_before), "after": row(pred_after)}


@register_audit("collateral")
def collateral(inp: AuditInputs) -> dict:
    y, n = inp.eval_labels, len(inp.labels)
    before, after = inp.eval_logits_before.argmax(-1).numpy(), inp.eval_logits_after.argmax(-1).numpy()
    f = f1_intervals(y, before, after, n, inp.forget_class_id, seed=inp.seed)
    (pb, cb), (pa, ca), (pc, cc) = f["before"], f["after"], f["change"]
    per_class = [{"label": lab, "forgotten": i == inp.forget_class_id, "n_notes": int((y == i).sum()),
                  "f1_before": pb[i], "ci_before": cb[i], "f1_after": pa[i], "ci_after": ca[i],
                  "change": pc[i], "change_ci": cc[i]} for i, lab in enumerate(inp.labels)]
    summary = {key: ci[n + j] for j, keys in enumerate(SUMMARY) for key, ci in zip(keys, (cb, ca))}
    return {"collateral": {"retained_notes": retained_notes(f, y, inp.labels, inp.forget_class_id),
                           "per_class": per_class,
                           "forgotten_notes": forgotten_notes_went(y, before, after, inp.labels, inp.forget_class_id)},
            "utility_ci": summary}


def retained_notes(f: dict, y: np.ndarray, labels: list[str], fc: int) -> dict:
    """Each retained class's F1 on the retained-class notes, and the retained macro F1, with intervals
    (columns of :func:`steu_core.stats.f1_figures`: the retained block after the three summary figures)."""
    n = len(labels)
    kept = [i for i in range(n) if i != fc]

    def figures(col: int) -> dict:
        return {"f1_before": f["before"][0][col], "ci_before": f["before"][1][col], "f1_after": f["after"][0][col],
                "ci_after": f["after"][1][col], "change": f["change"][0][col], "change_ci": f["change"][1][col]}
    return {"n_notes": int((y != fc).sum()),
            "per_class": [{"label": labels[i], "n_notes": int((y == i).sum()), **figures(n + 3 + j)}
                          for j, i in enumerate(kept)],
            "retain_f1": figures(n + 1)}
