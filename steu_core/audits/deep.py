"""The deep audits' entry points for ``compare``: building each model's :class:`ModelOutputs`
(head inputs and logits on the forget set, the evaluation set and a retain sample, computed exactly
- through the feature cache where the encoder is provably unchanged), and the names callers use,
re-exported from where they live: the inputs and registry in :mod:`.deep_base`, the statistics in
:mod:`steu_core.stats`. The audits themselves are registered by the package ``__init__``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..model import Classifier, Encoded, compute_features, compute_logits
from ..pmi import coverage
from ..stats import N_BOOTSTRAP, bootstrap_paired, bootstrap_two_groups, intervals_overlap, tpr_at_fpr
from ..stats import percentile_interval as percentile_ci
from ..stats import roc_auc as auc
from .deep_base import (DEEP_AUDITS, ORACLE, ORIGINAL, DeepInputs, ModelOutputs, check_audit_settings,
                        register_deep_audit, run_deep_audits, true_label_logprob)

__all__ = ["DEEP_AUDITS", "N_BOOTSTRAP", "ORACLE", "ORIGINAL", "DeepInputs", "ModelOutputs", "auc",
           "bootstrap_paired", "bootstrap_two_groups", "changed_parts", "check_audit_settings",
           "intervals_overlap", "model_outputs",
           "percentile_ci", "register_deep_audit", "run_deep_audits", "tpr_at_fpr", "true_label_logprob"]


def changed_parts(original: Classifier, new: Classifier) -> tuple[bool, list[int]]:
    """(encoder unchanged?, changed embedding row ids), counted from the weights in memory.

    "Encoder" = every parameter other than the input embedding matrix and the head.
    """
    emb_name = original.embedding_param_name
    head = set(original.head_param_names)
    a, b = dict(original.model.named_parameters()), dict(new.model.named_parameters())
    if set(a) != set(b):
        return False, []
    same = all(torch.equal(a[n], b[n]) for n in a if n != emb_name and n not in head)
    ea, eb = a[emb_name], b[emb_name]
    rows = torch.nonzero((ea != eb).any(dim=1)).flatten().tolist() if ea.shape == eb.shape else []
    return same, rows


def model_outputs(name: str, clf: Classifier, forget: Encoded, evaluation: Encoded, retain: Encoded,
                  original: ModelOutputs | None = None, batch_size: int = 64) -> ModelOutputs:
    """Logits and head inputs of ``clf`` on the three sets.

    With ``original`` given and the encoder of ``clf`` bit-identical to the original's, the
    original's features are reused and only examples containing a changed embedding row get a new
    encoder pass (exact: eval mode, frozen encoder). Otherwise everything is recomputed.
    """
    sets = {"forget": forget, "eval": evaluation, "retain": retain}
    feats, logits, recomputed = {}, {}, 0
    exact, rows = False, []
    if original is not None and clf.adapter is not None and original.eval_feats is not None:
        exact, rows = changed_parts(original.clf, clf)
    for key, enc in sets.items():
        if exact:
            f, n = _reuse_features(getattr(original, f"{key}_feats"), clf, enc, rows, batch_size)
            logits[key] = compute_logits(clf, enc, batch_size, feats=f, recompute=[])
        else:
            f, n = compute_features(clf, enc, batch_size), len(enc)
            logits[key] = compute_logits(clf, enc, batch_size, feats=f, recompute=[]) if f is not None \
                else compute_logits(clf, enc, batch_size)
        feats[key] = f
        recomputed += n
    return ModelOutputs(name=name, clf=clf, forget_logits=logits["forget"], eval_logits=logits["eval"],
                        retain_logits=logits["retain"], forget_feats=_cpu(feats["forget"]),
                        eval_feats=_cpu(feats["eval"]), retain_feats=_cpu(feats["retain"]),
                        exact_cache=exact, recomputed=recomputed, changed_rows=rows if exact else None)


def _reuse_features(original_feats: torch.Tensor, clf: Classifier, enc: Encoded, rows: list[int],
                    batch_size: int) -> tuple[torch.Tensor, int]:
    """The original's head inputs, with a new encoder pass only for the examples containing a changed
    row; and how many examples that was."""
    todo = np.flatnonzero(coverage(enc.ids, rows)).tolist() if rows else []
    feats = original_feats.to(clf.device).clone()
    if todo:
        new = compute_features(clf, enc.subset(todo), batch_size)
        feats[torch.as_tensor(todo, device=feats.device)] = new.to(feats.device, torch.float32)
    return feats, len(todo)


def _cpu(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().float().cpu()
