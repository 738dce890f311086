"""Deeper audits for comparing methods: forget quality vs the oracle (KS test), reference-model
membership inference (RMIA), a representation probe, and a relearning test; plus utility with
bootstrap intervals.

They are costly (they need every model's features, reference models, fine-tuning trials), so they
are NOT part of the default audits of an unlearning run (``audits.AUDITS``): they live in their own
registry, ``DEEP_AUDITS``, and ``python -m steu_core compare`` runs them over several models at
once. Each takes :class:`DeepInputs` and returns ``{audit name: {...}}``, with a ``per_model``
dict keyed by model name ("original", the method names) and every figure's bootstrap 95 % interval.

This module also holds what they share: the per-model outputs (head inputs and logits on the
forget set, the evaluation set and a retain sample, computed exactly - through the feature cache
where the encoder is provably unchanged) and the bootstrap helpers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ..model import Classifier, Encoded, compute_features, compute_logits
from ..pmi import coverage

ORIGINAL = "original"
ORACLE = "retrain_oracle"
N_BOOTSTRAP = 1000


@dataclass
class ModelOutputs:
    """One model's view of the audit data. ``*_feats`` are head inputs (None without a head adapter)."""

    name: str
    clf: Classifier
    forget_logits: torch.Tensor
    eval_logits: torch.Tensor
    retain_logits: torch.Tensor
    forget_feats: torch.Tensor | None = None
    eval_feats: torch.Tensor | None = None
    retain_feats: torch.Tensor | None = None
    exact_cache: bool = False       # outputs came (partly) from the original's cached features
    recomputed: int = 0             # examples that needed a new encoder pass


@dataclass
class DeepInputs:
    labels: list[str]
    forget_class_id: int
    forget: Encoded                 # the forget set (members of the original's training data)
    eval: Encoded                   # held-out evaluation notes
    eval_labels: np.ndarray
    retain: Encoded                 # a stratified sample of the retain training notes
    retain_labels: np.ndarray
    models: dict[str, ModelOutputs]  # "original", then one per method
    seed: int = 0
    n_boot: int = N_BOOTSTRAP
    settings: dict = field(default_factory=dict)  # {audit name: {setting: value}}
    progress: Callable[[dict], None] | None = None
    cancel: Callable[[], bool] | None = None

    @property
    def nonmember_mask(self) -> np.ndarray:
        """Held-out notes of the forget class (the non-members of the membership audits)."""
        return self.eval_labels == self.forget_class_id

    def report(self, **info) -> None:
        if self.progress:
            self.progress(info)

    def cancelled(self) -> bool:
        return bool(self.cancel and self.cancel())

    def setting(self, audit: str, name: str, default):
        return (self.settings.get(audit) or {}).get(name, default)


DEEP_AUDITS: dict[str, Callable[[DeepInputs], dict]] = {}


def register_deep_audit(name: str):
    def deco(fn):
        DEEP_AUDITS[name] = fn
        return fn
    return deco


def run_deep_audits(inputs: DeepInputs, names: Sequence[str] | None = None) -> dict:
    from ..errors import Cancelled

    out: dict = {}
    for name in names or list(DEEP_AUDITS):
        if inputs.cancelled():
            raise Cancelled("the comparison was cancelled")
        inputs.report(stage=f"audit:{name}")
        out.update(DEEP_AUDITS[name](inputs))
    return out


