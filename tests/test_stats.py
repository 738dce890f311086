"""steu_core.stats: the one definition of every AUC, TPR at a fixed FPR, F1 and bootstrap interval."""
from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from steu_core.stats import (auc_with_interval, bootstrap_indices, bootstrap_paired, bootstrap_two_groups,
                             confusion_counts, f1_figures, f1_from_counts, f1_intervals, f1_per_class, intervals_overlap,
                             one_vs_rest_f1, percentile_interval, resample_blocks, roc_auc, roc_points, tpr_at_fpr,
                             tpr_at_fpr_with_interval)

PACKAGE = Path(__file__).resolve().parent.parent / "steu_core"


def test_roc_auc_hand_computed_with_a_tie():
    # pairs (pos, neg): (3,1) (3,2) (2,1) won, (2,2) tied -> (3 + 0.5) / 4
    assert roc_auc([3, 2], [1, 2]) == 0.875
    assert roc_auc([5, 6], [1, 2, 3]) == 1.0
    assert roc_auc([1, 2], [5, 6]) == 0.0
    assert roc_auc([1, 1], [1, 1]) == 0.5
    assert math.isnan(roc_auc([], [1.0])) and math.isnan(roc_auc([1.0], []))


def test_roc_auc_is_the_exact_pair_count():
    rng = np.random.default_rng(3)
    pos, neg = rng.integers(0, 6, 37).astype(float), rng.integers(0, 5, 41).astype(float)  # many ties
    diff = pos[:, None] - neg[None, :]
    exact = ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size
    assert roc_auc(pos, neg) == exact  # bit for bit, not approximately


def test_tpr_at_fpr_hand_computed():
    # 10 negatives, target 10 %: one false positive allowed. Flagging >= 9 catches 9.5 (FPR 0.1);
    # flagging >= 8 would also catch the two 8s but flags two negatives (FPR 0.2): too many.
    # At 20 % flagging >= 7 (negatives 9 and 8) catches all four.
    pos = [9.5, 8, 8, 7]
    neg = [9, 8, 5, 4, 3, 2, 1, 0, -1, -2]
    assert tpr_at_fpr(pos, neg, 0.1) == 0.25
    assert tpr_at_fpr(pos, neg, 0.2) == 1.0
    assert tpr_at_fpr(pos, neg, 0.0) == 0.25  # above every negative: 9.5 only
    assert tpr_at_fpr(pos, neg, 1.0) == 1.0
    assert math.isnan(tpr_at_fpr([], neg))


def test_tpr_at_fpr_counts_every_roc_point_even_on_a_straight_stretch():
    # Tied pairs at 4, 3 and 2, then five negatives at 1 and a positive at 0. ROC points (FP, TP):
    # (0,0) (1,1) (2,2) (3,3) (8,3) (8,4). With 8 negatives, FPR <= 25 % allows two false positives:
    # the best point is (2,2), TPR 2/4. sklearn's thinned curve (for drawing) drops (2,2), which lies
    # on the line from (1,1) to (3,3), and would give 1/4.
    pos, neg = [4, 3, 2, 0], [4, 3, 2, 1, 1, 1, 1, 1]
    assert tpr_at_fpr(pos, neg, 0.25) == 0.5
    fpr, tpr = roc_points(pos, neg)
    assert tpr[fpr <= 0.25].max() == 0.25


def test_tpr_at_fpr_is_the_best_roc_point_within_the_target():
    rng = np.random.default_rng(1)
    for _ in range(200):
        pos = np.round(rng.normal(0.5, 1, rng.integers(1, 40)) * 3) / 3
        neg = np.round(rng.normal(0, 1, rng.integers(1, 120)) * 3) / 3
        target = rng.choice([0.01, 0.05, 0.1, 0.3])
        best = max((pos >= t).mean() for t in np.r_[np.inf, pos, neg] if (neg >= t).sum() <= target * len(neg))
        assert tpr_at_fpr(pos, neg, target) == best


def test_percentile_interval():
    assert percentile_interval(np.arange(101.0)) == pytest.approx([2.5, 97.5])
    assert percentile_interval([1.0, np.nan, 3.0, np.inf], level=1.0) == [1.0, 3.0]
    lo, hi = percentile_interval([np.nan])
    assert math.isnan(lo) and math.isnan(hi)


