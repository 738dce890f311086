"""Representation probe: can the forget class still be read off the model's frozen features?

For every model, a linear probe (logistic regression on standardised head inputs) is trained to
tell notes of the forget class from the others, on the held-out evaluation notes, with stratified
k-fold cross-validation; the probe AUC is the ROC AUC of its out-of-fold scores. Held-out notes are
used so that no model has trained on them: the probe asks whether the *representation* still
separates the class, not whether it remembers particular notes.

Read it next to ``output_auc``, the AUC of the model's own probability of the forget class on the
same notes: a method that only suppresses the class at the output (head_only) keeps the original's
features exactly, so its probe AUC equals the original's however low its forget F1 is. Also
reported for the oracle, the honest floor: a model that never learnt the class usually still
separates it from its features (pretrained encoders know what digestive-system text looks like).
Intervals: percentile bootstrap over the notes (positives and negatives resampled separately),
with the out-of-fold scores held fixed.
"""
from __future__ import annotations

from ..stats import auc_with_interval, roc_auc
from .deep_base import DeepInputs, probe_scores, register_deep_audit, true_label_logprob


@register_deep_audit("probe")
def probe(inp: DeepInputs) -> dict:
    folds = int(inp.setting("probe", "folds", 5))
    c = float(inp.setting("probe", "C", 1.0))
    y = (inp.eval_labels == inp.forget_class_id).astype(int)
    out = {"probe": "logistic regression on standardised head inputs, forget class vs rest, "
                    f"{folds}-fold cross-validated on the evaluation notes", "per_model": {},
           "n_positive": int(y.sum()), "n_negative": int(len(y) - y.sum())}
    folds_ok = min(int(y.sum()), int(len(y) - y.sum()))
    if folds_ok < 2:
        out["skipped"] = "the evaluation set needs at least 2 notes of the forget class and 2 of the others"
        return {"probe": out}
    folds = min(folds, folds_ok)
    for name, m in inp.models.items():
        own = true_label_logprob(m.eval_logits, inp.forget_class_id)
        row = {"output_auc": roc_auc(own[y == 1], own[y == 0])}
        if m.eval_feats is None:
            row["skipped"] = "no exact head adapter: the head inputs of this model cannot be read"
        else:
            s = probe_scores(m.eval_feats.numpy(), y, folds, c, inp.seed)
            row["probe_auc"], row["probe_auc_ci"] = auc_with_interval(s[y == 1], s[y == 0], inp.seed, inp.n_boot)
        out["per_model"][name] = row
    return {"probe": out}
