"""What every deep audit shares: the inputs (:class:`DeepInputs`, one :class:`ModelOutputs` per
model), the ``DEEP_AUDITS`` registry and its decorator, and small helpers. Deep audit modules import
this module (and :mod:`steu_core.stats`), never each other or the package ``__init__``.

Deep audits are costly (they need every model's features, reference models, fine-tuning trials),
so they are NOT part of the default audits of an unlearning run (``audits.AUDITS``): ``python -m
steu_core compare`` runs them over several models at once. Each takes :class:`DeepInputs` and
returns ``{audit name: {...}}``, with a ``per_model`` dict keyed by model name ("original", the
method names) and every figure's bootstrap 95 % interval.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import Cancelled
from ..model import Classifier, Encoded
from ..stats import N_BOOTSTRAP
from .base import registrar

ORIGINAL = "original"
ORACLE = "retrain_oracle"


@dataclass
class ModelOutputs:
    """One model's view of the audit data. ``*_feats`` are head inputs (None without a head adapter)."""

    name: str
    clf: Classifier
    forget_logits: torch.Tensor
    eval_logits: torch.Tensor
    retain_logits: torch.Tensor
    forget_feats: torch.Tensor | None = None
    eval_feats: torch.Tensor | None = None
    retain_feats: torch.Tensor | None = None
    exact_cache: bool = False       # outputs came (partly) from the original's cached features
    recomputed: int = 0             # examples that needed a new encoder pass


@dataclass
class DeepInputs:
    labels: list[str]
    forget_class_id: int
    forget: Encoded                 # the forget set (members of the original's training data)
    eval: Encoded                   # held-out evaluation notes
    eval_labels: np.ndarray
    retain: Encoded                 # a stratified sample of the retain training notes
    retain_labels: np.ndarray
    models: dict[str, ModelOutputs]  # "original", then one per method
    seed: int = 0
    n_boot: int = N_BOOTSTRAP
    settings: dict = field(default_factory=dict)  # {audit name: {setting: value}}
    progress: Callable[[dict], None] | None = None
    cancel: Callable[[], bool] | None = None

    @property
    def nonmember_mask(self) -> np.ndarray:
        """Held-out notes of the forget class (the non-members of the membership audits)."""
        return self.eval_labels == self.forget_class_id

    def report(self, **info) -> None:
        if self.progress:
            self.progress(info)

    def cancelled(self) -> bool:
        return bool(self.cancel and self.cancel())

    def stop_if_cancelled(self) -> None:
        if self.cancelled():
            raise Cancelled("the comparison was cancelled")

    def setting(self, audit: str, name: str, default):
        return (self.settings.get(audit) or {}).get(name, default)


DEEP_AUDITS: dict[str, Callable[[DeepInputs], dict]] = {}


register_deep_audit = registrar(DEEP_AUDITS)


def run_deep_audits(inputs: DeepInputs, names: Sequence[str] | None = None) -> dict:
    out: dict = {}
    for name in names or list(DEEP_AUDITS):
        inputs.stop_if_cancelled()
        inputs.report(stage=f"audit:{name}")
        out.update(DEEP_AUDITS[name](inputs))
    return out


def true_label_logprob(logits: torch.Tensor, label: int) -> np.ndarray:
    """log p(label | x) of every row of ``logits``."""
    return torch.log_softmax(logits.float(), dim=-1)[:, label].numpy()
