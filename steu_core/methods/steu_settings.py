"""STEU's settings (checked when built) and the forget-set F1 its stopping rule reads."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..errors import ConfigError
from ..pmi import DEFAULT_BUDGET
from ..stats import f1_from_counts


@dataclass
class SteuConfig:
    k: int | None = field(default=None, metadata={"help": "rows to edit; derived from budget when not given"})
    budget: float = field(default=DEFAULT_BUDGET, metadata={"help": "fraction of all parameters (head included) that may change"})
    min_df: int | None = field(default=None, metadata={"help": "a token must occur in at least this many forget notes (default: 3 % of them, between 2 and 5)"})
    alpha: float = field(default=1.0, metadata={"help": "PMI smoothing"})
    lr_rows: float = field(default=5e-3, metadata={"help": "learning rate of the embedding rows"})
    lr_head: float = field(default=2e-3, metadata={"help": "learning rate of the classification head"})
    forget_weight: float = field(default=1.0, metadata={"help": "lambda: weight of the forget term"})
    batch_size: int = field(default=16, metadata={"help": "forget examples per step (and as many retain)"})
    max_steps: int = field(default=60, metadata={"help": "upper bound on optimisation steps"})
    min_steps: int = field(default=5, metadata={"help": "steps before early stopping may trigger"})
    check_every: int = field(default=5, metadata={"help": "steps between full checks of the stopping rule"})
    forget_f1_target: float = field(default=0.01, metadata={"help": "stop once forget F1 on the forget set is at or below this"})
    retain_tolerance: float = field(default=0.05, metadata={"help": "retain loss may rise at most this much over its start"})
    retain_pool: int = field(default=256, metadata={"help": "retain notes sampled (stratified) for the retain term"})
    train_head: bool = field(default=True, metadata={"help": "train the classification head (STEU: yes)"})
    train_rows: bool = field(default=True, metadata={"help": "train the selected embedding rows (STEU: yes)"})

    def __post_init__(self):
        if self.k is not None and self.k < 1:
            raise ConfigError(f"k must be at least 1 (got {self.k}).", hint="Give --k 1 or more, or use --budget.")
        if not (0 < self.budget < 1):
            raise ConfigError(f"budget {self.budget} is not a fraction between 0 and 1 (exclusive).",
                              hint="Give e.g. --budget 0.0019 for the paper's 0.19 % of all parameters.")
        ranges = {"min_df": (self.min_df, 1), "batch_size": (self.batch_size, 1), "max_steps": (self.max_steps, 1),
                  "min_steps": (self.min_steps, 0), "check_every": (self.check_every, 1),
                  "retain_pool": (self.retain_pool, 1)}
        for name, (value, lo) in ranges.items():
            if value is not None and value < lo:
                raise ConfigError(f"setting '{name}' must be at least {lo} (got {value}).")
        for name in ("alpha", "lr_rows", "lr_head"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"setting '{name}' must be a positive number (got {value}).")
        if not (math.isfinite(self.forget_weight) and self.forget_weight >= 0):
            raise ConfigError(f"setting 'forget_weight' must be zero or more (got {self.forget_weight}).")
        if not (0 <= self.forget_f1_target <= 1) or not (self.retain_tolerance >= 0):
            raise ConfigError("settings 'forget_f1_target' (0 to 1) and 'retain_tolerance' (0 or more) are out of range.")


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