def test_bootstrap_resamples_are_reproducible_and_in_a_fixed_order():
    a = [idx.tolist() for idx in bootstrap_indices(7, seed=4, n_boot=5)]
    assert a == [idx.tolist() for idx in bootstrap_indices(7, seed=4, n_boot=5)]
    assert a != [idx.tolist() for idx in bootstrap_indices(7, seed=5, n_boot=5)]
    rng = np.random.default_rng(4)
    assert a == [rng.integers(0, 7, 7).tolist() for _ in range(5)]
    # two groups: per resample group a first, then group b
    seen = []
    bootstrap_two_groups(lambda i, j: seen.append((i.tolist(), j.tolist())) or 0.0, 3, 4, seed=2, n_boot=3)
    rng = np.random.default_rng(2)
    assert seen == [(rng.integers(0, 3, 3).tolist(), rng.integers(0, 4, 4).tolist()) for _ in range(3)]


def test_intervals_contain_the_point_estimate_and_repeat_for_a_seed():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 80), rng.normal(0, 1, 120)
    auc, ci = auc_with_interval(pos, neg, seed=0, n_boot=300)
    assert auc == roc_auc(pos, neg) and ci[0] < auc < ci[1]
    assert auc_with_interval(pos, neg, seed=0, n_boot=300) == (auc, ci)
    assert auc_with_interval(pos, neg, seed=1, n_boot=300)[1] != ci
    tpr, tci = tpr_at_fpr_with_interval(pos, neg, seed=0, n_boot=300, target=0.05)
    assert tpr == tpr_at_fpr(pos, neg, 0.05) and tci[0] <= tpr <= tci[1]
    x = rng.normal(size=50)
    mean_ci = bootstrap_paired(lambda i: x[i].mean(), len(x), seed=0, n_boot=300)
    assert mean_ci[0] < x.mean() < mean_ci[1]
    assert mean_ci == bootstrap_paired(lambda i: x[i].mean(), len(x), seed=0, n_boot=300)


def test_the_vectorised_auc_interval_is_the_resample_by_resample_one_to_the_last_bit():
    rng = np.random.default_rng(3)
    # rounded scores: many ties, within and across the groups
    pos, neg = rng.normal(0.3, 1, 57).round(1), rng.normal(0, 1, 23).round(1)
    for seed in (0, 7):
        one_by_one = bootstrap_two_groups(lambda a, b: roc_auc(pos[a], neg[b]), len(pos), len(neg), seed, 400)
        assert auc_with_interval(pos, neg, seed, 400) == (roc_auc(pos, neg), one_by_one)


def test_resample_blocks_are_the_bootstrap_resamples_in_order():
    one_by_one = np.array(list(bootstrap_indices(9, seed=2, n_boot=23)))
    for max_cells in (1, 9, 50, 10_000):
        blocks = list(resample_blocks(9, seed=2, n_boot=23, max_cells=max_cells))
        assert max(len(b) for b in blocks) * 9 <= max(max_cells, 9)
        assert np.array_equal(np.concatenate(blocks), one_by_one)


def test_confusion_counts_of_a_stack_are_each_rows_own():
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(4)
    y, p = rng.integers(0, 4, (6, 30)), rng.integers(0, 4, (6, 30))
    stack = confusion_counts(y, p, 4)
    assert stack.shape == (6, 4, 4)
    for i in range(6):
        assert np.array_equal(stack[i], confusion_counts(y[i], p[i], 4))
        assert np.array_equal(stack[i], confusion_matrix(y[i], p[i], labels=range(4)))


def _f1_intervals_one_resample_at_a_time(y, pb, pa, n_classes, fc, seed, n_boot):
    """The paired bootstrap written plainly: one confusion matrix per resample and model."""
    sb = np.array([f1_figures(confusion_counts(y[i], pb[i], n_classes), fc) for i in bootstrap_indices(len(y), seed, n_boot)])
    sa = np.array([f1_figures(confusion_counts(y[i], pa[i], n_classes), fc) for i in bootstrap_indices(len(y), seed, n_boot)])
    point_b, point_a = (f1_figures(confusion_counts(y, p, n_classes), fc) for p in (pb, pa))

    def columns(samples):
        return [percentile_interval(samples[:, j]) for j in range(samples.shape[1])]
    return {"before": (point_b.tolist(), columns(sb)), "after": (point_a.tolist(), columns(sa)),
            "change": ((point_a - point_b).tolist(), columns(sa - sb))}


def test_the_batched_f1_intervals_are_the_resample_by_resample_ones_to_the_last_bit():
    rng = np.random.default_rng(5)
    for n_classes, n in ((2, 15), (5, 120), (7, 60)):
        y = rng.integers(0, n_classes, n)
        pb = rng.integers(0, n_classes - 1, n)  # the last class never predicted: F1 0 and empty columns
        pa = np.where(y == 1, 0, y)             # the forgotten class 1 sent to class 0
        for seed in (0, 3):
            got = f1_intervals(y, pb, pa, n_classes, 1, seed=seed, n_boot=300)
            assert repr(got) == repr(_f1_intervals_one_resample_at_a_time(y, pb, pa, n_classes, 1, seed, 300))


