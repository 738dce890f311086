"""Reference-model membership inference: RMIA (Zarifzadeh et al., "Low-Cost High-Power Membership
Inference Attacks", ICML 2024), online variant with gamma = 1.

Why RMIA rather than LiRA: LiRA fits a Gaussian per example to the scores of many reference models
(tens to hundreds for its low-FPR regime); RMIA needs only a handful, because it compares the target
model's probability of an example with the *average* reference probability of that example,
p(x|target) / p(x). With gamma = 1 its pairwise test against population samples is a monotone
function of that ratio, so AUC and TPR at a fixed FPR are those of the score
log p(forget class | x, target) - log mean_j p(forget class | x, reference_j).

Members are the forget-set notes (in the original's training data), non-members the held-out
evaluation notes of the forget class. An AUC near 0.5 means the target model treats the forgotten
notes like notes it never saw, once each note's difficulty is accounted for.

The reference models, and why they are sound here:
- They are linear heads (multinomial logistic regression on standardised features) trained on
  *frozen* features: the head inputs of the retrain oracle's encoder (or, without an oracle in the
  comparison, of the pretrained base checkpoint). Neither encoder ever saw a forget-set note or an
  evaluation note, so the features treat members and non-members symmetrically: no membership
  signal is built into the reference side. (The original's own features would not do: its encoder
  was trained on the members, and dividing by references built on it would hide exactly the
  encoder-level memorisation this audit looks for.)
- Reference j is trained on a retain sample plus a random half of the members+non-members pool;
  each pool note is IN for exactly half of the references (balanced design), so p(x) averages
  models with and without x, as online RMIA prescribes.
- Training on cached frozen features is exact (no approximation of an encoder pass), cheap (the
  features are computed once), and it is the same training regime as head-based unlearning: what
  differs between reference models is precisely the part STEU-type methods edit.
The reference models are weaker than full fine-tuning, so this attack's power is a lower bound; the
audit reports the references' own IN-vs-OUT AUC so a reader can see how much membership signal a
head trained on these features picks up at all.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from ..errors import SteuError
from ..methods.retrain_oracle import check_same_start
from ..model import compute_features, load_classifier
from ..stats import auc_with_interval, roc_auc, tpr_at_fpr_with_interval
from ..train import base_model_path
from .deep_base import ORACLE, DeepInputs, register_deep_audit, true_label_logprob


def _reference_features(inp: DeepInputs) -> tuple[str, np.ndarray, np.ndarray, np.ndarray] | str:
    """(source, forget feats, non-member feats, retain feats) of an encoder that saw neither set."""
    nm = inp.nonmember_mask
    oracle = inp.models.get(ORACLE)
    if oracle is not None and oracle.eval_feats is not None:
        return (f"{ORACLE} encoder", oracle.forget_feats.numpy(), oracle.eval_feats[torch.as_tensor(nm)].numpy(),
                oracle.retain_feats.numpy())
    original = inp.models["original"].clf
    base = inp.setting("reference_mia", "base", "default")
    try:
        clf = load_classifier(base_model_path(base), device=original.device, labels=original.labels)
        check_same_start(original, clf)
    except (SteuError, ImportError) as exc:
        return f"no oracle in the comparison and the base checkpoint '{base}' cannot serve ({exc})"
    if clf.adapter is None:
        return "the base checkpoint has no exact head adapter, so its features cannot be read"
    eval_nm = inp.eval.subset(np.flatnonzero(nm).tolist())
    inp.report(stage="audit:reference_mia", activity=f"the pretrained base encoder's features of "
                                                     f"{len(inp.forget) + len(eval_nm) + len(inp.retain)} notes")
    feats = [compute_features(clf, e).float().cpu().numpy() for e in (inp.forget, eval_nm, inp.retain)]
    return (f"pretrained base encoder ({base})", *feats)


def _fit_predict(x_train, y_train, x_pool, fc: int, c: float, seed: int) -> np.ndarray:
    lr = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    lr.fit(x_train, y_train)
    col = list(lr.classes_).index(fc)
    return lr.predict_proba(x_pool)[:, col]


def _standardised(pool: np.ndarray, retain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool and retain features scaled by the mean and standard deviation of both together."""
    mean = np.concatenate([pool, retain]).mean(0)
    std = np.concatenate([pool, retain]).std(0) + 1e-6
    return (pool - mean) / std, (retain - mean) / std