# ---------------------------------------------------------------------------------------------
# Per-model outputs


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
    exact = False
    if original is not None and clf.adapter is not None and original.eval_feats is not None:
        same, rows = changed_parts(original.clf, clf)
        exact = same
    for key, enc in sets.items():
        if exact:
            todo = np.flatnonzero(coverage(enc.ids, rows)).tolist() if rows else []
            base = getattr(original, f"{key}_feats").to(clf.device).clone()
            if todo:
                new = compute_features(clf, enc.subset(todo), batch_size)
                base[torch.as_tensor(todo, device=base.device)] = new.to(base.device, torch.float32)
            recomputed += len(todo)
            feats[key] = base
            logits[key] = compute_logits(clf, enc, batch_size, feats=base, recompute=[])
        else:
            f = compute_features(clf, enc, batch_size)
            feats[key] = f
            logits[key] = compute_logits(clf, enc, batch_size, feats=f, recompute=[]) if f is not None \
                else compute_logits(clf, enc, batch_size)
            recomputed += len(enc)
    return ModelOutputs(name=name, clf=clf, forget_logits=logits["forget"], eval_logits=logits["eval"],
                        retain_logits=logits["retain"], forget_feats=_cpu(feats["forget"]),
                        eval_feats=_cpu(feats["eval"]), retain_feats=_cpu(feats["retain"]),
                        exact_cache=exact, recomputed=recomputed)


def _cpu(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().float().cpu()


# ---------------------------------------------------------------------------------------------
# Bootstrap intervals


def percentile_ci(stats: np.ndarray, level: float = 0.95) -> list[float]:
    stats = np.asarray(stats, dtype=float)
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return [float("nan"), float("nan")]
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return [float(lo), float(hi)]


def bootstrap_paired(stat: Callable[[np.ndarray], float], n: int, seed: int, n_boot: int = N_BOOTSTRAP) -> list[float]:
    """Interval of ``stat(idx)`` over resamples ``idx`` of range(n) with replacement."""
    rng = np.random.default_rng(seed)
    return percentile_ci(np.array([stat(rng.integers(0, n, n)) for _ in range(n_boot)]))


def bootstrap_two_groups(stat: Callable[[np.ndarray, np.ndarray], float], n_a: int, n_b: int, seed: int,
                         n_boot: int = N_BOOTSTRAP) -> list[float]:
    """Interval of ``stat(idx_a, idx_b)``, resampling two groups independently (e.g. members, non-members)."""
    rng = np.random.default_rng(seed)
    return percentile_ci(np.array([stat(rng.integers(0, n_a, n_a), rng.integers(0, n_b, n_b))
                                   for _ in range(n_boot)]))


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC = P(pos score > neg score) + 0.5 P(tie), from ranks (O(n log n))."""
    from scipy.stats import rankdata

    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = rankdata(np.r_[pos, neg])
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def tpr_at_fpr(pos: np.ndarray, neg: np.ndarray, target: float = 0.01) -> float:
    """Largest true-positive rate of a threshold whose false-positive rate is at most ``target``."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    allowed = int(np.floor(target * len(neg)))          # false positives allowed
    neg_sorted = np.sort(neg)[::-1]
    # threshold strictly above the (allowed+1)-th highest non-member score
    thr = neg_sorted[allowed] if allowed < len(neg_sorted) else -np.inf
    return float((pos > thr).mean()) if len(pos) else float("nan")


def auc_with_ci(pos: np.ndarray, neg: np.ndarray, seed: int, n_boot: int = N_BOOTSTRAP) -> dict:
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    return {"auc": auc(pos, neg),
            "auc_ci": bootstrap_two_groups(lambda a, b: auc(pos[a], neg[b]), len(pos), len(neg), seed, n_boot),
            "tpr_at_1pct_fpr": tpr_at_fpr(pos, neg, 0.01),
            "tpr_at_1pct_fpr_ci": bootstrap_two_groups(lambda a, b: tpr_at_fpr(pos[a], neg[b], 0.01),
                                                       len(pos), len(neg), seed + 1, n_boot),
            "n_pos": int(len(pos)), "n_neg": int(len(neg))}


def true_label_logprob(logits: torch.Tensor, label: int) -> np.ndarray:
    return torch.log_softmax(logits.float(), dim=-1)[:, label].numpy()


def intervals_overlap(a: Sequence[float] | None, b: Sequence[float] | None) -> bool | None:
    if not a or not b or any(x is None or not np.isfinite(x) for x in (*a, *b)):
        return None
    return bool(a[0] <= b[1] and b[0] <= a[1])


# the audits register themselves on import
from . import forget_quality, probe, reference_mia, relearn, utility_ci  # noqa: E402,F401
