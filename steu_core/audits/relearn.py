"""Relearning test: how little fine-tuning brings the forgotten class back?

An attacker who holds the unlearned weights and ``n`` notes of the forget class (n = 8 and 32 by
default, drawn from the forget set) fine-tunes the model on them plus ``n`` retain notes (one full
batch of 2n notes per step, Adam). After every step (every ``check_every`` in full mode) forget F1
is measured on the evaluation set; the result is the number of steps until it exceeds 0.5
(``threshold``), or "> max_steps" when it never does within the bound. Each (model, n) is repeated
with ``repeats`` different draws; the median and a bootstrap interval of the median over the draws
are reported. Fewer steps than the oracle needs = the class was hidden, not removed.

Modes:
- ``head`` (default): the attacker trains the classification head on the model's frozen features
  (cached head inputs). Exact and cheap, and it asks the sharpest question for head-based
  unlearning: do this model's features still carry the class? A head-only edit leaves the
  original's features untouched, so the head relearns the class from them at once; an embedding
  edit changes the features of the notes that contain the edited tokens.
- ``full``: every parameter is fine-tuned (encoder passes each step; bounded by ``max_steps``;
  forget F1 checked on a stratified sample of at most ``eval_max`` evaluation notes). Costly on a
  CPU; use small bounds.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..methods.sampling import stratified_sample
from ..model import pad_batch, pad_id
from ..stats import bootstrap_paired
from .deep_base import DeepInputs, ModelOutputs, register_deep_audit

DEFAULTS = {"head": {"max_steps": 100, "lr": 1e-3, "repeats": 5, "check_every": 1},
            "full": {"max_steps": 20, "lr": 2e-5, "repeats": 2, "check_every": 2}}


def _forget_f1(pred: torch.Tensor, y: torch.Tensor, fc: int) -> float:
    p, t = pred == fc, y == fc
    tp = int((p & t).sum())
    denom = int(p.sum()) + int(t.sum())
    return 2 * tp / denom if denom else 0.0


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
                f1 = _forget_f1(adapter.logits(model, feats_eval).argmax(-1).cpu(), eval_y, fc)
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


def _relearn_full(m: ModelOutputs, fi, ri, inp: DeepInputs, eval_idx: list[int], eval_y: torch.Tensor,
                  max_steps: int, lr: float, threshold: float, check_every: int) -> tuple[int | None, float]:
    clf, fc = m.clf, inp.forget_class_id
    model = copy.deepcopy(clf.model)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    pad, dev = pad_id(clf.tokenizer), clf.device
    seqs = [inp.forget.ids[i] for i in fi] + [inp.retain.ids[i] for i in ri]
    ids, mask = pad_batch(seqs, pad, dev)
    y = torch.cat([torch.full((len(fi),), fc, dtype=torch.long),
                   torch.as_tensor(inp.retain_labels[ri], dtype=torch.long)]).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def f1_now() -> float:
        preds = []
        with torch.no_grad():
            for s in range(0, len(eval_idx), 64):
                e_ids, e_mask = pad_batch([inp.eval.ids[i] for i in eval_idx[s:s + 64]], pad, dev)
                preds.append(model(input_ids=e_ids, attention_mask=e_mask).logits.argmax(-1).cpu())
        return _forget_f1(torch.cat(preds), eval_y, fc)

    f1 = f1_now()
    if f1 > threshold:
        return 0, f1
    for step in range(1, max_steps + 1):
        loss = F.cross_entropy(model(input_ids=ids, attention_mask=mask).logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % check_every == 0 or step == max_steps:
            f1 = f1_now()
            if f1 > threshold:
                return step, f1
    return None, f1


def _summary(steps: list[int | None], max_steps: int, seed: int, n_boot: int) -> dict:
    censored = max_steps + 1
    vals = np.array([censored if s is None else s for s in steps], dtype=float)
    median = float(np.median(vals))
    ci = bootstrap_paired(lambda idx: np.median(vals[idx]), len(vals), seed, n_boot)

    def text(v: float) -> str:
        return f"> {max_steps}" if v > max_steps else f"{v:g}"

    return {"steps": [None if s is None else int(s) for s in steps], "median_steps": median,
            "median_steps_ci": ci, "never": int(sum(s is None for s in steps)), "max_steps": max_steps,
            "text": text(median), "ci_text": f"[{text(ci[0])}, {text(ci[1])}]",
            "censored_value": censored}


def _settings(inp: DeepInputs) -> dict:
    mode = str(inp.setting("relearn", "mode", "head"))
    if mode not in DEFAULTS:
        raise ConfigError(f"relearn mode must be 'head' or 'full' (got {mode!r}).")
    d = DEFAULTS[mode]
    return {"mode": mode,
            "n_values": [int(n) for n in inp.setting("relearn", "n_values", [8, 32])],
            "max_steps": int(inp.setting("relearn", "max_steps", d["max_steps"])),
            "lr": float(inp.setting("relearn", "lr", d["lr"])),
            "repeats": int(inp.setting("relearn", "repeats", d["repeats"])),
            "check_every": int(inp.setting("relearn", "check_every", d["check_every"])),
            "threshold": float(inp.setting("relearn", "threshold", 0.5)),
            "eval_max": int(inp.setting("relearn", "eval_max", 300))}


def _draws(inp: DeepInputs, n_values: list[int], repeats: int) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """For every n, ``repeats`` draws of (n forget-set notes, n retain notes), the same for every model."""
    draws = {}
    for n in n_values:
        rng = np.random.default_rng(inp.seed + 1000 * n)
        draws[n] = [(rng.choice(len(inp.forget), min(n, len(inp.forget)), replace=False),
                     rng.choice(len(inp.retain), min(n, len(inp.retain)), replace=False)) for _ in range(repeats)]
    return draws


def _model_row(name: str, m: ModelOutputs, inp: DeepInputs, cfg: dict, draws: dict, eval_idx: list[int],
               eval_y: torch.Tensor) -> dict:
    row = {}
    for n in cfg["n_values"]:
        steps = []
        for r, (fi, ri) in enumerate(draws[n]):
            inp.stop_if_cancelled()
            inp.report(stage="audit:relearn", model=name, n=n, repeat=r + 1)
            if cfg["mode"] == "head":
                s, _ = _relearn_head(m, fi.tolist(), ri.tolist(), inp, eval_y, cfg["max_steps"], cfg["lr"],
                                     cfg["threshold"])
            else:
                s, _ = _relearn_full(m, fi.tolist(), ri.tolist(), inp, eval_idx, eval_y, cfg["max_steps"], cfg["lr"],
                                     cfg["threshold"], cfg["check_every"])
            steps.append(s)
        row[f"n{n}"] = _summary(steps, cfg["max_steps"], inp.seed + n, inp.n_boot)
    return row


@register_deep_audit("relearn")
def relearn(inp: DeepInputs) -> dict:
    cfg = _settings(inp)
    mode = cfg["mode"]
    out = {"mode": mode, "n_values": cfg["n_values"], "max_steps": cfg["max_steps"], "lr": cfg["lr"],
           "repeats": cfg["repeats"], "threshold": cfg["threshold"],
           "check_every": cfg["check_every"] if mode == "full" else 1,
           "attacker": f"{'the head on frozen features' if mode == 'head' else 'every parameter'}; each step one "
                       "batch of n forget-set notes + n retain notes, Adam", "per_model": {}}
    eval_idx = list(range(len(inp.eval)))
    if mode == "full" and len(eval_idx) > cfg["eval_max"]:
        eval_idx = stratified_sample(torch.as_tensor(inp.eval_labels), cfg["eval_max"], inp.seed)
    eval_y = torch.as_tensor(inp.eval_labels[eval_idx], dtype=torch.long)
    out["eval_notes"] = len(eval_idx)
    draws = _draws(inp, cfg["n_values"], cfg["repeats"])
    for name, m in inp.models.items():
        if mode == "head" and (m.eval_feats is None or m.clf.adapter is None):
            out["per_model"][name] = {"skipped": "no exact head adapter: head-mode relearning needs the head inputs"}
            continue
        out["per_model"][name] = _model_row(name, m, inp, cfg, draws, eval_idx, eval_y)
    return {"relearn": out}
