"""steu_rows_first: STEU's PMI-selected rows train alone first; the head joins only if they cannot forget.

Same token selection, objective, stopping rule and feature cache as ``steu``; only the schedule of
the trainable set differs. For ``head_after`` steps only the k rows move (head frozen); when the
stopping rule holds within them the run ends with the head bit-identical (the parameter-diff audit
shows it); otherwise the head joins for the remaining steps. results.json's training log records the
step the head joined (``head_trained_from_step``, null when it never did).

Why: against the full-model relearning attacker (``relearn_full``) STEU gave way in about as few
steps as retraining the head alone, while the rows-alone ablation held like the retrain oracle
(bench/sparse_candidates.py, bench/robustness.py). Suppressing the class through the head is a short
path that a few fine-tuning steps walk back; pushing the class's own input rows away from it is not.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from .base import register
from .steu import Steu, SteuConfig


@dataclass
class RowsFirstConfig(SteuConfig):
    lr_rows: float = field(default=2e-2, metadata={"help": "learning rate of the embedding rows (STEU's x4: "
                                                           "the rows alone must move far enough)"})
    head_after: int = field(default=30, metadata={"help": "steps the rows train alone; the head joins after them "
                                                          "only if the stopping rule has not held"})

    def __post_init__(self):
        super().__post_init__()
        if not (self.train_rows and self.train_head):
            raise ConfigError("steu_rows_first trains the rows first and the head only if needed; 'train_rows' and "
                              "'train_head' cannot be changed here.",
                              hint="Use --method steu_rows_only (rows alone) or --method head_only (head alone).")
        if self.head_after < 1:
            raise ConfigError(f"steu_rows_first: head_after must be at least 1 (got {self.head_after}).",
                              hint="head_after 0 is STEU itself: use --method steu.")


@register("steu_rows_first")
class SteuRowsFirst(Steu):
    """The k PMI rows alone first; the head only if they cannot reach the stopping rule."""

    Config = RowsFirstConfig
    description = ("STEU's k PMI-selected embedding rows train alone first; the head joins only if the rows "
                   "cannot forget within head_after steps.")
    label = "STEU, rows first"
    edits = "rows+head"  # the head only if needed; the training log says whether it moved
    how = ("The tokens most specific to the forgotten class are chosen by pointwise mutual information (PMI) as in "
           "STEU. Their rows of the input token-embedding matrix are trained alone first, with STEU's objective and "
           "stopping rule; the classification head joins only if the rows cannot stop the class being predicted "
           "within a set number of steps. Every encoder parameter stays frozen.")
    limitations = (
        ("What this method changes",
         "It edits a small number of rows of the input token-embedding matrix and, only where they were not enough, "
         "the classification head; the training log records whether the head moved. The encoder is not touched, and "
         "this report shows that it is bit-identical to the original."),
        ("What that means",
         "Forgetting comes from the class's own words no longer reaching the encoder as they did, not from a head "
         "that merely stops naming the class. It is still not proof that the class is gone: the encoder's weights "
         "are unchanged, and a model fine-tuned on enough notes of the class will learn it again."),
    )
