"""Relearning test, head-only attacker: how little fine-tuning of the head brings the forgotten class back?

An attacker who holds the unlearned weights and ``n`` notes of the forget class (n = 8 and 32 by
default, drawn from the forget set) trains the classification head on the model's frozen features
(cached head inputs) of those notes plus ``n`` retain notes (one full batch of 2n notes per step,
Adam). After every step forget F1 is measured on the evaluation set; the result is the number of
steps until it exceeds 0.5 (``threshold``), or "never within max_steps". Each (model, n) is repeated
with ``repeats`` draws; the median and an order-statistic interval of the median are reported.

Exact and cheap, it asks the sharpest question for head-based unlearning: do this model's features
still carry the class? A head-only edit leaves the original's features untouched, so the head
relearns the class from them at once; an embedding edit changes the features of the notes that
contain the edited tokens. The stronger attacker, who fine-tunes every parameter, is the
``relearn_full`` audit (:mod:`.relearn_full`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .deep_base import (DeepInputs, ModelOutputs, forget_f1, register_deep_audit, register_settings_check,
                        relearn_draws, steps_summary)

DEFAULTS = {"n_values": [8, 32], "max_steps": 100, "lr": 1e-3, "repeats": 5, "threshold": 0.5}


def _relearn_head(m: ModelOutputs, fi, ri, inp: DeepInputs, eval_y: torch.Tensor, max_steps: int, lr: float,
                  threshold: float) -> tuple[int | None, float]:
    clf, fc = m.clf, inp.forget_class_id
    model, adapter = clf.model, clf.adapter
    params = dict(model.named_parameters())
    head = [params[n] for n in clf.head_param_names]
    snapshot = [p.detach().clone() for p in head]
    dev = clf.device
    x = torch.cat([m.forget_feats[fi], m.retain_feats[ri]]).to(dev)
    y = torch.cat([torch.full((len(fi),), fc, dtype=torch.long),
                   torch.as_tensor(inp.retain_labels[ri], dtype=torch.long)]).to(dev)
    feats_eval = m.eval_feats.to(dev)
    model.eval()
    try:
        for p in head:
            p.requires_grad_(True)
        opt = torch.optim.Adam(head, lr=lr)
        f1 = 0.0
        for step in range(max_steps + 1):
            with torch.no_grad():
                f1 = forget_f1(adapter.logits(model, feats_eval).argmax(-1).cpu(), eval_y, fc)
            if f1 > threshold:
                return step, f1
            if step == max_steps:
                break
            loss = F.cross_entropy(adapter.logits(model, x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return None, f1
    finally:
        with torch.no_grad():
            for p, s in zip(head, snapshot):
                p.copy_(s)
                p.requires_grad_(False)


@register_settings_check("relearn")
def head_settings(given: dict) -> dict:
    """The head attacker's settings, checked: ``given`` over the defaults."""
    if given.get("mode", "head") != "head":
        raise ConfigError(f"the relearn audit is the head-only attacker (mode {given.get('mode')!r} is not "
                          "available here).", hint="For the full-model attacker use the relearn_full audit's settings.")
    unknown = sorted(set(given) - set(DEFAULTS) - {"mode"})
    if unknown:
        raise ConfigError(f"unknown relearn setting(s): {', '.join(unknown)}.", hint=f"Known: {', '.join(DEFAULTS)}.")
    cfg = {**DEFAULTS, **{k: v for k, v in given.items() if k != "mode"}}
    try:
        cfg = {"n_values": [int(n) for n in cfg["n_values"]], "max_steps": int(cfg["max_steps"]),
               "lr": float(cfg["lr"]), "repeats": int(cfg["repeats"]), "threshold": float(cfg["threshold"])}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"relearn settings must be numbers ({exc}).") from None
    if not cfg["n_values"] or min(cfg["n_values"]) < 1 or cfg["max_steps"] < 1 or cfg["repeats"] < 1:
        raise ConfigError("relearn: n_values (each at least 1), max_steps and repeats must be at least 1.")
    if not (cfg["lr"] > 0 and 0 <= cfg["threshold"] < 1):
        raise ConfigError("relearn: lr must be positive and threshold between 0 and 1.")
    return cfg


def _model_row(name: str, m: ModelOutputs, inp: DeepInputs, cfg: dict, draws: dict, eval_y: torch.Tensor) -> dict:
    row = {}
    for n in cfg["n_values"]:
        steps = []
        for r, (fi, ri) in enumerate(draws[n]):
            inp.stop_if_cancelled()
            inp.report(stage="audit:relearn", model=name, n=n, repeat=r + 1,
                       activity=f"{name}: {n} notes, draw {r + 1} of {len(draws[n])}")
            s, _ = _relearn_head(m, fi.tolist(), ri.tolist(), inp, eval_y, cfg["max_steps"], cfg["lr"],
                                 cfg["threshold"])
            steps.append(s)
        row[f"n{n}"] = steps_summary(steps, cfg["max_steps"])
    return row


@register_deep_audit("relearn")
def relearn(inp: DeepInputs) -> dict:
    cfg = head_settings(inp.settings.get("relearn") or {})
    out = {"mode": "head", **cfg, "check_every": 1, "eval_notes": len(inp.eval),
           "attacker": "the head on frozen features; each step one batch of n forget-set notes + n retain notes, Adam",
           "per_model": {}}
    eval_y = torch.as_tensor(inp.eval_labels, dtype=torch.long)
    draws = {n: relearn_draws(inp, n, cfg["repeats"]) for n in cfg["n_values"]}
    for name, m in inp.models.items():
        if m.eval_feats is None or m.clf.adapter is None:
            out["per_model"][name] = {"skipped": "no exact head adapter: head-mode relearning needs the head inputs"}
            continue
        out["per_model"][name] = _model_row(name, m, inp, cfg, draws, eval_y)
    return {"relearn": out}
