"""STEU's stopping rule: a check that has already failed on the forget set stops scoring, with the same result
(one batch at a time, and in CPU lanes)."""
from __future__ import annotations

import pytest
import torch

from steu_core.data import load_notes
from steu_core.methods import get_method, steu
from steu_core.methods.base import UnlearnContext
from steu_core.model import encode, load_classifier


@pytest.mark.parametrize("n, target, allowed", [(240, 0.01, 1), (240, 0.0, 0), (10, 0.5, 3), (5, 1.0, 5)])
def test_allowed_hits_is_the_largest_count_within_the_target(n, target, allowed):
    assert steu.allowed_hits(n, target) == allowed
    assert steu.f1_from_hits(allowed, n) <= target
    if allowed < n:
        assert steu.f1_from_hits(allowed + 1, n) > target


@pytest.mark.parametrize("threads", [1, 2])  # with 2, the check's chunks run in CPU lanes (steu_core.lanes)
def test_a_failed_check_stops_early_and_changes_nothing_else(tiny_bert, tiny_data, monkeypatch, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _early_stop_changes_nothing_else(tiny_bert, tiny_data, monkeypatch)
    finally:
        torch.set_num_threads(before)


def _early_stop_changes_nothing_else(tiny_bert, tiny_data, monkeypatch):
    clf = load_classifier(tiny_bert, device="cpu")
    train = load_notes(tiny_data["train"])
    fc = clf.label_id(tiny_data["forget_class"])
    forget, retain = train.where_label(clf.labels[fc]), train.where_label(clf.labels[fc], equal=False)
    ctx = UnlearnContext(original=clf, forget=encode(clf.tokenizer, forget.texts, 48),
                         retain=encode(clf.tokenizer, retain.texts, 48),
                         retain_labels=torch.as_tensor([clf.labels.index(y) for y in retain.labels]),
                         forget_class_id=fc, seed=0, max_length=48)
    # small steps: the first checks still see the class predicted; check every step, stop on 0 hits
    settings = {"k": 16, "min_df": 2, "lr_rows": 0.02, "lr_head": 0.005, "min_steps": 1, "check_every": 1, "batch_size": 2,
                "max_steps": 30}
    early = get_method("steu")(settings).run(ctx)
    # the same run with the early stop switched off (every check scores the whole forget set)
    monkeypatch.setattr(steu, "allowed_hits", lambda n, target: n)
    full = get_method("steu")(settings).run(ctx)
    bounds = [e["forget_f1_at_least"] for e in early.training["history"] if "forget_f1_at_least" in e]
    assert bounds, "some check must have failed early on the forget set"
    assert all(b > 0.01 for b in bounds)
    assert early.training["steps"] == full.training["steps"]
    a, b = early.model.model.state_dict(), full.model.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(early.forget_logits, full.forget_logits)



def test_the_progress_says_when_the_stopping_rule_is_checked_and_when_it_is_done(tiny_bert, tiny_data):
    clf = load_classifier(tiny_bert, device="cpu")
    train = load_notes(tiny_data["train"])
    fc = clf.label_id(tiny_data["forget_class"])
    forget, retain = train.where_label(clf.labels[fc]), train.where_label(clf.labels[fc], equal=False)
    seen = []
    ctx = UnlearnContext(original=clf, forget=encode(clf.tokenizer, forget.texts, 48),
                         retain=encode(clf.tokenizer, retain.texts, 48),
                         retain_labels=torch.as_tensor([clf.labels.index(y) for y in retain.labels]),
                         forget_class_id=fc, seed=0, max_length=48, progress=lambda info: seen.append(dict(info)))
    result = get_method("steu")({"k": 8, "min_df": 2, "max_steps": 3, "min_steps": 1, "check_every": 1}).run(ctx)
    activities = [info["activity"] for info in seen if "activity" in info]
    n = len(forget.texts)
    said = set(activities[0::2])
    assert said and said <= {f"checking the stopping rule on the {n} forget notes",
                             f"scoring the final model on the {n} forget notes"}
    assert all(a == "" for a in activities[1::2])  # every check is closed before the next step
    assert activities[-1] == ""  # said done once the final scoring has ended
    last = activities[-2]
    assert last.startswith("checking" if result.training["stopped_early"] else "scoring the final model")
