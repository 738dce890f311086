"""The training pools of a sparse edit and one optimisation step over them: token ids, labels,
which notes carry an edited row, and cached head inputs (exact for every other note), scored with the
edited rows swapped in; the step's gradients, redone in smaller micro-batches when memory runs out."""
from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from .. import distributed, lanes
from ..accel import autocast, is_oom, out_of_memory_error, release_memory
from ..model import Classifier, Encoded, RowOverride, pad_batch, pad_id
from .sampling import chunks


class TrainingPool:
    """A training pool: token ids, labels, which examples carry a selected token, cached head inputs and, for
    a forget pool trained toward soft targets, one probability vector per note (None: the suppress term)."""

    def __init__(self, enc: Encoded, labels: torch.Tensor, touched: np.ndarray, feats: torch.Tensor | None,
                 targets: torch.Tensor | None = None):
        self.enc, self.labels, self.touched, self.feats, self.targets = enc, labels, touched, feats, targets

    def __len__(self):
        return len(self.enc)


def head_inputs(clf: Classifier, pool: TrainingPool, idx: list[int], override: RowOverride | None,
                 use_cache: bool) -> torch.Tensor:
    """Head inputs of pool[idx]: cached where exact, else an encoder pass with the edited rows."""
    adapter, device = clf.adapter, clf.device
    feats = None
    need = [i for i in idx if not use_cache or pool.touched[i]]
    if use_cache and len(need) < len(idx):
        feats = pool.feats[torch.as_tensor(idx, device=pool.feats.device)].to(device).clone()
    if need:
        ids, mask = pool.enc.pad(need, pad_id(clf.tokenizer), device)
        # autocast (CUDA bf16 only) covers the frozen encoder; the k x d rows stay fp32 parameters and
        # the head runs in fp32 on fp32 inputs
        with autocast(device, clf.precision, training=True):
            if override is not None:
                with override:
                    new = adapter.features(clf.model, ids, mask)
            else:
                new = adapter.features(clf.model, ids, mask)
        new = new.float()
        if feats is None:
            return new
        pos = {i: p for p, i in enumerate(idx)}
        feats = feats.index_put((torch.as_tensor([pos[i] for i in need], device=device),), new.float())
    return feats


def full_logits(clf: Classifier, pool: TrainingPool, idx: list[int], override: RowOverride | None) -> torch.Tensor:
    ids, mask = pad_batch([pool.enc.ids[i] for i in idx], pad_id(clf.tokenizer), clf.device)
    if override is not None:
        with override:
            return clf.model(input_ids=ids, attention_mask=mask).logits
    return clf.model(input_ids=ids, attention_mask=mask).logits


def pool_logits(clf: Classifier, pool: TrainingPool, idx: list[int], override: RowOverride | None,
                use_cache: bool) -> torch.Tensor:
    if clf.adapter is None:
        return full_logits(clf, pool, idx, override)
    return clf.adapter.logits(clf.model, head_inputs(clf, pool, idx, override, use_cache))


def pool_outputs(clf: Classifier, pool: TrainingPool, idx: list[int], override: RowOverride | None,
                 use_cache: bool) -> torch.Tensor:
    """:func:`pool_logits` (as float32) and, with a head adapter, the head inputs they came from, side by
    side: ``[logits | head inputs]``, so one scoring pass also gives what the membership audit reads."""
    if clf.adapter is None:
        return full_logits(clf, pool, idx, override).float()
    feats = head_inputs(clf, pool, idx, override, use_cache)
    return torch.cat([clf.adapter.logits(clf.model, feats).float(), feats.float()], dim=1)


def forget_term(logits: torch.Tensor, forget_class: int) -> torch.Tensor:
    """-log(1 - p_forget), computed stably from log-probabilities."""
    logp = F.log_softmax(logits.float(), dim=-1)
    others = torch.cat([logp[:, :forget_class], logp[:, forget_class + 1:]], dim=1)
    return -torch.logsumexp(others, dim=1).mean()


def spread_targets(logits: torch.Tensor, forget_class: int) -> torch.Tensor:
    """Per note, the model's probabilities with the forgotten class removed and the rest renormalised: how the
    model itself spreads the note over the remaining classes (the class's own probability set to 0)."""
    probs = torch.softmax(logits.float(), dim=-1).clone()
    probs[:, forget_class] = 0.0
    return probs / probs.sum(dim=1, keepdim=True).clamp_min(torch.finfo(probs.dtype).tiny)


