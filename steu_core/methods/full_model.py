"""The shared loop of the full-model baselines (``grad_ascent``, ``finetune_retain``): every
parameter of a copy of the original is trained with Adam for a bounded number of steps.

Per step: cross-entropy on a batch of retain notes, and (gradient ascent only) minus
``forget_weight`` times the cross-entropy on a batch of forget notes, i.e. the "gradient
difference" objective: descend on the retain set, ascend on the forget set. Gradients are clipped
to ``max_grad_norm``. The model stays in eval mode (no dropout), like STEU, so runs are
deterministic for a seed and the methods differ only in what they train. Every ``check_every``
steps forget F1 on the forget set is measured and the run stops once it is at or below
``forget_f1_target``.
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from ..errors import Cancelled
from ..model import Classifier, Encoded, pad_batch, pad_id, seed_everything
from .base import UnlearnContext
from .sampling import Cycler
from .steu import f1_on_forget


def _logits(clf: Classifier, enc: Encoded, idx: list[int]) -> torch.Tensor:
    ids, mask = pad_batch([enc.ids[i] for i in idx], pad_id(clf.tokenizer), clf.device)
    return clf.model(input_ids=ids, attention_mask=mask).logits.float()


@torch.no_grad()
def forget_f1(clf: Classifier, enc: Encoded, forget_class: int, batch: int = 64) -> float:
    """Forget F1 of ``clf`` on the forget set ``enc``: :func:`f1_on_forget` of its predictions (steu_core.stats)."""
    preds = torch.cat([_logits(clf, enc, list(range(s, min(s + batch, len(enc))))).argmax(-1).cpu()
                       for s in range(0, len(enc), batch)])
    return f1_on_forget(preds, forget_class)


def train_full_model(ctx: UnlearnContext, *, lr: float, batch_size: int, max_steps: int, check_every: int,
                     forget_weight: float, retain_weight: float, forget_f1_target: float,
                     max_grad_norm: float, ascent: bool) -> tuple[Classifier, dict]:
    """Train all parameters of a copy of ``ctx.original``; return the copy and a training log."""
    seed_everything(ctx.seed)
    new = ctx.original.copy()
    model = new.model
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    fc = ctx.forget_class_id
    gen = torch.Generator().manual_seed(ctx.seed)
    f_order, r_order = Cycler(len(ctx.forget), gen), Cycler(len(ctx.retain), gen)
    t0 = time.perf_counter()
    f1_start = forget_f1(new, ctx.forget, fc)
    history, stopped_early, step, f1_now = [], False, 0, f1_start
    for step in range(1, max_steps + 1):
        if ctx.cancelled():
            raise Cancelled("the unlearning run was cancelled")
        rb = r_order.take(batch_size)
        fb = f_order.take(batch_size) if ascent else None
        entry = _full_step(ctx, new, opt, step, rb, fb, forget_weight=forget_weight, retain_weight=retain_weight,
                           max_grad_norm=max_grad_norm)
        history.append(entry)
        ctx.report(stage="unlearn", step=step, total=max_steps,
                   losses={k: v for k, v in (("loss", entry["loss"]), ("retain", entry["retain_loss"]),
                                             ("forget", entry["forget_loss"])) if v is not None},
                   elapsed_s=time.perf_counter() - t0)
        if step % check_every == 0 or step == max_steps:
            f1_now = forget_f1(new, ctx.forget, fc)
            entry["forget_f1"] = f1_now
            if f1_now <= forget_f1_target:
                stopped_early = step < max_steps
                break
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    log = {"steps": step, "max_steps": max_steps, "stopped_early": stopped_early, "history": history,
           "forget_f1_on_forget_set": {"start": f1_start, "end": f1_now}, "feature_cache": False,
           "objective": ("retain CE - forget_weight * forget CE (gradient difference)" if ascent
                         else "retain CE only")}
    return new, log


def _full_step(ctx: UnlearnContext, clf: Classifier, opt: torch.optim.Optimizer, step: int, rb: list[int],
               fb: list[int] | None, *, forget_weight: float, retain_weight: float, max_grad_norm: float) -> dict:
    """One clipped Adam step on retain batch ``rb`` (descent) and, for gradient ascent, forget batch
    ``fb`` (ascent); its history entry."""
    retain_loss = F.cross_entropy(_logits(clf, ctx.retain, rb), ctx.retain_labels[rb].to(clf.device))
    loss = retain_weight * retain_loss
    f_loss = None
    if fb is not None:
        fl = _logits(clf, ctx.forget, fb)
        f_loss = F.cross_entropy(fl, torch.full((len(fb),), ctx.forget_class_id, dtype=torch.long, device=clf.device))
        loss = loss - forget_weight * f_loss
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(clf.model.parameters(), max_grad_norm)
    opt.step()
    return {"step": step, "loss": float(loss.detach()), "retain_loss": float(retain_loss.detach()),
            "forget_loss": float(f_loss.detach()) if f_loss is not None else None}
