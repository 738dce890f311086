"""grad_ascent: full-model gradient ascent on the forget set with a retain term (baseline).

Every parameter is trained ("gradient difference": cross-entropy descended on retain notes and
ascended on forget notes), for at most ``max_steps`` steps, stopping once forget F1 on the forget
set reaches ``forget_f1_target``. Gradient ascent on cross-entropy is unbounded, so the step bound
and gradient clipping are what keep it from wrecking the model; the retain F1 in the comparison
shows what it cost. All parameters may change (the parameter diff allows everything) and the
encoder changes, so no feature cache applies.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from .base import AllowedChanges, MethodResult, UnlearnContext, config_from_dict, register
from .full_model import train_full_model
from .settings import StoppingRule, setting


@dataclass
class GradAscentConfig(StoppingRule):
    lr: float = setting(2e-5, "Adam learning rate of all parameters", above=0)
    forget_weight: float = setting(1.0, "weight of the ascent term (forget CE)", at_least=0.0)
    retain_weight: float = setting(1.0, "weight of the retain CE term", at_least=0.0)
    batch_size: int = setting(16, "forget notes per step (and as many retain notes)", at_least=1)
    max_grad_norm: float = setting(1.0, "gradient clipping norm", above=0)


@register("grad_ascent")
class GradAscent:
    """Full-model gradient ascent on the forget set + retain CE (baseline)."""

    Config = GradAscentConfig
    description = "Baseline: every parameter, gradient ascent on the forget set with a retain term, bounded steps."
    label = "gradient ascent"
    edits = "everything"
    how = ("A baseline: every parameter of the model (token embeddings, encoder and classification head) is "
           "trained for a bounded number of steps, ascending the cross-entropy on forget-set notes while descending "
           "it on retain notes (gradient difference), with gradient clipping. It stops once the forgotten class's "
           "F1 on the forget set reaches its target. Nothing is frozen.")
    limitations = (
        ("What this baseline changes",
         "It changes parameters throughout the model, the encoder included. The parameter-diff verification "
         "therefore only shows that the whole model changed; it cannot show that any part was left as it was."),
        ("What that means",
         "Gradient ascent has no natural stopping point: only the step limit and gradient clipping keep it from "
         "damaging the model, and the retain F1 shows what it cost. That the model stops predicting the class does "
         "not prove that information about the class is gone from it; a small amount of fine-tuning may bring the "
         "class back. The class also keeps its output slot in the head."),
    )

    def __init__(self, settings: dict | None = None, use_cache: bool = True):
        self.cfg = config_from_dict(self.Config, settings)

    def run(self, ctx: UnlearnContext) -> MethodResult:
        t0 = time.perf_counter()
        new, log = train_full_model(ctx, ascent=True, **asdict(self.cfg))
        return MethodResult(model=new, allowed=AllowedChanges(everything=True), encoder_changed=True,
                            training=log, settings=asdict(self.cfg),
                            seconds={"select": 0.0, "unlearn": time.perf_counter() - t0})