def soft_target_term(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy toward per-note probability vectors: mean of -sum_j q_j log p_j."""
    return -(targets.to(logits.device) * F.log_softmax(logits.float(), dim=-1)).sum(dim=1).mean()


def forget_loss(pool: TrainingPool, chunk: list[int], logits: torch.Tensor, fc: int) -> torch.Tensor:
    """The forget term of ``chunk``: toward the pool's soft targets where it has them, else -log(1 - p_forget)."""
    if pool.targets is not None:
        return soft_target_term(logits, pool.targets[chunk])
    return forget_term(logits, fc)


def accumulate(clf: Classifier, forget_pool: TrainingPool, retain_pool: TrainingPool, fb: list[int], rb: list[int],
                n_forget: int, n_retain: int, override, use_cache: bool, fc: int, forget_weight: float,
                micro: int, trainable: list[torch.Tensor]) -> torch.Tensor:
    """Gradients of this process's share (fb, rb) of one step's loss, added to ``.grad`` of ``trainable``.

    The share goes in micro-batches of at most ``micro`` notes, split further so that every CPU lane
    gets one (steu_core.lanes); their gradients are added in a fixed order, so a step is the same at
    the same thread count. Each part is scaled by the global batch sizes, so the gradients add up
    (over micro-batches and processes) to those of CE(retain batch) + forget_weight *
    mean(-log(1 - p_forget)) on the whole batch. Returns [retain loss, forget loss, forget-class
    hits] of this share, summed likewise.
    """
    size = lanes.share(clf.device, max(len(fb), len(rb)), micro)
    parts = [(retain_pool, c) for c in chunks(rb, size)] + [(forget_pool, c) for c in chunks(fb, size)]

    def part_gradients(part: tuple[TrainingPool, list[int]]) -> tuple[tuple | None, tuple[float, float, int]]:
        pool, chunk = part
        logits = pool_logits(clf, pool, chunk, override, use_cache).float()
        if pool is retain_pool:
            loss = F.cross_entropy(logits, pool.labels[chunk].to(logits.device), reduction="sum") / n_retain
            objective, sums = loss, (float(loss.detach()), 0.0, 0)
        else:
            loss = forget_loss(pool, chunk, logits, fc) * (len(chunk) / n_forget)
            objective = forget_weight * loss if forget_weight else None
            sums = (0.0, float(loss.detach()), int((logits.detach().argmax(-1) == fc).sum()))
        if objective is None or not objective.requires_grad:
            return None, sums
        return torch.autograd.grad(objective, trainable, allow_unused=True), sums

    totals = torch.zeros(3, dtype=torch.float64)
    for grads, sums in lanes.map_results(part_gradients, parts, clf.device):
        for p, g in zip(trainable, grads or ()):
            if g is not None:
                p.grad = g if p.grad is None else p.grad + g
        totals += torch.tensor(sums, dtype=torch.float64)
    return totals


def step_gradients(clf: Classifier, forget_pool: TrainingPool, retain_pool: TrainingPool, fb: list[int], rb: list[int],
                   override, use_cache: bool, fc: int, forget_weight: float, trainable: list[torch.Tensor],
                   micro: int) -> tuple[tuple[float, float, int], int]:
    """The gradients of one STEU step in ``.grad`` of ``trainable``, and (retain loss, forget loss,
    forget hits) of the whole batch.

    With several processes each takes every world-th note of the (same) global batch and the
    gradients and losses are summed across processes. Out of memory: the step is redone in
    micro-batches of half the size (same gradients), down to one note. Returns the micro-batch size
    that worked, for the next steps.
    """
    dp = distributed.current()
    my_f, my_r = dp.shard(fb), dp.shard(rb)
    while True:
        failed = False
        try:
            sums = accumulate(clf, forget_pool, retain_pool, my_f, my_r, len(fb), len(rb), override, use_cache,
                               fc, forget_weight, micro, trainable)
        except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
            if not is_oom(exc):
                raise
            failed = True
        if not failed:
            break
        for p in trainable:
            p.grad = None
        release_memory(clf.device)
        if micro <= 1:
            raise out_of_memory_error("STEU step", clf.device)
        micro = max(1, micro // 2)
        logging.getLogger("steu_core").warning(
            "STEU step: out of %s memory; redoing the step in micro-batches of %d notes (same gradients).",
            clf.device.type, micro)
    if dp.enabled:
        for p in trainable:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        dp.sum_([p.grad for p in trainable])
        dp.sum_([sums])
    return (float(sums[0]), float(sums[1]), int(round(float(sums[2])))), micro
