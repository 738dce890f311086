"""The statistics every audit reports, defined once: ROC AUC, TPR at a fixed FPR, F1, and percentile
bootstrap intervals.

Scores are "higher = more likely positive" (for the membership attacks: member). An AUC, a TPR or an
F1 anywhere in results.json or comparison.json (and the forget F1 the methods' stopping rules read)
comes from this module, so the same name always means the same number.
"""
from __future__ import annotations

import math
from typing import Callable, Iterator, Sequence

import numpy as np
from scipy.stats import binom, rankdata
from sklearn.metrics import roc_curve

N_BOOTSTRAP = 1000
LEVEL = 0.95


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC = P(pos score > neg score) + 0.5 P(tie) (the Mann-Whitney U statistic over
    len(pos) * len(neg)), from ranks in O(n log n); NaN when either group is empty.

    The numerator is a sum of half-integers, so it is exact and the AUC is the correctly rounded
    ratio: resamples and point estimates agree to the last bit however they are computed here.
    """
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = rankdata(np.r_[pos, neg])
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def tpr_at_fpr(pos: np.ndarray, neg: np.ndarray, target: float = 0.01) -> float:
    """The largest true-positive rate of any threshold whose false-positive rate is at most ``target``.

    A threshold t flags the scores above it. At most floor(target * len(neg)) negatives may be
    flagged, so the lowest admissible t is the (allowed + 1)-th highest negative score: every
    positive strictly above it is caught. Equivalently, the largest TPR among all ROC points
    (every distinct score as a threshold) with FPR <= target. Ties between a positive and that
    negative count as not caught. NaN without positives.
    """
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    allowed = int(np.floor(target * len(neg)))
    neg_sorted = np.sort(neg)[::-1]
    threshold = neg_sorted[allowed] if allowed < len(neg_sorted) else -np.inf
    return float((pos > threshold).mean()) if len(pos) else float("nan")


def roc_points(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) of the ROC curve, for drawing (collinear points dropped, as sklearn does)."""
    pos, neg = np.asarray(pos), np.asarray(neg)
    fpr, tpr, _ = roc_curve(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg])
    return fpr, tpr


def percentile_interval(values: Sequence[float] | np.ndarray, level: float = LEVEL) -> list[float]:
    """[lo, hi]: the central ``level`` percentile interval of the finite values; NaNs without any."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return [float("nan"), float("nan")]
    lo, hi = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return [float(lo), float(hi)]


def median_interval(values: Sequence[float] | np.ndarray, level: float = LEVEL) -> tuple[list[float], float]:
    """Distribution-free interval for the median: the order statistics [x_(j), x_(n+1-j)] with the largest
    j whose binomial coverage 1 - 2 P(Bin(n, 1/2) < j) is at least ``level``; with too few values for that
    (n < 6 at 95 %), j = 1 (min to max). Returns the interval and its exact coverage. It needs only the
    values' order, so right-censored values (stored as a number above every observed one) are fine."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        return [float("nan"), float("nan")], float("nan")
    j = 1
    while j < (n + 1) // 2 and 1 - 2 * binom.cdf(j, n, 0.5) >= level:
        j += 1
    return [float(x[j - 1]), float(x[n - j])], float(1 - 2 * binom.cdf(j - 1, n, 0.5))


