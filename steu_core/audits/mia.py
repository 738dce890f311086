"""Membership inference: can an attacker tell the forget-set notes (members, used in training) from
held-out notes of the same class (non-members)?

Two attacks, each scoring every note and thresholding the score:
- loss attack: score = -cross-entropy loss on the true label (members tend to have lower loss);
- confidence attack: score = the model's highest softmax probability.
Reported: ROC AUC with a bootstrap 95 % interval (0.5 = the attacker is guessing), TPR at 1 % FPR,
and ROC points, before and after unlearning; all as :mod:`steu_core.stats` defines them.

``attacks`` adds the attacks by threat model, each run against the original (its power) and the new model:
- ``outputs``, an attacker who sees the predicted probabilities: the loss and confidence attacks above and a
  learned attack, a logistic regression over every note's loss, margin, entropy and log-probability vector;
- ``model_file``, an attacker who has the weights: the same learned attack on the head input (the encoder's
  output that the head reads), where the model has an exact head adapter. Such an attacker also sees the
  predictions, so the verdict for it weighs the output attacks too (steu_core.verdicts).
A learned attack is cross-validated on disjoint halves of the members and of the non-members (fit on one
half, score the other, then the other way round): no note is scored by an attacker fit on it. It is fit
afresh for each model, as an attacker of that model would.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..result_keys import (CONF_AUC_AFTER, CONF_AUC_BEFORE, CONF_AUC_CI_AFTER, CONF_AUC_CI_BEFORE,
                           CONF_TPR_AT_1PCT_FPR_AFTER, CONF_TPR_AT_1PCT_FPR_BEFORE, LOSS_AUC_AFTER, LOSS_AUC_BEFORE,
                           LOSS_AUC_CI_AFTER, LOSS_AUC_CI_BEFORE, MIA, ROC_AFTER, ROC_BEFORE, TPR_AT_1PCT_FPR_AFTER,
                           TPR_AT_1PCT_FPR_BEFORE)
from ..stats import auc_with_interval, cross_validated_scores, roc_points, tpr_at_fpr
from ..threat_models import MODEL_FILE, OUTPUTS
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


FOLDS = 2            # disjoint halves
LEARNED_C = 1.0      # the logistic regression's inverse regularisation strength
LEARNED_OUTPUTS = "learned (outputs)"
LEARNED_HEAD_INPUT = "learned (head input)"
FIXED_DIRECTION = ("loss", "confidence")  # attacks whose direction is not learned from the notes
# attacks that score the probability of the forgotten class: members scoring below unseen notes (an AUC below
# chance) were pushed further from the class than notes never seen, i.e. over-forgotten
CLASS_PROBABILITY = ("loss",)
ATTACK_FEATURES = {"loss": "the loss on the forgotten class (lower = member)",
                   "confidence": "the highest predicted probability",
                   LEARNED_OUTPUTS: "loss, margin, entropy and the log-probability of every class",
                   LEARNED_HEAD_INPUT: "the head input (the encoder's output the head reads)"}


def output_features(logits: torch.Tensor, label: int) -> np.ndarray:
    """Per note: loss on ``label``, its logit margin over the best other class, the entropy, and the
    log-probability of every class: what an attacker who sees the probabilities can compute."""
    logits = logits.float()
    logp = torch.log_softmax(logits, dim=-1)
    others = torch.cat([logits[:, :label], logits[:, label + 1:]], dim=1)
    margin = logits[:, label] - others.max(dim=1).values
    entropy = -(logp.exp() * logp).sum(dim=1)
    return torch.cat([-logp[:, label:label + 1], margin[:, None], entropy[:, None], logp], dim=1).numpy()


def attack_figures(members: np.ndarray, nonmembers: np.ndarray, seed: int) -> dict:
    auc, interval = auc_with_interval(members, nonmembers, seed)
    return {"auc": auc, "auc_ci": interval, "tpr_at_1pct_fpr": tpr_at_fpr(members, nonmembers, 0.01)}


def learned_scores(x: np.ndarray, n_members: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(member scores, non-member scores) of the cross-validated learned attack on features ``x`` (members first)."""
    y = np.r_[np.ones(n_members, dtype=int), np.zeros(len(x) - n_members, dtype=int)]
    s = cross_validated_scores(x, y, FOLDS, LEARNED_C, seed)
    return s[:n_members], s[n_members:]


