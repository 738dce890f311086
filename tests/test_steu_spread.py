"""STEU's 'spread' forget term: the forget notes are trained toward the original's own spread over the remaining
classes instead of away from the class; the same sparse edit (rows + head), the encoder untouched."""
from __future__ import annotations

import pytest
import torch

from steu_core.data import load_notes
from steu_core.errors import ConfigError
from steu_core.methods import get_method
from steu_core.methods.base import UnlearnContext
from steu_core.methods.pools import soft_target_term, spread_targets
from steu_core.model import compute_logits, encode, load_classifier


def test_spread_targets_drop_the_class_and_keep_the_other_classes_ratios():
    logits = torch.tensor([[2.0, 0.0, 1.0], [-1.0, 3.0, 0.5]])
    q = spread_targets(logits, 1)
    p = torch.softmax(logits, dim=-1)
    assert torch.all(q[:, 1] == 0)
    assert torch.allclose(q.sum(dim=1), torch.ones(2))
    assert torch.allclose(q[:, 0] / q[:, 2], p[:, 0] / p[:, 2])


def test_soft_target_term_is_smallest_at_the_targets():
    q = torch.tensor([[0.7, 0.0, 0.3]])
    at = soft_target_term(torch.log(q.clamp_min(1e-9)), q)
    off = soft_target_term(torch.tensor([[0.0, 0.0, 0.0]]), q)
    assert float(at) < float(off)


@pytest.mark.parametrize("method", ["steu", "head_only"])
def test_an_unknown_forget_target_is_refused_by_name(method):
    with pytest.raises(ConfigError, match="forget_target"):
        get_method(method)({"forget_target": "erase"})


def _context(tiny_bert, tiny_data) -> UnlearnContext:
    clf = load_classifier(tiny_bert, device="cpu")
    train = load_notes(tiny_data["train"])
    fc = clf.label_id(tiny_data["forget_class"])
    forget, retain = train.where_label(clf.labels[fc]), train.where_label(clf.labels[fc], equal=False)
    return UnlearnContext(original=clf, forget=encode(clf.tokenizer, forget.texts, 48),
                          retain=encode(clf.tokenizer, retain.texts, 48),
                          retain_labels=torch.as_tensor([clf.labels.index(y) for y in retain.labels]),
                          forget_class_id=fc, seed=0, max_length=48)


def _distance_to_spread(ctx: UnlearnContext, result) -> float:
    """Mean cross-entropy of the new model's forget-set probabilities from the original's spread."""
    original = compute_logits(ctx.original, ctx.forget)
    return float(soft_target_term(result.forget_logits, spread_targets(original, ctx.forget_class_id)))


def test_spread_edits_only_rows_and_head_and_lands_nearer_the_spread_than_suppress(tiny_bert, tiny_data):
    ctx = _context(tiny_bert, tiny_data)
    # the same number of steps for both (no early stop), so only the forget term differs
    base = {"k": 16, "min_df": 2, "lr_rows": 0.02, "lr_head": 0.01, "max_steps": 20, "check_every": 1000,
            "batch_size": 4}
    spread = get_method("steu")({**base, "forget_target": "spread"}).run(ctx)
    suppress = get_method("steu")(base).run(ctx)
    assert spread.training["forget_target"] == "spread" and suppress.training["forget_target"] == "suppress"
    before, after = ctx.original.model.state_dict(), spread.model.model.state_dict()
    head = set(ctx.original.head_param_names)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and changed <= head | {ctx.original.embedding_param_name}
    rows = (before[ctx.original.embedding_param_name] != after[ctx.original.embedding_param_name]).any(dim=1)
    assert set(torch.nonzero(rows).flatten().tolist()) <= set(spread.row_ids)
    assert _distance_to_spread(ctx, spread) < _distance_to_spread(ctx, suppress)
    predicted = (spread.forget_logits.argmax(-1) == ctx.forget_class_id).float().mean()
    assert float(predicted) < 0.5  # the class is no longer the usual prediction on its own notes
