"""Layer-wise representation probe: WHERE in the network is the forget class still linearly recoverable?

For every model and every depth - the embedding layer's output, each encoder layer's output (both
mean-pooled over the note's tokens) and the head input - a logistic regression on standardised
features is trained to tell held-out notes of the forget class from the others (stratified k-fold
cross-validation on at most ``eval_max`` evaluation notes, a stratified sample); the AUC of its
out-of-fold scores is reported with a 95 % bootstrap interval (notes resampled, scores fixed).

Read each model's curve against the retrain oracle's: a model that never learnt the class usually
still separates it (a pretrained encoder knows what the class's text looks like), so the oracle's
curve is the honest floor. A method whose curve lies above the oracle's at some depth leaves more of
the class there than retraining would; an edit confined to the embedding rows can only lower the
curve through the notes that contain the edited tokens.
"""
from __future__ import annotations

import numpy as np

from ..stats import auc_with_interval
from .deep_base import DeepInputs, model_layer_features, probe_scores, register_deep_audit

NAME = "layer_probe"
HEAD_INPUT = "head input"


def _stratified(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """At most ``k`` indices, each class in its share (all of them when there are at most ``k``)."""
    if len(labels) <= k:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:max(1, round(k * np.mean(labels == c)))]
             for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def _depth_names(n_hidden: int) -> list[str]:
    return ["embeddings", *(f"layer {i}" for i in range(1, n_hidden))]


def _probe_auc(x: np.ndarray, y: np.ndarray, folds: int, c: float, inp: DeepInputs) -> dict:
    s = probe_scores(x, y, folds, c, inp.seed)
    auc, ci = auc_with_interval(s[y == 1], s[y == 0], inp.seed, inp.n_boot)
    return {"auc": auc, "auc_ci": ci}


@register_deep_audit(NAME)
def layer_probe(inp: DeepInputs) -> dict:
    folds = int(inp.setting(NAME, "folds", 5))
    c = float(inp.setting(NAME, "C", 1.0))
    idx = _stratified(inp.eval_labels, int(inp.setting(NAME, "eval_max", 600)), inp.seed)
    y = (inp.eval_labels[idx] == inp.forget_class_id).astype(int)
    out = {"probe": "logistic regression on standardised mean-pooled features of each depth, forget class vs "
                    f"rest, {folds}-fold cross-validated on held-out evaluation notes; AUC with a 95 % bootstrap "
                    "interval", "n_notes": int(len(idx)), "n_positive": int(y.sum()), "per_model": {}}
    folds_ok = min(int(y.sum()), int(len(y) - y.sum()))
    if folds_ok < 2:
        out["skipped"] = "the evaluation notes probed need at least 2 of the forget class and 2 of the others"
        return {NAME: out}
    folds = min(folds, folds_ok)
    for name, m in inp.each_model(NAME):
        feats = model_layer_features(inp, name, "eval", idx)
        depths = [{"depth": d, **_probe_auc(x, y, folds, c, inp)} for d, x in zip(_depth_names(len(feats)), feats)]
        if m.eval_feats is not None:
            depths.append({"depth": HEAD_INPUT, **_probe_auc(m.eval_feats[idx].numpy(), y, folds, c, inp)})
        out["per_model"][name] = {"depths": depths}
    return {NAME: out}
