"""steu_rows_first: the rows alone first, the head only when they cannot meet the stopping rule."""
from __future__ import annotations

import pytest
import torch

from steu_core.data import load_notes
from steu_core.errors import ConfigError
from steu_core.methods import get_method
from steu_core.methods.base import UnlearnContext
from steu_core.model import encode, load_classifier

ROWS = {"lr_rows": 0.1, "min_df": 2, "k": 16, "check_every": 1, "min_steps": 1}


@pytest.fixture(scope="module")
def context(tiny_bert, tiny_data):
    clf = load_classifier(tiny_bert, device="cpu")
    train = load_notes(tiny_data["train"])
    fc = clf.label_id(tiny_data["forget_class"])
    forget, retain = train.where_label(clf.labels[fc]), train.where_label(clf.labels[fc], equal=False)
    return UnlearnContext(original=clf, forget=encode(clf.tokenizer, forget.texts, 48),
                          retain=encode(clf.tokenizer, retain.texts, 48),
                          retain_labels=torch.as_tensor([clf.labels.index(y) for y in retain.labels]),
                          forget_class_id=fc, seed=0, max_length=48)


def _changed(a, b) -> set[str]:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return {k for k in sa if not torch.equal(sa[k], sb[k])}


def test_the_rows_alone_forget_and_the_head_stays_bit_identical(context):
    result = get_method("steu_rows_first")({**ROWS, "max_steps": 40, "head_after": 40}).run(context)
    log = result.training
    assert log["stopped_early"] and log["forget_f1_on_forget_set"]["end"] <= 0.01, {k: log[k] for k in ("steps", "forget_f1_on_forget_set", "retain_loss_on_pool")}
    assert log["head_trained_from_step"] is None
    assert _changed(context.original, result.model) == {context.original.embedding_param_name}


def test_the_head_joins_only_after_head_after_steps_when_the_rows_fall_short(context):
    # a target the rows cannot meet in two steps at this learning rate: the head must join at step 3
    settings = {**ROWS, "lr_rows": 1e-4, "max_steps": 4, "head_after": 2, "forget_f1_target": 0.0, "min_steps": 4}
    result = get_method("steu_rows_first")(settings).run(context)
    assert result.training["head_trained_from_step"] == 3
    head = set(context.original.head_param_names)
    assert _changed(context.original, result.model) & head, "the head trained in steps 3 and 4"
    assert result.allowed.head and result.allowed.embedding_rows == result.row_ids


def test_steu_trains_the_head_from_the_first_step(context):
    result = get_method("steu")({**ROWS, "max_steps": 3, "min_steps": 4}).run(context)
    assert result.training["head_trained_from_step"] == 1


@pytest.mark.parametrize("settings, message", [({"head_after": 0}, "is STEU itself"),
                                               ({"train_head": False}, "cannot be changed"),
                                               ({"head_after": -1}, "at least 0")])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        get_method("steu_rows_first")(settings)
