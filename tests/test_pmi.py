"""PMI scoring and selection, and k from a parameter budget."""
from __future__ import annotations

import math

import numpy as np
import pytest

from steu_core.errors import ConfigError
from steu_core.pmi import coverage, document_frequency, k_from_budget, pmi_scores, select_tokens


class _Tok:
    all_special_ids = [0]

    def __len__(self):
        return 10

    def convert_ids_to_tokens(self, ids):
        return [f"t{i}" for i in ids]


def test_document_frequency_counts_each_document_once():
    df, n = document_frequency([[1, 1, 2], [2, 3], []], 5)
    assert n == 3 and df.tolist() == [0, 1, 2, 1, 0]


def test_pmi_matches_the_formula():
    s = pmi_scores(np.array([3]), 4, np.array([5]), 10, alpha=1.0)
    assert s[0] == pytest.approx(math.log(4 / 6) - math.log(6 / 12))


def test_selection_ranks_forget_specific_tokens_and_skips_specials():
    forget = [[0, 5, 6, 1], [0, 5, 6], [0, 5, 2]]
    retain = [[0, 1, 2], [0, 1, 2, 6], [0, 2, 3]]
    top = select_tokens(forget, retain, _Tok(), k=2, min_df=2)
    assert [t.id for t in top] == [5, 6]
    assert top[0].df_forget == 3 and top[0].df_total == 3 and top[1].df_total == 3
    assert all(t.id != 0 for t in select_tokens(forget, retain, _Tok(), k=5, min_df=1))
    assert coverage(forget, [5]).tolist() == [True, True, True]


def test_k_from_budget_pays_for_the_head_first():
    # 0.19 % of 22.7 M parameters, head 1,925, rows of 384
    assert k_from_budget(22_700_000, 1_925, 384, 0.0019) == math.floor((0.0019 * 22_700_000 - 1_925) / 384)
    for bad in (0, -0.1, 1, 1.5):
        with pytest.raises(ConfigError, match="not a fraction"):
            k_from_budget(1000, 10, 8, bad)
    with pytest.raises(ConfigError, match="does not even cover"):
        k_from_budget(1000, 10, 8, 0.001)


def test_k_larger_than_vocabulary_is_refused():
    with pytest.raises(ConfigError, match="larger than the vocabulary"):
        select_tokens([[1]], [[2]], _Tok(), k=11)
