"""Forget quality vs the oracle: is the unlearned model's behaviour on the forget set distributed
like the behaviour of the model retrained without it?

Two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``, two-sided) between the per-note
forget-set losses (cross-entropy on the forget class) of a model and of the retrain oracle. The
statistic is the largest gap between the two empirical distribution functions (0 = identical,
1 = disjoint); the p-value is that of the null hypothesis "same distribution". KS is invariant under
monotone transforms, so the test on the loss is exactly the test on the confidence p(forget class)
= exp(-loss). A large p-value means "not distinguishable from the oracle with this many notes" -
absence of evidence, not proof of equality. The interval of the statistic is a paired bootstrap
over forget notes (the same notes resampled for both models).

Reported for every model that is not the oracle (the original included, as the reference point of
"no unlearning"); skipped when the comparison has no oracle.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp

from ..stats import bootstrap_paired
from .deep_base import ORACLE, DeepInputs, register_deep_audit, true_label_logprob


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """sup |F_a - F_b| over the pooled sample (the KS statistic, without the p-value's cost)."""
    a, b = np.sort(a), np.sort(b)
    x = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, x, side="right") / len(a)
                               - np.searchsorted(b, x, side="right") / len(b))))


@register_deep_audit("forget_quality")
def forget_quality(inp: DeepInputs) -> dict:
    out = {"test": "two-sample Kolmogorov-Smirnov (two-sided) on forget-set losses, model vs retrain oracle",
           "n_forget": len(inp.forget), "per_model": {}}
    if ORACLE not in inp.models:
        out["skipped"] = "no retrain oracle in this comparison (add retrain_oracle to the methods)"
        return {"forget_quality": out}
    fc = inp.forget_class_id
    oracle_loss = -true_label_logprob(inp.models[ORACLE].forget_logits, fc)
    out["oracle_mean_loss"] = float(oracle_loss.mean())
    for name, m in inp.models.items():
        if name == ORACLE:
            continue
        loss = -true_label_logprob(m.forget_logits, fc)
        res = ks_2samp(loss, oracle_loss)
        ci = bootstrap_paired(lambda i: ks_statistic(loss[i], oracle_loss[i]), len(loss),
                              inp.seed, inp.n_boot)
        out["per_model"][name] = {"ks_statistic": float(res.statistic), "ks_statistic_ci": ci,
                                  "ks_pvalue": float(res.pvalue), "mean_loss": float(np.mean(loss)),
                                  "indistinguishable_at_5pct": bool(res.pvalue >= 0.05)}
    return {"forget_quality": out}
