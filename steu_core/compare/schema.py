"""The rows of ``comparison.json``: the schema name, the figures compared for noise, how to read a row.

Every module of the package reads rows through here, so a column added or renamed has one home.
"""
from __future__ import annotations

SCHEMA = "steu-comparison/1"
# (column, its 95 % interval column): the figures whose differences are checked against the noise;
# the relearning columns are added per comparison (relearn_metrics), as the N values vary
CI_METRICS = [("forget_f1", "forget_f1_ci"), ("retain_f1", "retain_f1_ci"), ("loss_mia_auc", "loss_mia_auc_ci"),
              ("ref_mia_auc", "ref_mia_auc_ci"), ("probe_auc", "probe_auc_ci"), ("ks_statistic", "ks_statistic_ci")]
METRIC_NAMES = {"forget_f1": "forget F1", "retain_f1": "retain F1", "loss_mia_auc": "loss-MIA AUC",
                "ref_mia_auc": "reference-MIA (RMIA) AUC", "probe_auc": "probe AUC",
                "ks_statistic": "KS statistic vs oracle"}
DEFINITIONS = {
    "forget_f1 / retain_f1": "on the evaluation set, as in results.json; 95 % bootstrap over evaluation notes",
    "loss_mia_auc": "loss-threshold membership attack of the run (members: forget set; non-members: held-out "
                    "notes of the forget class); 95 % bootstrap",
    "ref_mia_auc": "RMIA with linear-head reference models on frozen oracle (or base) features; see "
                   "steu_core/audits/reference_mia.py",
    "probe_auc": "cross-validated logistic-regression probe on the model's head inputs, forget class vs rest",
    "ks_statistic / ks_pvalue": "two-sample KS test of forget-set losses against the retrain oracle",
    "relearn_nN_steps": "median steps (over draws) of fine-tuning on N forget notes + N retain notes until "
                        "forget F1 > 0.5; '> max' = never within the bound",
    "relearn_full_nN_steps": "the same with EVERY parameter fine-tuned (the full-model attacker, relearn_full audit); "
                             "median over draws with an order-statistic interval",
    "relearn_strongest_steps": "the strongest relearning attacker's result for this model: the smaller median of the "
                               "head-only and full-model attacks ('relearn_strongest_attack' says which)",
    "relearn_by_attack": "every relearning attacker's result for this model (attack, median steps, interval)",
    "relearn_verdict": "is the class as hard to teach back as to the retrain oracle, attacker by attacker? yes: "
                       "every attacker's median steps at or above its median against the oracle, and the original "
                       "model clears at least one of these attackers' bars at once; no: for some attacker the "
                       "whole interval below the oracle's; otherwise inconclusive (steu_core.verdicts.relearning)",
    "verdict / verdicts": "each method's headline verdict and every verdict's value (overall, forgotten, utility_kept, "
                          "outputs, model_file), as its run records them once read with this comparison "
                          "(steu_core.verdicts)",
    "wall_seconds": "token selection + unlearning (for the oracle: its training), on this machine",
    "time_ratio_to_oracle": "wall_seconds / the oracle's wall_seconds",
    "noise": "two figures are called indistinguishable when their 95 % intervals overlap (a conservative "
             "rule: non-overlap implies a difference, overlap does not prove equality)"}

RELEARN_PREFIX = "relearn_n"
STEPS_SUFFIX = "_steps"
FULL_PREFIX = "relearn_full_n"
STRONGEST = "relearn_strongest"
# the relearning audits: (audit name, column prefix, attacker in words)
RELEARN_AUDITS = (("relearn", RELEARN_PREFIX, "head-only"), ("relearn_full", FULL_PREFIX, "full-model"))


def nested_get(d: dict, *path, default=None):
    """``d[path[0]][path[1]]...``, or ``default`` where a key is missing or a level is not a dict
    (audits that did not run, or ran without a model, leave holes)."""
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def relearn_metrics(n_values) -> list[tuple[str, str]]:
    """The (column, interval column) pairs of the relearning test for every N."""
    return [(f"{RELEARN_PREFIX}{n}{STEPS_SUFFIX}", f"{RELEARN_PREFIX}{n}{STEPS_SUFFIX}_ci") for n in n_values]


def relearn_columns(row: dict) -> list[str]:
    """The relearning columns of ``row`` without their suffix, ``relearn_nN`` for every N, in the row's order."""
    return [k[:-len(STEPS_SUFFIX)] for k in row if k.startswith(RELEARN_PREFIX) and k.endswith(STEPS_SUFFIX)]


def relearn_n(column: str) -> int:
    """The N of a relearning column ``relearn_nN`` (as :func:`relearn_columns` gives it)."""
    return int(column[len(RELEARN_PREFIX):])


def strongest_metric() -> tuple[str, str]:
    """The (column, interval column) of the strongest relearning attacker's result."""
    return f"{STRONGEST}{STEPS_SUFFIX}", f"{STRONGEST}{STEPS_SUFFIX}_ci"


def strongest_attack(results: list[tuple[str, dict]]) -> tuple[str, dict] | None:
    """Of (attacker in words, its summary for one model and n), the one with the smallest median steps:
    the strongest attacker against this model. Ties go to the later (the full-model) attacker."""
    have = [(label, r) for label, r in results if r and r.get("median_steps") is not None]
    if not have:
        return None
    best = min(r["median_steps"] for _, r in have)
    return [(label, r) for label, r in have if r["median_steps"] == best][-1]