def bootstrap_indices(n: int, seed: int, n_boot: int = N_BOOTSTRAP) -> Iterator[np.ndarray]:
    """``n_boot`` resamples of range(n) with replacement, the same ones for the same seed."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield rng.integers(0, n, n)


def resample_blocks(n: int, seed: int, n_boot: int = N_BOOTSTRAP,
                    max_cells: int = 1 << 22) -> Iterator[np.ndarray]:
    """:func:`bootstrap_indices` (the same resamples, in order) stacked into b x n arrays of at most
    ``max_cells`` indices, so a statistic can score a block at once without holding n_boot x n."""
    per_block = max(1, max_cells // max(n, 1))
    block: list[np.ndarray] = []
    for idx in bootstrap_indices(n, seed, n_boot):
        block.append(idx)
        if len(block) == per_block:
            yield np.stack(block)
            block = []
    if block:
        yield np.stack(block)


def bootstrap_paired(stat: Callable[[np.ndarray], float], n: int, seed: int, n_boot: int = N_BOOTSTRAP) -> list[float]:
    """Percentile interval of ``stat(idx)`` over resamples ``idx`` of range(n) with replacement."""
    return percentile_interval(np.array([stat(idx) for idx in bootstrap_indices(n, seed, n_boot)]))


def two_group_resamples(n_a: int, n_b: int, seed: int, n_boot: int = N_BOOTSTRAP) -> tuple[np.ndarray, np.ndarray]:
    """(n_boot x n_a, n_boot x n_b) indices resampling two groups independently (e.g. members and
    non-members) with replacement; per resample group a is drawn first, then group b."""
    rng = np.random.default_rng(seed)
    draws = [(rng.integers(0, n_a, n_a), rng.integers(0, n_b, n_b)) for _ in range(n_boot)]
    return (np.array([a for a, _ in draws]).reshape(n_boot, n_a), np.array([b for _, b in draws]).reshape(n_boot, n_b))


def bootstrap_two_groups(stat: Callable[[np.ndarray, np.ndarray], float], n_a: int, n_b: int, seed: int,
                         n_boot: int = N_BOOTSTRAP) -> list[float]:
    """Percentile interval of ``stat(idx_a, idx_b)`` over :func:`two_group_resamples`."""
    a, b = two_group_resamples(n_a, n_b, seed, n_boot)
    return percentile_interval(np.array([stat(ia, ib) for ia, ib in zip(a, b)]))


def roc_auc_rows(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """:func:`roc_auc` of every row pair (pos[i], neg[i]) at once, to the same last bit (the rank sums
    are exact half-integers whatever the order of summation)."""
    n_pos, n_neg = pos.shape[1], neg.shape[1]
    if n_pos == 0 or n_neg == 0:
        return np.full(len(pos), np.nan)
    ranks = rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    return (ranks[:, :n_pos].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc_with_interval(pos: np.ndarray, neg: np.ndarray, seed: int,
                      n_boot: int = N_BOOTSTRAP) -> tuple[float, list[float]]:
    """(ROC AUC, its 95 % percentile bootstrap interval, positives and negatives resampled separately)."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    a, b = two_group_resamples(len(pos), len(neg), seed, n_boot)
    return roc_auc(pos, neg), percentile_interval(roc_auc_rows(pos[a], neg[b]))


def tpr_at_fpr_with_interval(pos: np.ndarray, neg: np.ndarray, seed: int, n_boot: int = N_BOOTSTRAP,
                             target: float = 0.01) -> tuple[float, list[float]]:
    """(:func:`tpr_at_fpr`, its 95 % percentile bootstrap interval, groups resampled separately)."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    interval = bootstrap_two_groups(lambda a, b: tpr_at_fpr(pos[a], neg[b], target), len(pos), len(neg),
                                    seed, n_boot)
    return tpr_at_fpr(pos, neg, target), interval


def intervals_overlap(a: Sequence[float] | None, b: Sequence[float] | None) -> bool | None:
    """Whether two [lo, hi] intervals overlap; None when either is missing or not finite."""
    if not a or not b or any(x is None or not np.isfinite(x) for x in (*a, *b)):
        return None
    return bool(a[0] <= b[1] and b[0] <= a[1])


# -- F1 from confusion counts, with paired bootstrap intervals ---------------------------------
# Every function here takes one C x C matrix or a stack of them (..., C, C): a bootstrap scores all
# its resamples in a few array operations instead of a Python loop per resample.
def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """C x C counts, rows = true label, columns = predicted; for (R, n) label arrays, R x C x C."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    cells = n_classes * n_classes
    rows = (np.arange(math.prod(y_true.shape[:-1])) * cells).reshape(y_true.shape[:-1] + (1,))
    counts = np.bincount((rows + y_true * n_classes + y_pred).ravel(), minlength=rows.size * cells)
    return counts.reshape(y_true.shape[:-1] + (n_classes, n_classes))


