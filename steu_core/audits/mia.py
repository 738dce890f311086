"""Membership inference: can an attacker tell the forget-set notes (members, used in training) from
held-out notes of the same class (non-members)?

Two attacks, each scoring every note and thresholding the score:
- loss attack: score = -cross-entropy loss on the true label (members tend to have lower loss);
- confidence attack: score = the model's highest softmax probability.
Reported: ROC AUC with a bootstrap 95 % interval (0.5 = the attacker is guessing), TPR at 1 % FPR,
and ROC points, before and after unlearning; all as :mod:`steu_core.stats` defines them.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..stats import auc_with_interval, roc_points, tpr_at_fpr
from .base import AuditInputs, register_audit


def loss_scores(logits: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    return -F.cross_entropy(logits.float(), torch.as_tensor(labels, dtype=torch.long), reduction="none").numpy()


def confidence_scores(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits.float(), dim=-1).max(dim=-1).values.numpy()


def _downsample(fpr: np.ndarray, tpr: np.ndarray, n: int = 200) -> dict:
    if len(fpr) > n:
        keep = np.unique(np.linspace(0, len(fpr) - 1, n).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [float(x) for x in fpr], "tpr": [float(x) for x in tpr]}


def attack(members: np.ndarray, nonmembers: np.ndarray, seed: int) -> dict:
    auc, interval = auc_with_interval(members, nonmembers, seed)
    return {"auc": auc, "ci": interval, "tpr_at_1pct_fpr": tpr_at_fpr(members, nonmembers, 0.01),
            "roc": _downsample(*roc_points(members, nonmembers))}


@register_audit("mia")
def mia(inp: AuditInputs) -> dict:
    fc = inp.forget_class_id
    nm = inp.nonmember_mask
    n_members, n_nonmembers = len(inp.member_logits_before), int(nm.sum())
    out = {"n_members": n_members, "n_nonmembers": n_nonmembers,
           "members": "forget-set notes", "nonmembers": "evaluation notes of the forget class"}
    if n_members < 2 or n_nonmembers < 2:
        out["skipped"] = "membership inference needs at least 2 members and 2 held-out notes of the forget class"
        return {"mia": out}
    for when, mem_logits, eval_logits in (("before", inp.member_logits_before, inp.eval_logits_before),
                                          ("after", inp.member_logits_after, inp.eval_logits_after)):
        non_logits = eval_logits[torch.as_tensor(nm)]
        loss = attack(loss_scores(mem_logits, np.full(n_members, fc)),
                      loss_scores(non_logits, np.full(n_nonmembers, fc)), inp.seed)
        conf = attack(confidence_scores(mem_logits), confidence_scores(non_logits), inp.seed)
        out[f"loss_auc_{when}"] = loss["auc"]
        out[f"loss_auc_ci_{when}"] = loss["ci"]
        out[f"tpr_at_1pct_fpr_{when}"] = loss["tpr_at_1pct_fpr"]
        out[f"conf_auc_{when}"] = conf["auc"]
        out[f"conf_auc_ci_{when}"] = conf["ci"]
        out[f"conf_tpr_at_1pct_fpr_{when}"] = conf["tpr_at_1pct_fpr"]
        out[f"roc_{when}"] = {"loss": loss["roc"], "confidence": conf["roc"]}
    return {"mia": out}