def _balanced_in_mask(n_pool: int, n_ref: int, seed: int) -> np.ndarray:
    """[pool note, reference] = True where the note is IN that reference's training data: every note
    is IN for exactly half of the references."""
    rng = np.random.default_rng(seed)
    in_mask = np.zeros((n_pool, n_ref), dtype=bool)
    for i in range(n_pool):
        in_mask[i, rng.permutation(n_ref)[: n_ref // 2]] = True
    return in_mask


def _reference_probabilities(inp: DeepInputs, pool: np.ndarray, f_ret: np.ndarray, in_mask: np.ndarray,
                             c: float) -> np.ndarray:
    """[pool note, reference] = p(forget class | note) under each reference head."""
    fc, n_ref = inp.forget_class_id, in_mask.shape[1]
    p_ref = np.empty((len(pool), n_ref))
    for j in range(n_ref):
        inp.stop_if_cancelled()
        inp.report(stage="audit:reference_mia", step=j, total=n_ref, activity=f"reference model {j + 1} of {n_ref}")
        x = np.concatenate([f_ret, pool[in_mask[:, j]]])
        y = np.concatenate([inp.retain_labels, np.full(int(in_mask[:, j].sum()), fc)])
        p_ref[:, j] = _fit_predict(x, y, pool, fc, c, inp.seed + j)
    return p_ref


def _attack_figures(members: np.ndarray, nonmembers: np.ndarray, seed: int, n_boot: int) -> dict:
    auc, auc_ci = auc_with_interval(members, nonmembers, seed, n_boot)
    tpr, tpr_ci = tpr_at_fpr_with_interval(members, nonmembers, seed + 1, n_boot, 0.01)
    return {"auc": auc, "auc_ci": auc_ci, "tpr_at_1pct_fpr": tpr, "tpr_at_1pct_fpr_ci": tpr_ci,
            "n_pos": int(len(members)), "n_neg": int(len(nonmembers))}


def _skip_reason(n_mem: int, n_non: int, n_ref: int) -> str | None:
    if n_mem < 2 or n_non < 2:
        return "needs at least 2 forget-set notes and 2 held-out notes of the forget class"
    if n_ref < 2 or n_ref % 2:
        return f"n_reference must be an even number of at least 2 (got {n_ref})"
    return None


@register_deep_audit("reference_mia")
def reference_mia(inp: DeepInputs) -> dict:
    n_ref = int(inp.setting("reference_mia", "n_reference", 8))
    c = float(inp.setting("reference_mia", "C", 1.0))
    out = {"attack": "RMIA (online, gamma = 1), linear-head reference models on frozen features",
           "n_reference": n_ref, "per_model": {}}
    nm = inp.nonmember_mask
    n_mem, n_non = len(inp.forget), int(nm.sum())
    ref = _skip_reason(n_mem, n_non, n_ref) or _reference_features(inp)
    if isinstance(ref, str):
        out["skipped"] = ref
        return {"reference_mia": out}
    source, f_mem, f_non, f_ret = ref
    fc = inp.forget_class_id
    pool, f_ret = _standardised(np.concatenate([f_mem, f_non]), f_ret)
    in_mask = _balanced_in_mask(len(pool), n_ref, inp.seed)
    p_ref = _reference_probabilities(inp, pool, f_ret, in_mask, c)
    log_px = np.log(np.clip(p_ref.mean(1), 1e-12, None))
    # how much membership signal do the reference heads themselves carry? (IN vs OUT, same notes)
    lp = np.log(np.clip(p_ref, 1e-12, None))
    self_auc = float(np.mean([roc_auc(lp[in_mask[:, j], j], lp[~in_mask[:, j], j]) for j in range(n_ref)]))
    out.update(reference_features=source, n_members=n_mem, n_nonmembers=n_non,
               reference_in_out_auc=self_auc, retain_notes_per_reference=int(len(f_ret)),
               pool_notes_per_reference=len(pool) // 2)
    nm_idx = torch.as_tensor(nm)
    for name, m in inp.models.items():
        target = np.concatenate([true_label_logprob(m.forget_logits, fc),
                                 true_label_logprob(m.eval_logits[nm_idx], fc)])
        score = target - log_px
        out["per_model"][name] = _attack_figures(score[:n_mem], score[n_mem:], inp.seed, inp.n_boot)
    return {"reference_mia": out}
