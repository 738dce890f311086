"""What each step of a run (:mod:`.pipeline`) makes, as typed, immutable values.

A step takes the values it reads as arguments and returns what it made; nothing is filled in later, so a
value that exists is complete. results.json is assembled from these values (:mod:`.assemble`):

``Control`` (the request, where it writes, its processes) -> ``LoadedModel`` -> ``RequestData``
(:mod:`.prepare`) -> ``Tokens`` -> ``OriginalScores`` -> ``MethodRun`` -> ``NewScores``, gathered in
``Computed`` (what every process computes) -> ``Audited`` -> ``SeedRuns`` -> results.json.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..distributed import DataParallel
from ..methods import MethodResult, UnlearnContext
from ..model import Classifier, Encoded
from ..request import UnlearnRequest
from .prepare import RequestData
from .staging import EXPLICIT_PAUSE_POINTS, Staging, test_pause


@dataclass(frozen=True)
class Control:
    """The run itself: its request, its staging directory, its processes, and who watches it."""

    req: UnlearnRequest
    stage: Staging
    dp: DataParallel
    progress: Callable[[dict], None] | None
    cancel: Callable[[], bool] | None
    t_start: float = field(default_factory=time.perf_counter)

    @property
    def run_id(self) -> str:
        return self.stage.out.name

    def report(self, info: dict) -> None:
        if not self.dp.is_main:
            return
        self.stage.update(**info)
        if self.progress:
            self.progress(dict(self.stage.state))
        if info.get("stage") not in EXPLICIT_PAUSE_POINTS:
            test_pause(self.stage, info.get("stage"))

    def is_cancelled(self) -> bool:
        return self.dp.any(self.dp.is_main and (self.stage.cancelled() or bool(self.cancel and self.cancel())))


@dataclass(frozen=True)
class LoadedModel:
    """``load_model``: the original model (only ever read) and its directory's hashes, taken before any work."""

    clf: Classifier
    original_hash: dict  # steu_core.model.hash_directory: {"sha256": ..., "files": {...}}

    @property
    def path(self) -> Path:
        return self.clf.path

    @property
    def sha256(self) -> str:
        return self.original_hash["sha256"]


@dataclass(frozen=True)
class Tokens:
    """``tokenize``: the token ids of the three note sets (and of the calibration notes), and the evaluation
    notes' label ids."""

    forget: Encoded
    retain: Encoded
    evaluation: Encoded
    eval_labels: np.ndarray
    calibration: Encoded | None = None  # held-out notes a calibrated stop reads (RequestData.calibration)


@dataclass(frozen=True)
class Scores:
    """Logits of one model on the evaluation and forget notes (and the head inputs used as cache)."""

    eval_logits: torch.Tensor
    forget_logits: torch.Tensor
    eval_feats: torch.Tensor | None = None
    forget_feats: torch.Tensor | None = None


@dataclass(frozen=True)
class OriginalScores:
    """``score_original``: the original model's scores, and whether they were read from the cache of
    earlier requests (:mod:`.original_cache`)."""

    scores: Scores
    from_cache: bool
    seconds: float


@dataclass(frozen=True)
class MethodRun:
    """``run_method``: the method, the context it ran in (``repeat_seeds`` runs it again with other seeds)
    and what it made."""

    method: object
    ctx: UnlearnContext
    result: MethodResult


@dataclass(frozen=True)
class NewScores:
    """``score_new_model``: the new model's scores; ``exact_cache``: its head inputs were taken from the
    original's, re-encoding only the notes that hold an edited row (exact: the encoder is unchanged)."""

    scores: Scores
    exact_cache: bool
    seconds: float


@dataclass(frozen=True)
class Computed:
    """What every process computes (the steps up to ``score_new_model``): what the audits read."""

    model: LoadedModel
    data: RequestData
    tokens: Tokens
    original: OriginalScores
    unlearning: MethodRun
    new: NewScores


@dataclass(frozen=True)
class Audited:
    """``audit``: every run audit's figures (process 0 only)."""

    audits: dict
    seconds: float


@dataclass(frozen=True)
class SeedRuns:
    """``repeat_seeds``: results.json's ``seeds`` section (a single seed: which one)."""

    summary: dict
    seconds: float
