"""finetune_retain: the full model fine-tuned on the retain set only, for a few steps (baseline).

Forgetting by continued training without the forget class ("catastrophic forgetting"): the forget
class's output only ever receives negative gradient. Every parameter is trained with Adam on
retain cross-entropy for at most ``max_steps`` steps, stopping early once forget F1 on the forget
set reaches ``forget_f1_target``. All parameters may change; the encoder changes.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from .base import AllowedChanges, MethodResult, UnlearnContext, config_from_dict, register
from .full_model import train_full_model
from .settings import StoppingRule, setting


@dataclass
class FinetuneRetainConfig(StoppingRule):
    lr: float = setting(5e-5, "Adam learning rate of all parameters", above=0)
    batch_size: int = setting(16, "retain notes per step", at_least=1)
    max_grad_norm: float = setting(1.0, "gradient clipping norm", above=0)


@register("finetune_retain")
class FinetuneRetain:
    """Full model, a few steps of retain-set fine-tuning (baseline)."""

    Config = FinetuneRetainConfig
    description = "Baseline: every parameter fine-tuned on the retain set only, for a bounded number of steps."
    label = "retain fine-tuning"
    edits = "everything"
    how = ("A baseline: every parameter of the model (token embeddings, encoder and classification head) is "
           "fine-tuned on the retain notes only, for a bounded number of steps; the forgotten class never appears "
           "as a target. It stops once the forgotten class's F1 on the forget set reaches its target. Nothing is "
           "frozen.")
    limitations = (
        ("What this baseline changes",
         "It changes parameters throughout the model, the encoder included. The parameter-diff verification "
         "therefore only shows that the whole model changed; it cannot show that any part was left as it was."),
        ("What that means",
         "Forgetting by continued training without the class is gradual and may stop short of its target within "
         "the step limit. It is not retraining: the model starts from weights trained on the forget set, so "
         "information about the class may remain, and a small amount of fine-tuning may bring the class back. The "
         "class also keeps its output slot in the head."),
    )

    def __init__(self, settings: dict | None = None, use_cache: bool = True):
        self.cfg = config_from_dict(self.Config, settings)

    def run(self, ctx: UnlearnContext) -> MethodResult:
        t0 = time.perf_counter()
        new, log = train_full_model(ctx, ascent=False, forget_weight=0.0, retain_weight=1.0, **asdict(self.cfg))
        return MethodResult(model=new, allowed=AllowedChanges(everything=True), encoder_changed=True,
                            training=log, settings=asdict(self.cfg),
                            seconds={"select": 0.0, "unlearn": time.perf_counter() - t0})
