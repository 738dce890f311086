"""steu_rows_only: STEU's k PMI-selected embedding rows alone; the classification head stays frozen.

An ablation of STEU. Same token selection, objective, stopping rule and feature cache as ``steu``;
only the trainable set differs: the rows move, the head is bit-identical afterwards (the
parameter-diff audit checks it). It answers "how much of STEU's forgetting do the rows do by
themselves?" - on a fine-tuned classifier the honest answer is often "part of it": the head is a
much shorter path to the output than a handful of input rows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import ConfigError
from .base import MethodResult, UnlearnContext, register
from .steu import Steu, SteuConfig


@dataclass
class RowsOnlyConfig(SteuConfig):
    train_head: bool = field(default=False, metadata={"help": "fixed: the head stays frozen in this method"})
    train_rows: bool = field(default=True, metadata={"help": "fixed: the selected rows are trained"})

    def __post_init__(self):
        super().__post_init__()
        if self.train_head or not self.train_rows:
            raise ConfigError("steu_rows_only trains the selected rows and keeps the head frozen; "
                              "'train_head' and 'train_rows' cannot be changed here.",
                              hint="Use --method steu (rows and head) or --method head_only (head alone).")


@register("steu_rows_only")
class SteuRowsOnly(Steu):
    """The k PMI rows alone, head frozen (ablation)."""

    Config = RowsOnlyConfig
    description = "Ablation of STEU: only the k PMI-selected embedding rows are trained; the head is frozen."
    label = "rows-only ablation"
    edits = "rows"
    how = ("An ablation of STEU: the same k rows of the input token-embedding matrix, chosen by pointwise mutual "
           "information (PMI) on the forget set, are trained with STEU's objective and stopping rule. The "
           "classification head stays frozen, and so does every encoder parameter.")
    limitations = (
        ("What this ablation changes",
         "It edits only k rows of the input token-embedding matrix. The classification head and the encoder are not "
         "touched, and this report shows that they are bit-identical to the original."),
        ("What that means",
         "It shows how much of STEU's forgetting the rows do by themselves; on a fine-tuned classifier they often do "
         "only part of it, as the head is a much shorter path to the output. Any forgetting is behavioural "
         "suppression: the encoder's weights are unchanged, so a new classifier trained on the model's features, or "
         "a small amount of fine-tuning, may recover the class, which also keeps its output slot in the head."),
    )

    def run(self, ctx: UnlearnContext) -> MethodResult:
        result = super().run(ctx)
        settings = asdict(self.cfg)
        settings.pop("lr_head", None)  # not used: the head is frozen
        result.settings = settings
        return result