def _random_labels(rng, case):
    """Labels of every awkward kind: classes never predicted, never true, one true class only, mostly right."""
    c, n = int(rng.integers(2, 8)), int(rng.integers(1, 80))
    y, p = rng.integers(0, c, n), rng.integers(0, c, n)
    if case % 5 == 1:
        p = rng.integers(0, max(1, c - 2), n)
    elif case % 5 == 2:
        y = rng.integers(0, max(1, c - 2), n)
    elif case % 5 == 3:
        y = np.full(n, int(rng.integers(0, c)))
    elif case % 5 == 4:
        p = np.where(rng.random(n) < 0.8, y, p)
    return c, y, p, int(rng.integers(0, c))


def test_one_class_f1_is_sklearns_to_the_last_bit():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(6)
    for case in range(600):
        c, y, p, cls = _random_labels(rng, case)
        want = float(f1_score(y == cls, p == cls, zero_division=0))
        assert repr(one_vs_rest_f1(y, p, cls)) == repr(want)
        tp, fp, fn = int(((y == cls) & (p == cls)).sum()), int(((y != cls) & (p == cls)).sum()), int(((y == cls) & (p != cls)).sum())
        assert repr(f1_from_counts(tp, fp, fn)) == repr(want)
        per = f1_score(y, p, labels=range(c), average=None, zero_division=0)
        assert f1_per_class(confusion_counts(y, p, c)).tolist() == per.tolist()
    # zero_division: a class neither true nor predicted scores 0, as sklearn's zero_division=0
    assert f1_from_counts(0, 0, 0) == 0.0 == float(f1_score([0, 0], [0, 0], zero_division=0))
    assert one_vs_rest_f1(np.array([0, 1]), np.array([0, 1]), 2) == 0.0
    assert f1_from_counts(0, 3, 0) == 0.0 and f1_from_counts(0, 0, 4) == 0.0 and f1_from_counts(2, 0, 0) == 1.0


def _sklearn_utility_metrics(y_true, y_pred, labels, forget_class_id):
    """utility_metrics as it was defined before steu_core.stats owned F1 (sklearn's f1_score / confusion_matrix)."""
    from sklearn.metrics import confusion_matrix, f1_score

    ids = list(range(len(labels)))
    retained = [i for i in ids if i != forget_class_id]
    keep = y_true != forget_class_id
    per_class = f1_score(y_true, y_pred, labels=ids, average=None, zero_division=0)
    return {
        "forget_f1": float(f1_score(y_true == forget_class_id, y_pred == forget_class_id, zero_division=0)),
        "retain_f1": float(f1_score(y_true[keep], y_pred[keep], labels=retained, average="macro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "per_class_f1": {labels[i]: float(per_class[i]) for i in ids},
        "confusion": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


def test_utility_metrics_is_the_sklearn_definition_to_the_last_bit():
    from steu_core.audits.utility import utility_metrics

    rng = np.random.default_rng(7)
    checked = 0
    for case in range(600):
        c, y, p, fc = _random_labels(rng, case)
        labels = [f"class{i}" for i in range(c)]
        if not (y != fc).any():  # no retained note: sklearn refuses the empty input, stats gives retain F1 0
            assert utility_metrics(y, p, labels, fc)["retain_f1"] == 0.0
            continue
        assert repr(utility_metrics(y, p, labels, fc)) == repr(_sklearn_utility_metrics(y, p, labels, fc))
        checked += 1
    assert checked > 500


def test_no_other_module_computes_an_f1_itself():
    computing = {"f1_score", "fbeta_score", "precision_recall_fscore_support", "confusion_matrix",
                 "multilabel_confusion_matrix", "classification_report"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "stats.py":
            continue
        text = path.read_text()
        offenders += [f"{path.name}: 2 * tp" for pattern in ("2 * tp", "2*tp") if pattern in text]
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sklearn"):
                offenders += [f"{path.name}: {a.name}" for a in node.names if a.name in computing]
    assert not offenders


def test_intervals_overlap():
    assert intervals_overlap([0.1, 0.3], [0.25, 0.5]) is True
    assert intervals_overlap([0.1, 0.2], [0.25, 0.5]) is False
    assert intervals_overlap(None, [0.1, 0.2]) is None
    assert intervals_overlap([float("nan"), 0.2], [0.1, 0.2]) is None


def test_no_other_module_computes_an_auc_or_a_roc_itself():
    computing = {"roc_auc_score", "roc_curve", "rankdata", "mannwhitneyu", "auc"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "stats.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("sklearn", "scipy")):
                offenders += [f"{path.name}: {a.name}" for a in node.names if a.name in computing]
    assert not offenders
