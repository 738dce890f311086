"""head_only: only the classification head is trained, with STEU's objective; no embedding row moves.

The baseline STEU has to beat to justify editing embeddings at all. With the encoder frozen and no
row edited, every head input is exactly the cached feature of the original model, so this runs on
the feature cache alone (milliseconds per step). It usually reaches forget F1 0 as fast as STEU,
or faster: suppression at the output is easy. What it cannot do is change the representation:
the features still carry the class (see the probe, relearning and reference-MIA audits of
``python -m steu_core compare``).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields

from .base import AllowedChanges, MethodResult, UnlearnContext, config_from_dict, register
from .settings import SparseStoppingRule, check_bounds, setting
from .steu import SteuConfig, retain_pool_notes, run_sparse_unlearning
from .steu_settings import FORGET_TARGET_HELP, FORGET_TARGETS, SUPPRESS


@dataclass
class HeadOnlyConfig(SparseStoppingRule):
    lr_head: float = setting(2e-3, "learning rate of the classification head", above=0)
    forget_weight: float = setting(1.0, "lambda: weight of the forget term", at_least=0.0)
    batch_size: int = setting(16, "forget examples per step (and as many retain)", at_least=1)
    retain_pool: int = setting(256, "retain notes sampled (stratified) for the retain term", at_least=1)
    forget_target: str = setting(SUPPRESS, FORGET_TARGET_HELP, choices=FORGET_TARGETS)

    def __post_init__(self):
        check_bounds(self)

    def as_steu(self) -> SteuConfig:
        return SteuConfig(**{f.name: getattr(self, f.name) for f in fields(self)}, k=1,
                          train_head=True, train_rows=False)


@register("head_only")
class HeadOnly:
    """The classification head alone, STEU's objective (baseline)."""

    Config = HeadOnlyConfig
    description = "Baseline: only the classification head is trained (STEU's objective); no embedding row changes."
    label = "head only"
    edits = "head"
    how = ("A baseline: only the classification head is trained, with STEU's objective and stopping rule. No row "
           "of the input token-embedding matrix changes and every encoder parameter stays frozen, so the features "
           "the head reads are exactly those of the original model.")
    limitations = (
        ("What this baseline changes",
         "It edits only the classification head. The token-embedding matrix and the encoder are not touched, and "
         "this report shows that the encoder is bit-identical to the original."),
        ("What that means",
         "The removal is suppression at the output: the head stops predicting the class. The features the model "
         "computes for every note are exactly as before and still carry the class, so a new classifier trained on "
         "them, or retraining the head, can recover it. The class also keeps its output slot in the head."),
    )

    def __init__(self, settings: dict | None = None, use_cache: bool = True):
        self.cfg = config_from_dict(self.Config, settings)
        self.use_cache = use_cache

    def original_notes(self, ctx: UnlearnContext) -> list:
        """The notes whose original head inputs :meth:`run` asks ``ctx.original_features`` for (STEU's retain pool)."""
        return [retain_pool_notes(ctx, self.cfg.as_steu())] if self.use_cache else []

    def run(self, ctx: UnlearnContext) -> MethodResult:
        t0 = time.perf_counter()
        new, log = run_sparse_unlearning(ctx, self.cfg.as_steu(), [], use_cache=self.use_cache)
        return MethodResult(model=new, allowed=AllowedChanges(embedding_rows=None, head=True), selected_tokens=[],
                            encoder_changed=False, training=log, settings=asdict(self.cfg),
                            seconds={"select": 0.0, "unlearn": time.perf_counter() - t0})
