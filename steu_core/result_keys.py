"""The results.json keys of the figures measured before and after unlearning, defined once.

The audits that measure them write them with these names and every reader looks them up with them, so a
search for a key (``forget_f1_after``, or ``FORGET_F1_AFTER``) finds where it is written and where it is
read. What each figure means: docs/CONTRACTS.md. Keys that their producer writes as literal strings (the
parameter diff's ``params_changed`` ...) are found by searching for them as they are.
"""
from __future__ import annotations

# Written by audits/utility.py (top level of results.json) from the evaluation notes' predictions: the original
# model's ("before") and the new model's ("after"). The same names key their intervals in ``utility_ci``
# (audits/collateral.py) and each seed's figures in ``seeds.per_seed`` (runs/record.py).
FORGET_F1_BEFORE = "forget_f1_before"
FORGET_F1_AFTER = "forget_f1_after"
RETAIN_F1_BEFORE = "retain_f1_before"
RETAIN_F1_AFTER = "retain_f1_after"
MACRO_F1_BEFORE = "macro_f1_before"
MACRO_F1_AFTER = "macro_f1_after"
PER_CLASS_F1_BEFORE = "per_class_f1_before"
PER_CLASS_F1_AFTER = "per_class_f1_after"
CONFUSION_BEFORE = "confusion_before"
CONFUSION_AFTER = "confusion_after"

# Written by audits/mia.py inside results.json's ``mia`` section: the loss and confidence attacks on the
# original model ("before") and on the new one ("after").
MIA = "mia"
LOSS_AUC_BEFORE = "loss_auc_before"
LOSS_AUC_AFTER = "loss_auc_after"
LOSS_AUC_CI_BEFORE = "loss_auc_ci_before"
LOSS_AUC_CI_AFTER = "loss_auc_ci_after"
TPR_AT_1PCT_FPR_BEFORE = "tpr_at_1pct_fpr_before"
TPR_AT_1PCT_FPR_AFTER = "tpr_at_1pct_fpr_after"
CONF_AUC_BEFORE = "conf_auc_before"
CONF_AUC_AFTER = "conf_auc_after"
CONF_AUC_CI_BEFORE = "conf_auc_ci_before"
CONF_AUC_CI_AFTER = "conf_auc_ci_after"
CONF_TPR_AT_1PCT_FPR_BEFORE = "conf_tpr_at_1pct_fpr_before"
CONF_TPR_AT_1PCT_FPR_AFTER = "conf_tpr_at_1pct_fpr_after"
ROC_BEFORE = "roc_before"
ROC_AFTER = "roc_after"
