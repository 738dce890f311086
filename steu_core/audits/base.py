"""The inputs every audit of an unlearning run reads, and their registry, ``AUDITS``. Audit modules
import this module, never the package ``__init__``."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..registries import refuse_duplicate


@dataclass
class AuditInputs:
    labels: list[str]                   # label names, id order
    forget_class_id: int
    eval_labels: np.ndarray             # true label ids of the evaluation set
    eval_logits_before: torch.Tensor
    eval_logits_after: torch.Tensor
    member_logits_before: torch.Tensor  # the forget set (members)
    member_logits_after: torch.Tensor
    # head inputs (the encoder's output that the head reads), where the model has an exact head adapter:
    # what an attacker who has the model file can compute beyond the predictions
    eval_feats_before: torch.Tensor | None = None
    eval_feats_after: torch.Tensor | None = None
    member_feats_before: torch.Tensor | None = None
    member_feats_after: torch.Tensor | None = None
    original_dir: Path | None = None    # for the parameter diff (the files on disk)
    new_dir: Path | None = None
    allowed: object = None              # methods.base.AllowedChanges
    tokenizer: object = None
    embedding_name: str = ""
    head_names: list[str] = field(default_factory=list)
    pmi_by_id: dict = field(default_factory=dict)
    seed: int = 0

    @property
    def nonmember_mask(self) -> np.ndarray:
        """Held-out notes of the forget class: the evaluation notes whose true label is the forget class."""
        return self.eval_labels == self.forget_class_id


AUDITS: dict[str, Callable[[AuditInputs], dict]] = {}


def registrar(registry: dict):
    """``register(name)`` decorators that add a function to ``registry`` (in import order:
    audits/__init__ imports every audit module); a name registered twice is refused."""
    def register(name: str):
        def deco(fn):
            refuse_duplicate(registry, name, fn)
            registry[name] = fn
            return fn
        return deco
    return register


register_audit = registrar(AUDITS)


def run_audits(inputs: AuditInputs, names: list[str] | None = None) -> dict:
    out: dict = {}
    for name in names or list(AUDITS):
        out.update(AUDITS[name](inputs))
    return out
