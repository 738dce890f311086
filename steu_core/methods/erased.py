"""erased: the model an erasure retrained without the forget notes, audited like any method's result.

Not a method an officer picks: ``python -m steu_core erase`` trains the model once for a batch of requests
(steu_core.deletion.erase) and then runs each request's audits through the usual pipeline with this
"method", which loads that model. Every parameter was retrained, so the parameter diff allows everything.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..reference import ERASED as ERASED_METHOD
from ..errors import ConfigError
from ..model import check_model_dir, load_classifier
from .base import AllowedChanges, MethodResult, UnlearnContext, config_from_dict, register
from .retrain_oracle import check_same_start
from .settings import setting


@dataclass
class ErasedConfig:
    model: str = setting("", "directory of the model the erasure trained (python -m steu_core erase)")


@register(ERASED_METHOD)
class Erased:
    """The erasure's retrained model (trained without the forget notes of one or more requests)."""

    Config = ErasedConfig
    selectable = False  # made by `erase`, not chosen on the Run page or in a comparison
    description = "Erasure: the model retrained from the original's start without the requests' forget notes."
    label = "erasure (retrained without the notes)"
    edits = "everything"
    how = ("A new model was trained from the pretrained checkpoint the original was fine-tuned from, with the "
           "original's training settings, on the training notes minus the forget notes of every request in the "
           "erasure batch. Its training manifest lists the hash of every note it was trained on.")
    limitations = (
        ("What this changes", "Every parameter is retrained; the parameter diff only shows that the whole model "
                              "changed. Its training manifest, not the diff, shows which notes it learned from."),
        ("What it does not do", "It does not delete the notes from the training files, backups or other copies "
                                "of the model, and it keeps what the forgotten class shares with the notes that "
                                "stay in training."),
    )

    def __init__(self, settings: dict | None = None, use_cache: bool = True):
        self.cfg = config_from_dict(self.Config, settings)
        if not self.cfg.model:
            raise ConfigError("the erased method needs the erased model's directory (setting 'model').",
                              hint="It is run by `python -m steu_core erase`, which sets it.")
        self.path = Path(self.cfg.model)
        check_model_dir(self.path)

    def run(self, ctx: UnlearnContext) -> MethodResult:
        t0 = time.perf_counter()
        clf = load_classifier(self.path, device=ctx.original.device, labels=ctx.original.labels)
        check_same_start(ctx.original, clf)
        for p in clf.model.parameters():
            p.requires_grad_(False)
        log = {"steps": 0, "max_steps": 0, "stopped_early": False, "history": [], "feature_cache": False,
               "erased_model": str(self.path)}
        return MethodResult(model=clf, allowed=AllowedChanges(everything=True), encoder_changed=True,
                            training=log, settings=asdict(self.cfg),
                            seconds={"select": 0.0, "unlearn": time.perf_counter() - t0},
                            notes=[f"the model retrained without the forget notes, loaded from {self.path}"])
