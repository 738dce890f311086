"""STEU's settings (checked when built) and the forget-set F1 its stopping rule reads."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..pmi import DEFAULT_BUDGET
from ..stats import f1_from_counts
from .settings import SparseStoppingRule, check_bounds, setting

SUPPRESS, SPREAD = "suppress", "spread"
FORGET_TARGETS = (SUPPRESS, SPREAD)
FORGET_TARGET_HELP = ("what the forget term trains the forget notes toward: 'suppress' (STEU) pushes probability off "
                      "the class, -log(1 - p); 'spread' trains them toward the original's own spread over the "
                      "remaining classes (its probabilities with the class removed), as a model that never saw the "
                      "class would spread them, instead of as far from the class as possible")


@dataclass
class SteuConfig(SparseStoppingRule):
    k: int | None = setting(None, "rows to edit; derived from budget when not given")
    budget: float = setting(DEFAULT_BUDGET, "fraction of all parameters (head included) that may change")
    min_df: int | None = setting(None, "a token must occur in at least this many forget notes (default: 3 % of them, "
                                       "between 2 and 5)", at_least=1)
    alpha: float = setting(1.0, "PMI smoothing", above=0)
    lr_rows: float = setting(5e-3, "learning rate of the embedding rows", above=0)
    lr_head: float = setting(2e-3, "learning rate of the classification head", above=0)
    forget_weight: float = setting(1.0, "lambda: weight of the forget term", at_least=0.0)
    batch_size: int = setting(16, "forget examples per step (and as many retain)", at_least=1)
    retain_pool: int = setting(256, "retain notes sampled (stratified) for the retain term", at_least=1)
    train_head: bool = setting(True, "train the classification head (STEU: yes)")
    train_rows: bool = setting(True, "train the selected embedding rows (STEU: yes)")
    forget_target: str = setting(SUPPRESS, FORGET_TARGET_HELP, choices=FORGET_TARGETS)

    def __post_init__(self):
        # k and the budget say how to fix them in the command's own words; every other bound is on its field
        if self.k is not None and self.k < 1:
            raise ConfigError(f"k must be at least 1 (got {self.k}).", hint="Give --k 1 or more, or use --budget.")
        if not (0 < self.budget < 1):
            raise ConfigError(f"budget {self.budget} is not a fraction between 0 and 1 (exclusive).",
                              hint="Give e.g. --budget 0.0019 for the paper's 0.19 % of all parameters.")
        check_bounds(self)


def f1_on_forget(preds: torch.Tensor, forget_class: int) -> float:
    """F1 of the forget class on the forget set (all of whose true labels are the forget class)."""
    return f1_from_hits(int((preds == forget_class).sum()), len(preds))


def f1_from_hits(tp: int, n: int) -> float:
    """Forget F1 when ``tp`` of the ``n`` forget-set notes are predicted as the class: no false
    positives, ``n - tp`` false negatives (:func:`steu_core.stats.f1_from_counts`, = 2 tp / (tp + n))."""
    return f1_from_counts(tp, 0, n - tp)


def allowed_hits(n: int, target: float) -> int:
    """The most forget-set notes that may still be predicted as the class with forget F1 <= target."""
    return max(tp for tp in range(n + 1) if f1_from_hits(tp, n) <= target)
