"""Batched scoring: the head inputs (features) and logits of every note of an encoded corpus.

Length-bucketed batches with dynamic padding, autocast where safe and out-of-memory recovery
(steu_core.accel); with a head adapter, logits can come from cached features through the head alone.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch

from ..accel import cache_device, inference, map_batches
from .classifier import Classifier
from .tokens import Encoded, length_order, pad_id


def compute_features(clf: Classifier, enc: Encoded, batch_size: int = 64,
                     progress: Callable[[int, int], None] | None = None) -> torch.Tensor | None:
    """Head inputs for every example (None when the model has no exact head adapter).

    Length-bucketed batches with dynamic padding; autocast on CUDA where safe; a batch that runs out
    of memory is retried at half the size. The N x d float32 result (150 MB for 100k notes at d=384)
    stays on the accelerator when it takes at most a quarter of its free memory, else in host memory.
    """
    if clf.adapter is None:
        return None
    clf.model.eval()
    n = len(enc)
    out: torch.Tensor | None = None
    done = 0

    def compute(idx: np.ndarray) -> torch.Tensor:
        ids, mask = enc.pad(idx, pad_id(clf.tokenizer), clf.device)
        with inference(clf.device, clf.precision):
            return clf.adapter.features(clf.model, ids, mask).float()

    def store(idx: np.ndarray, feats: torch.Tensor) -> None:
        nonlocal done, out
        if out is None:
            shape = (n, *feats.shape[1:])
            out = torch.empty(shape, dtype=torch.float32, device=cache_device(clf.device, 4 * math.prod(shape)))
        out[torch.as_tensor(idx, device=out.device)] = feats.to(out.device)
        done += len(idx)
        if progress:
            progress(done, n)

    map_batches(length_order(enc), batch_size, compute, store, device=clf.device, what="scoring")
    if out is None:  # no notes
        out = torch.empty((0, clf.hidden_size), dtype=torch.float32, device=clf.device)
    return out


@torch.inference_mode()
def head_logits(clf: Classifier, feats: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """The head applied to cached head inputs (in fp32, in chunks, wherever the cache lives)."""
    parts = [clf.adapter.logits(clf.model, feats[s:s + chunk].to(clf.device)).float().cpu()
             for s in range(0, len(feats), chunk)]
    return torch.cat(parts) if parts else torch.empty((0, len(clf.labels)), dtype=torch.float32)


def compute_logits(clf: Classifier, enc: Encoded, batch_size: int = 64, feats: torch.Tensor | None = None,
                   recompute: Sequence[int] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Logits for every example (an N x C float32 tensor in host memory).

    With cached ``feats`` (from the unedited encoder) only the examples in ``recompute`` get a new
    encoder pass; the rest go through the (possibly new) head alone. This is exact when only the
    embedding rows of tokens absent from those examples, and the head, changed.
    """
    clf.model.eval()
    n = len(enc)
    if feats is not None and clf.adapter is not None:
        todo = list(recompute) if recompute is not None else []
        if todo:
            feats = feats.clone()
            new = compute_features(clf, enc.subset(todo), batch_size, progress)
            feats[torch.as_tensor(todo, device=feats.device)] = new.to(feats.device)
        return head_logits(clf, feats)
    logits = torch.empty((n, len(clf.labels)), dtype=torch.float32)
    done = 0

    def compute(idx: np.ndarray) -> torch.Tensor:
        ids, mask = enc.pad(idx, pad_id(clf.tokenizer), clf.device)
        with inference(clf.device, clf.precision):
            return clf.model(input_ids=ids, attention_mask=mask).logits.float().cpu()

    def store(idx: np.ndarray, part: torch.Tensor) -> None:
        nonlocal done
        logits[torch.as_tensor(idx)] = part
        done += len(idx)
        if progress:
            progress(done, n)

    map_batches(length_order(enc), batch_size, compute, store, device=clf.device, what="scoring")
    return logits
