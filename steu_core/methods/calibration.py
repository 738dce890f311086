"""The calibrated stop of the sparse edits (``stop_at='calibrated'``): keep training past "forgotten" until the
forget notes no longer look more familiar to the model than held-out notes of the same class.

An attacker who sees predictions tells a training note from an unseen one by its loss. A retrain never saw
either, so to it they look alike; an edit that stops as soon as the class is no longer predicted leaves the
forget notes more confident than unseen notes of the class (the original's gap), and one that trains on much
longer pushes them further than unseen notes (over-forgetting, SCRUB+R's point). The stop sits at the
crossing: the AUC of the forget notes' log-probability of the class against that of the calibration notes
falls to 0.5 or below. The calibration notes are split off the evaluation notes before the run
(:func:`steu_core.runs.prepare.split_calibration`) and no audit scores them.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import distributed
from ..errors import ConfigError
from ..pmi import coverage
from ..stats import roc_auc
from .base import UnlearnContext
from .pools import TrainingPool, pool_logits
from .settings import CALIBRATED

# members' log p(class) no higher than the calibration notes': the loss attack's AUC at chance or below
CROSSING_AUC = 0.5


def calibration_pool(ctx: UnlearnContext, stop_at: str, train_rows: bool, row_ids: list[int]) -> TrainingPool | None:
    """The held-out notes a calibrated stop scores at each check (None: the run does not calibrate)."""
    if stop_at != CALIBRATED:
        return None
    enc = ctx.calibration
    if enc is None or len(enc) < 2:
        raise ConfigError("stop_at 'calibrated' needs at least 2 held-out notes of the forget class to calibrate on, "
                          "and this run was given none.",
                          hint="Start it as a run (python -m steu_core run, the dashboard), which splits them off "
                               "the evaluation notes, or use stop_at 'forgotten'.")
    labels = torch.full((len(enc),), ctx.forget_class_id, dtype=torch.long)
    touched = coverage(enc.ids, row_ids) if train_rows else np.zeros(len(enc), bool)
    return TrainingPool(enc, labels, touched, None)


def cache_calibration_inputs(ctx: UnlearnContext, pool: TrainingPool) -> None:
    """The original's head inputs on the calibration notes (exact for every note without an edited row)."""
    compute = lambda: distributed.compute_features(ctx.original, pool.enc)  # noqa: E731
    pool.feats = ctx.original_features(pool.enc, compute) if ctx.original_features else compute()


def class_log_probs(logits: torch.Tensor, forget_class: int) -> np.ndarray:
    """log p(class) per note: minus the loss attack's loss."""
    return torch.log_softmax(logits.float(), dim=-1)[:, forget_class].cpu().numpy()


def auc_against_calibration(clf, pool: TrainingPool, forget_logits: torch.Tensor, forget_class: int, override,
                            use_cache: bool) -> float:
    """AUC of the forget notes' log p(class) against the calibration notes' under the model as edited so far
    (> 0.5: the forget notes still look more familiar than unseen notes of their class)."""
    with torch.no_grad():
        held_out = distributed.map_rows(len(pool), lambda b: pool_logits(clf, pool, b, override, use_cache),
                                        device=clf.device)
    return roc_auc(class_log_probs(forget_logits, forget_class), class_log_probs(held_out, forget_class))