def attack_scores(members: torch.Tensor, nonmembers: torch.Tensor, fc: int, member_feats, nonmember_feats,
                  seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every attack's (member scores, non-member scores) against one model."""
    n = len(members)
    out = {"loss": (loss_scores(members, np.full(n, fc)), loss_scores(nonmembers, np.full(len(nonmembers), fc))),
           "confidence": (confidence_scores(members), confidence_scores(nonmembers)),
           LEARNED_OUTPUTS: learned_scores(output_features(torch.cat([members, nonmembers]), fc), n, seed)}
    if member_feats is not None and nonmember_feats is not None:
        feats = torch.cat([member_feats.float().cpu(), nonmember_feats.float().cpu()]).numpy()
        out[LEARNED_HEAD_INPUT] = learned_scores(feats, n, seed)
    return out


def scores_by_model(inp: AuditInputs) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """{"before" | "after": every attack's (member scores, non-member scores) against that model}."""
    fc, nm = inp.forget_class_id, torch.as_tensor(inp.nonmember_mask)

    def against(logits_m, logits_e, feats_m, feats_e) -> dict:
        feats_non = feats_e[nm.to(feats_e.device)] if feats_e is not None else None
        return attack_scores(logits_m, logits_e[nm], fc, feats_m, feats_non, inp.seed)

    return {"before": against(inp.member_logits_before, inp.eval_logits_before, inp.member_feats_before,
                              inp.eval_feats_before),
            "after": against(inp.member_logits_after, inp.eval_logits_after, inp.member_feats_after,
                             inp.eval_feats_after)}


def threat_model_attacks(inp: AuditInputs, scores: dict, figures: dict) -> dict:
    """``attacks``: each attack's figures on the original and the new model, by threat model."""
    out = {OUTPUTS: [], MODEL_FILE: [], "folds": FOLDS,
           "learned": f"logistic regression (C = {LEARNED_C}) on standardised features, cross-validated on "
                      f"{FOLDS} disjoint halves of the members and of the non-members, fit afresh for each model"}
    for name in scores["before"]:
        if name not in scores["after"]:
            continue
        threat = MODEL_FILE if name == LEARNED_HEAD_INPUT else OUTPUTS
        out[threat].append({"attack": name, "features": ATTACK_FEATURES[name], "learned": name not in FIXED_DIRECTION,
                            "over_forgetting_below_chance": name in CLASS_PROBABILITY,
                            "before": figures["before"][name], "after": figures["after"][name]})
    if inp.member_feats_after is None or inp.eval_feats_after is None:
        out["model_file_skipped"] = "the model has no exact head adapter, so its head inputs were not read"
    return out


@register_audit("mia")
def mia(inp: AuditInputs) -> dict:
    nm = inp.nonmember_mask
    n_members, n_nonmembers = len(inp.member_logits_before), int(nm.sum())
    out = {"n_members": n_members, "n_nonmembers": n_nonmembers,
           "members": "forget-set notes", "nonmembers": "evaluation notes of the forget class"}
    if n_members < 2 or n_nonmembers < 2:
        out["skipped"] = "membership inference needs at least 2 members and 2 held-out notes of the forget class"
        return {MIA: out}
    scores = scores_by_model(inp)
    figures = {when: {name: attack_figures(*pair, inp.seed) for name, pair in by_attack.items()}
               for when, by_attack in scores.items()}
    out.update(headline_figures(scores, figures))
    out["attacks"] = threat_model_attacks(inp, scores, figures)
    return {MIA: out}


def headline_figures(scores: dict, figures: dict) -> dict:
    """The loss and confidence attacks' figures and ROC curves against the original (before) and the new model."""
    roc = {when: {name: _downsample(*roc_points(*scores[when][name])) for name in ("loss", "confidence")}
           for when in ("before", "after")}
    (bl, bc), (al, ac) = ((figures[when]["loss"], figures[when]["confidence"]) for when in ("before", "after"))
    return {LOSS_AUC_BEFORE: bl["auc"], LOSS_AUC_CI_BEFORE: bl["auc_ci"], TPR_AT_1PCT_FPR_BEFORE: bl["tpr_at_1pct_fpr"],
            CONF_AUC_BEFORE: bc["auc"], CONF_AUC_CI_BEFORE: bc["auc_ci"],
            CONF_TPR_AT_1PCT_FPR_BEFORE: bc["tpr_at_1pct_fpr"], ROC_BEFORE: roc["before"],
            LOSS_AUC_AFTER: al["auc"], LOSS_AUC_CI_AFTER: al["auc_ci"], TPR_AT_1PCT_FPR_AFTER: al["tpr_at_1pct_fpr"],
            CONF_AUC_AFTER: ac["auc"], CONF_AUC_CI_AFTER: ac["auc_ci"],
            CONF_TPR_AT_1PCT_FPR_AFTER: ac["tpr_at_1pct_fpr"], ROC_AFTER: roc["after"]}
