"""Membership in the hidden states: can an attacker who has the model file tell the forget-set notes
(members) from unseen notes of the class (non-members) by the encoder's mean-pooled hidden states?

For every model, the mean-pooled states of every depth (the embeddings and each encoder layer) of the
members and the non-members, side by side in one vector per note, feed the learned attack of the run's
membership audit (a standardised logistic regression, cross-validated on disjoint halves of the members and
of the non-members, fit afresh for each model; :func:`steu_core.stats.cross_validated_scores`). One attack
over all depths rather than one per depth, so that seven chances to look lucky do not pass for power. Its
AUC against the original is the test's power; a comparison adds it to each run's model-file attacks.
"""
from __future__ import annotations

import numpy as np

from ..stats import auc_with_interval, cross_validated_scores, tpr_at_fpr
from .deep_base import DeepInputs, model_layer_features, register_deep_audit

NAME = "hidden_mia"
ATTACK = "learned (mean-pooled layers)"
FOLDS = 2


def _skip_reason(n_mem: int, n_non: int) -> str | None:
    if n_mem < FOLDS or n_non < FOLDS:
        return f"needs at least {FOLDS} forget-set notes and {FOLDS} held-out notes of the forget class"
    return None


@register_deep_audit(NAME)
def hidden_mia(inp: DeepInputs) -> dict:
    c = float(inp.setting(NAME, "C", 0.001))
    nonmembers = np.flatnonzero(inp.nonmember_mask)
    n_mem, n_non = len(inp.forget), len(nonmembers)
    out = {"attack": ATTACK, "features": "the mean-pooled hidden states of every depth, side by side",
           "learned": f"logistic regression (C = {c}) on standardised features, cross-validated on {FOLDS} disjoint "
                      "halves of the members and of the non-members, fit afresh for each model",
           "n_members": n_mem, "n_nonmembers": n_non, "per_model": {}}
    skipped = _skip_reason(n_mem, n_non)
    if skipped:
        out["skipped"] = skipped
        return {NAME: out}
    y = np.r_[np.ones(n_mem, dtype=int), np.zeros(n_non, dtype=int)]
    for name, m in inp.each_model(NAME):
        members = model_layer_features(inp, name, "forget", np.arange(n_mem))
        others = model_layer_features(inp, name, "eval", nonmembers)
        x = np.concatenate([np.concatenate(members, axis=1), np.concatenate(others, axis=1)])
        s = cross_validated_scores(x, y, FOLDS, c, inp.seed)
        auc, ci = auc_with_interval(s[:n_mem], s[n_mem:], inp.seed, inp.n_boot)
        out["per_model"][name] = {"auc": auc, "auc_ci": ci, "tpr_at_1pct_fpr": tpr_at_fpr(s[:n_mem], s[n_mem:], 0.01),
                                  "depths": len(members)}
    return {NAME: out}