def f1_per_class(cm: np.ndarray) -> np.ndarray:
    """One-vs-rest F1 of every class (0 where a class is neither true nor predicted), as sklearn's."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    denom = cm.sum(axis=-2) + cm.sum(axis=-1)  # 2 tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def retained_class_f1(cm: np.ndarray, forget_class_id: int) -> np.ndarray:
    """F1 of every retained class on the notes whose true label is a retained class (the forgotten class's
    notes, which must land somewhere after class forgetting, count neither as a hit nor as a false alarm):
    utility as the field measures it after forgetting a class. Retained classes in label order."""
    keep = [i for i in range(cm.shape[-1]) if i != forget_class_id]
    sub = cm[..., keep, :]
    tp = sub[..., np.arange(len(keep)), keep].astype(float)
    denom = sub[..., keep].sum(axis=-2) + sub.sum(axis=-1)
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def retain_f1(cm: np.ndarray, forget_class_id: int) -> np.ndarray:
    """Macro F1 over the retained classes, on notes whose true label is retained (results.json's)."""
    return np.mean(retained_class_f1(cm, forget_class_id), axis=-1)


def f1_figures(cm: np.ndarray, forget_class_id: int) -> np.ndarray:
    """[per-class F1 ..., forget F1, retain F1, macro F1, retained-notes F1 of each retained class ...] of one
    confusion matrix (or of each in a stack); see :func:`retained_class_f1` for the last block."""
    per = f1_per_class(cm)
    kept = retained_class_f1(cm, forget_class_id)
    return np.concatenate([per, per[..., [forget_class_id]], np.mean(kept, axis=-1)[..., None],
                           per.mean(axis=-1, keepdims=True), kept], axis=-1)


# -- F1 of one class, as a plain float (the methods' stopping rules, the relearn audits) ---------
def f1_from_counts(tp: int, fp: int, fn: int) -> float:
    """F1 = 2 tp / (2 tp + fp + fn) of one class from its counts, 0 when the class is neither true nor
    predicted: :func:`f1_per_class`'s formula for one class, in plain integers (fast in a stopping
    rule's loop); both divide exact integers once, so the float is the same."""
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else 0.0


def one_vs_rest_f1(y_true, y_pred, cls: int) -> float:
    """F1 of class ``cls`` against all others (sklearn's binary F1 of ``y_true == cls`` vs
    ``y_pred == cls``, zero_division=0). Takes NumPy arrays (convert tensors on the caller's side)."""
    t, p = np.asarray(y_true) == cls, np.asarray(y_pred) == cls
    tp = int((t & p).sum())
    return f1_from_counts(tp, int(p.sum()) - tp, int(t.sum()) - tp)


def f1_intervals(y_true, pred_before, pred_after, n_classes: int, forget_class_id: int, seed: int = 0,
                 n_boot: int = N_BOOTSTRAP) -> dict:
    """F1 figures of two models on the same notes, with 95 % percentile intervals from one paired
    bootstrap: each resample scores both models, so the change has an interval of its own.

    Returns ``{"before": (points, intervals), "after": (...), "change": (...)}`` where points and
    intervals follow :func:`f1_figures`' order (per class, then forget, retain and macro F1, then each retained
    class on the retained notes)."""
    y, pb, pa = (np.asarray(a, dtype=np.int64) for a in (y_true, pred_before, pred_after))
    samples_b, samples_a = [], []
    for idx in resample_blocks(len(y), seed, n_boot):
        y_idx = y[idx]  # the same resampled notes score both models
        samples_b.append(f1_figures(confusion_counts(y_idx, pb[idx], n_classes), forget_class_id))
        samples_a.append(f1_figures(confusion_counts(y_idx, pa[idx], n_classes), forget_class_id))
    samples_b, samples_a = np.concatenate(samples_b), np.concatenate(samples_a)
    point_b = f1_figures(confusion_counts(y, pb, n_classes), forget_class_id)
    point_a = f1_figures(confusion_counts(y, pa, n_classes), forget_class_id)

    def columns(samples):
        return [percentile_interval(samples[:, j]) for j in range(samples.shape[1])]
    return {"before": (point_b.tolist(), columns(samples_b)), "after": (point_a.tolist(), columns(samples_a)),
            "change": ((point_a - point_b).tolist(), columns(samples_a - samples_b))}


# -- learned attacks and probes ----------------------------------------------------------------
def cross_validated_scores(x: np.ndarray, y: np.ndarray, folds: int, c: float, seed: int) -> np.ndarray:
    """Out-of-fold probability of y=1 from a standardised logistic regression (stratified k-fold): every
    note is scored by a model that never saw it. The one recipe of the probes and the learned membership
    attacks. With no real signal, out-of-fold AUCs of a fixed pool lean below 0.5 (the folds' chance
    differences cancel), so such an AUC is no evidence of anything below chance."""
    # scikit-learn's estimators load slowly; only the probes and the learned attacks need them
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = np.zeros(len(y))
    for tr, te in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed))
        clf.fit(x[tr], y[tr])
        scores[te] = clf.predict_proba(x[te])[:, 1]
    return scores
