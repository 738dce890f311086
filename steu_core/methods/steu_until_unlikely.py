"""steu_until_unlikely: STEU trained until the forget notes find the class no likelier than other notes did.

Same rows, head, objective and feature cache as ``steu``; only the stopping rule is stricter. STEU
stops as soon as forget F1 on the forget set is at its target: the class has just lost the vote, by a
hair, and a few fine-tuning steps win it back. Here training goes on until, in addition, the forget
notes' mean probability of the class is at or below the mean the original gave the retain pool's notes
of other classes - the level of a model for which these notes are simply not of the class. The
training log records both probabilities.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from .base import register
from .steu import Steu, SteuConfig


@dataclass
class UntilUnlikelyConfig(SteuConfig):
    max_steps: int = field(default=120, metadata={"help": "upper bound on optimisation steps (the stricter rule "
                                                          "needs more than STEU's 60)"})
    until_unlikely: bool = field(default=True, metadata={"help": "fixed: the stricter stopping rule is this method"})

    def __post_init__(self):
        super().__post_init__()
        if not self.until_unlikely:
            raise ConfigError("steu_until_unlikely always uses its stricter stopping rule; 'until_unlikely' cannot "
                              "be switched off here.", hint="Use --method steu for STEU's own stopping rule.")


@register("steu_until_unlikely")
class SteuUntilUnlikely(Steu):
    """STEU with a stricter stopping rule: the class as unlikely for the forget notes as for other notes."""

    Config = UntilUnlikelyConfig
    description = ("STEU trained until the forget notes' mean probability of the class is no higher than the "
                   "original gave notes of other classes.")
    label = "STEU until unlikely"
    edits = "rows+head"
    how = ("As STEU: the tokens most specific to the forgotten class are chosen by pointwise mutual information "
           "(PMI), and only their rows of the input token-embedding matrix and the classification head are trained. "
           "Training stops only once the forgotten notes find the class no likelier, on average, than the original "
           "model found it for notes of other classes. Every encoder parameter stays frozen.")
    limitations = Steu.limitations
