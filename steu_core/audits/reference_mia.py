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

from .deep import (ORACLE, DeepInputs, auc, auc_with_ci, register_deep_audit, true_label_logprob)


def _reference_features(inp: DeepInputs) -> tuple[str, np.ndarray, np.ndarray, np.ndarray] | str:
    """(source, forget feats, non-member feats, retain feats) of an encoder that saw neither set."""
    nm = inp.nonmember_mask
    oracle = inp.models.get(ORACLE)
    if oracle is not None and oracle.eval_feats is not None:
        return (f"{ORACLE} encoder", oracle.forget_feats.numpy(), oracle.eval_feats[torch.as_tensor(nm)].numpy(),
                oracle.retain_feats.numpy())
    from ..errors import SteuError
    from ..methods.retrain_oracle import check_same_start
    from ..model import compute_features, load_classifier
    from ..train import base_model_path

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
    feats = [compute_features(clf, e).float().cpu().numpy() for e in (inp.forget, eval_nm, inp.retain)]
    return (f"pretrained base encoder ({base})", *feats)


def _fit_predict(x_train, y_train, x_pool, fc: int, c: float, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    lr.fit(x_train, y_train)
    col = list(lr.classes_).index(fc)
    return lr.predict_proba(x_pool)[:, col]


@register_deep_audit("reference_mia")
def reference_mia(inp: DeepInputs) -> dict:
    n_ref = int(inp.setting("reference_mia", "n_reference", 8))
    c = float(inp.setting("reference_mia", "C", 1.0))
    out = {"attack": "RMIA (online, gamma = 1), linear-head reference models on frozen features",
           "n_reference": n_ref, "per_model": {}}
    nm = inp.nonmember_mask
    n_mem, n_non = len(inp.forget), int(nm.sum())
    if n_mem < 2 or n_non < 2:
        out["skipped"] = "needs at least 2 forget-set notes and 2 held-out notes of the forget class"
        return {"reference_mia": out}
    if n_ref < 2 or n_ref % 2:
        out["skipped"] = f"n_reference must be an even number of at least 2 (got {n_ref})"
        return {"reference_mia": out}
    ref = _reference_features(inp)
    if isinstance(ref, str):
        out["skipped"] = ref
        return {"reference_mia": out}
    source, f_mem, f_non, f_ret = ref
    fc = inp.forget_class_id
    pool = np.concatenate([f_mem, f_non])
    mean = np.concatenate([pool, f_ret]).mean(0)
    std = np.concatenate([pool, f_ret]).std(0) + 1e-6
    pool, f_ret = (pool - mean) / std, (f_ret - mean) / std
    rng = np.random.default_rng(inp.seed)
    n_pool = len(pool)
    in_mask = np.zeros((n_pool, n_ref), dtype=bool)
    for i in range(n_pool):
        in_mask[i, rng.permutation(n_ref)[: n_ref // 2]] = True
    p_ref = np.empty((n_pool, n_ref))
    for j in range(n_ref):
        if inp.cancelled():
            from ..errors import Cancelled

            raise Cancelled("the comparison was cancelled")
        inp.report(stage="audit:reference_mia", step=j + 1, total=n_ref)
        x = np.concatenate([f_ret, pool[in_mask[:, j]]])
        y = np.concatenate([inp.retain_labels, np.full(int(in_mask[:, j].sum()), fc)])
        p_ref[:, j] = _fit_predict(x, y, pool, fc, c, inp.seed + j)
    log_px = np.log(np.clip(p_ref.mean(1), 1e-12, None))
    # how much membership signal do the reference heads themselves carry? (IN vs OUT, same notes)
    lp = np.log(np.clip(p_ref, 1e-12, None))
    self_auc = float(np.mean([auc(lp[in_mask[:, j], j], lp[~in_mask[:, j], j]) for j in range(n_ref)]))
    out.update(reference_features=source, n_members=n_mem, n_nonmembers=n_non,
               reference_in_out_auc=self_auc, retain_notes_per_reference=int(len(f_ret)),
               pool_notes_per_reference=n_pool // 2)
    nm_idx = torch.as_tensor(nm)
    for name, m in inp.models.items():
        target = np.concatenate([true_label_logprob(m.forget_logits, fc),
                                 true_label_logprob(m.eval_logits[nm_idx], fc)])
        score = target - log_px
        out["per_model"][name] = auc_with_ci(score[:n_mem], score[n_mem:], inp.seed, inp.n_boot)
    return {"reference_mia": out}
