"""Relearning test, full-model attacker: the strongest relearning attack the tool runs.

The attacker holds the unlearned weights and ``n`` notes of the forget class (drawn from the forget
set) and fine-tunes EVERY parameter - embeddings, encoder and head - on them plus ``n`` retain notes
(one batch of 2n notes per step, Adam at ``lr``, eval mode). Every ``check_every`` steps forget F1 is
measured on a stratified sample of at most ``eval_max`` evaluation notes; the result of a draw is
the number of steps until it exceeds ``threshold`` (0.5), or "never within max_steps" (a right-
censored value, stored as ``max_steps + 1``, never as ``max_steps``). Each model gets the same
``draws`` draws; the median over them is reported with a distribution-free order-statistic interval
(:func:`steu_core.stats.median_interval`; with 6 or more draws it covers at least 95 %, with 5 it is
min to max at 93.75 %, and its exact coverage is recorded).

Defaults (lr 5e-5, n = 8, 20 steps, checked every 2) come from bench/relearn_sensitivity.py, where
this attacker undid STEU, head-only and random-rows unlearning in about 4 steps on Medical Abstracts
while the retrain oracle held past 20. A step count at or below the oracle's means the class was
hidden, not removed. Costly on a CPU (an encoder pass forward and back per step, per draw, per model, and a
pass over the evaluation sample per check): a comparison runs the CPU-sized set :data:`QUICK` unless it
asks for the full set (``compare --full-relearning``, the defaults above); settings given by name override
either. ``steu_core.compare.estimate`` prices both before a start.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, fields
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..methods.sampling import stratified_sample
from ..model import pad_batch, pad_id
from .deep_base import (DeepInputs, ModelOutputs, forget_f1, register_deep_audit, register_settings_check,
                        relearn_draws, steps_summary)

MIN_DRAWS = 5
NAME = "relearn_full"
# the CPU-sized set a comparison runs by default (the class definition's defaults are the full set): the
# fewest draws that give the median an interval, 8 steps instead of 20 (the sensitivity study's attacker
# undid STEU in about 4), and forget F1 checked on 90 stratified evaluation notes instead of 300 (most of a
# draw's time on a CPU goes to the training steps and these checks)
QUICK = {"draws": MIN_DRAWS, "max_steps": 8, "eval_max": 90}


@dataclass(frozen=True)
class FullRelearnSettings:
    """The full-model attacker's settings, checked when built."""

    lr: float = 5e-5
    n: int = 8
    max_steps: int = 20
    draws: int = 6
    check_every: int = 2
    eval_max: int = 300
    threshold: float = 0.5

    def __post_init__(self):
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"relearn_full: lr must be a positive number (got {self.lr!r}).", hint="The default is 5e-5.")
        for name, lo in (("n", 1), ("max_steps", 1), ("draws", MIN_DRAWS), ("check_every", 1), ("eval_max", 10)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ConfigError(f"relearn_full: {name} must be a whole number of at least {lo} (got {value!r}).",
                                  hint="At least 5 draws give the median an interval." if name == "draws" else None)
        if not (isinstance(self.threshold, (int, float)) and 0 <= self.threshold < 1):
            raise ConfigError(f"relearn_full: threshold must be between 0 and 1 (got {self.threshold!r}).")

    @classmethod
    def from_dict(cls, given: dict) -> "FullRelearnSettings":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ConfigError(f"unknown relearn_full setting(s): {', '.join(unknown)}.",
                              hint=f"Known: {', '.join(sorted(known))}.")
        return cls(**given)


register_settings_check(NAME)(FullRelearnSettings.from_dict)


def set_words(given: dict | None = None) -> str:
    """A set of the attacker's settings in words (``given`` over the full set's defaults)."""
    cfg = FullRelearnSettings.from_dict(given or {})
    return f"{cfg.draws} draws of up to {cfg.max_steps} steps, checked on {cfg.eval_max} evaluation notes"


def _eval_f1(model, inp: DeepInputs, eval_idx: list[int], eval_y: torch.Tensor, pad: int, dev) -> float:
    preds = []
    with torch.no_grad():
        for s in range(0, len(eval_idx), 64):
            ids, mask = pad_batch([inp.eval.ids[i] for i in eval_idx[s:s + 64]], pad, dev)
            preds.append(model(input_ids=ids, attention_mask=mask).logits.argmax(-1).cpu())
    return forget_f1(torch.cat(preds), eval_y, inp.forget_class_id)


def relearn_steps(m: ModelOutputs, fi: list[int], ri: list[int], inp: DeepInputs, eval_idx: list[int],
                  eval_y: torch.Tensor, cfg: FullRelearnSettings,
                  tick: Callable[[int], None] = lambda step: None) -> int | None:
    """Steps of full fine-tuning (on a copy: the model is never touched) until forget F1 > threshold; None = never.
    ``tick(step)`` hears each step as it starts (the progress of the draw)."""
    clf = m.clf
    model = copy.deepcopy(clf.model)
    model.eval()  # no dropout: the attacker's steps are deterministic for a draw
    for p in model.parameters():
        p.requires_grad_(True)
    pad, dev = pad_id(clf.tokenizer), clf.device
    ids, mask = pad_batch([inp.forget.ids[i] for i in fi] + [inp.retain.ids[i] for i in ri], pad, dev)
    y = torch.cat([torch.full((len(fi),), inp.forget_class_id, dtype=torch.long),
                   torch.as_tensor(inp.retain_labels[ri], dtype=torch.long)]).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    if _eval_f1(model, inp, eval_idx, eval_y, pad, dev) > cfg.threshold:
        return 0
    for step in range(1, cfg.max_steps + 1):
        inp.stop_if_cancelled()
        tick(step)
        loss = F.cross_entropy(model(input_ids=ids, attention_mask=mask).logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step % cfg.check_every == 0 or step == cfg.max_steps) and \
                _eval_f1(model, inp, eval_idx, eval_y, pad, dev) > cfg.threshold:
            return step
    return None


@register_deep_audit(NAME)
def relearn_full(inp: DeepInputs) -> dict:
    cfg = FullRelearnSettings.from_dict(inp.settings.get(NAME) or {})
    eval_idx = list(range(len(inp.eval)))
    if len(eval_idx) > cfg.eval_max:
        eval_idx = stratified_sample(torch.as_tensor(inp.eval_labels), cfg.eval_max, inp.seed)
    eval_y = torch.as_tensor(inp.eval_labels[eval_idx], dtype=torch.long)
    out = {"mode": "full", **asdict(cfg), "n_values": [cfg.n], "eval_notes": len(eval_idx),
           "attacker": "every parameter (embeddings, encoder, head); each step one batch of n forget-set notes + "
                       "n retain notes, Adam", "per_model": {}}
    # other draws than the head attacker's (salt), so the two audits are independent samples
    draws = relearn_draws(inp, cfg.n, cfg.draws, salt=7)
    total = len(inp.models) * len(draws) * cfg.max_steps
    for k, (name, m) in enumerate(inp.models.items()):
        steps = []
        for r, (fi, ri) in enumerate(draws):
            inp.stop_if_cancelled()
            done = (k * len(draws) + r) * cfg.max_steps

            def tick(step: int, name=name, r=r, done=done) -> None:
                inp.report(stage=f"audit:{NAME}", model=name, repeat=r + 1, step=done + step - 1, total=total,
                           activity=f"{name}: draw {r + 1} of {len(draws)}, step {step} of {cfg.max_steps}")

            tick(0)
            steps.append(relearn_steps(m, fi.tolist(), ri.tolist(), inp, eval_idx, eval_y, cfg, tick))
        out["per_model"][name] = {f"n{cfg.n}": steps_summary(steps, cfg.max_steps)}
    return {NAME: out}
