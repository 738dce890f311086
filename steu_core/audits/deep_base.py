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

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from ..errors import Cancelled
from ..reference import ORACLE  # noqa: F401  (re-exported: the audits' name for it)
from ..model import Classifier, Encoded, pad_batch, pad_id
from ..stats import N_BOOTSTRAP, cross_validated_scores, median_interval, one_vs_rest_f1
from .base import registrar

ORIGINAL = "original"


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
    changed_rows: list[int] | None = None  # with the encoder bit-identical: the embedding rows that changed


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
    layer_cache: dict = field(default_factory=dict)  # (model, set, notes) -> every depth's pooled states

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

    def each_model(self, audit: str) -> Iterator[tuple[str, ModelOutputs]]:
        """Every model, with the audit's progress (model i of N, by name) and a cancel check before each."""
        for k, (name, m) in enumerate(self.models.items()):
            self.stop_if_cancelled()
            self.report(stage=f"audit:{audit}", model=name, step=k, total=len(self.models),
                        activity=f"model {k + 1} of {len(self.models)}: {name}")
            yield name, m


DEEP_AUDITS: dict[str, Callable[[DeepInputs], dict]] = {}


register_deep_audit = registrar(DEEP_AUDITS)


def run_deep_audits(inputs: DeepInputs, names: Sequence[str] | None = None) -> dict:
    """The audits ``names`` (default: all, in registry order); each result carries the seconds it took
    (``elapsed_s``). Progress: the audit's place among them, then the audit's own steps and activity."""
    out: dict = {}
    names = list(names or DEEP_AUDITS)
    for i, name in enumerate(names, start=1):
        inputs.stop_if_cancelled()
        inputs.report(stage=f"audit:{name}", audit_index=i, audit_count=len(names), step=0, total=0, activity="",
                      model=None)
        t0 = time.perf_counter()
        result = DEEP_AUDITS[name](inputs)
        if isinstance(result.get(name), dict):
            result[name]["elapsed_s"] = round(time.perf_counter() - t0, 2)
        out.update(result)
    return out


def true_label_logprob(logits: torch.Tensor, label: int) -> np.ndarray:
    """log p(label | x) of every row of ``logits``."""
    return torch.log_softmax(logits.float(), dim=-1)[:, label].numpy()


# Settings checks of the deep audits, run when a comparison request is validated (before any method
# runs), so a bad setting is refused at once rather than after hours of unlearning.
AUDIT_SETTINGS_CHECKS: dict[str, Callable[[dict], object]] = {}
register_settings_check = registrar(AUDIT_SETTINGS_CHECKS)


def check_audit_settings(name: str, settings: dict) -> None:
    """Raise :class:`~steu_core.errors.ConfigError` when ``settings`` are invalid for audit ``name``."""
    if name in AUDIT_SETTINGS_CHECKS:
        AUDIT_SETTINGS_CHECKS[name](settings)


def forget_f1(pred: torch.Tensor, y: torch.Tensor, forget_class: int) -> float:
    """One-vs-rest F1 of the forget class (:func:`steu_core.stats.one_vs_rest_f1` of CPU tensors)."""
    return one_vs_rest_f1(y.cpu().numpy(), pred.cpu().numpy(), forget_class)


def relearn_draws(inp: DeepInputs, n: int, draws: int, salt: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``draws`` draws of (n forget-set notes, n retain notes): the same for every model of a comparison."""
    rng = np.random.default_rng(inp.seed + 1000 * n + salt)
    return [(rng.choice(len(inp.forget), min(n, len(inp.forget)), replace=False),
             rng.choice(len(inp.retain), min(n, len(inp.retain)), replace=False)) for _ in range(draws)]


def steps_text(v: float, max_steps: int) -> str:
    """A relearning step count; a censored one (never relearned within the bound) says so."""
    return f"never within {max_steps}" if v > max_steps else f"{v:g}"


def censored_median(vals: np.ndarray, max_steps: int) -> float:
    """The median of step counts; with an even count whose upper middle value is censored, the lower
    middle value (the true median lies at or above it: averaging with the stand-in would invent a number)."""
    x = np.sort(vals)
    n = len(x)
    if n % 2 == 0 and x[n // 2] > max_steps >= x[n // 2 - 1]:
        return float(x[n // 2 - 1])
    return float(np.median(x))


def steps_summary(steps: list[int | None], max_steps: int) -> dict:
    """Median steps over the draws with a distribution-free (order-statistic) interval; a draw that never
    relearned (None) is right-censored, stored as ``max_steps + 1`` and shown as "never within max"."""
    censored = max_steps + 1
    vals = np.array([censored if s is None else s for s in steps], dtype=float)
    median = censored_median(vals, max_steps)
    ci, coverage = median_interval(vals)
    return {"steps": [None if s is None else int(s) for s in steps], "median_steps": median,
            "median_steps_ci": ci, "ci_coverage": coverage,
            "ci_method": "order statistics of the draws (distribution-free; exact binomial coverage)",
            "never": int(sum(s is None for s in steps)), "max_steps": max_steps,
            "median_censored": median > max_steps, "text": steps_text(median, max_steps),
            "ci_text": f"[{steps_text(ci[0], max_steps)}, {steps_text(ci[1], max_steps)}]",
            "censored_value": censored}


def layer_features(clf: Classifier, enc: Encoded, idx: np.ndarray, batch_size: int = 32) -> list[np.ndarray]:
    """Mean-pooled hidden states of every depth (embeddings, then each encoder layer) of notes ``idx`` of ``enc``."""
    pad, dev = pad_id(clf.tokenizer), clf.device
    per_layer: list[list[np.ndarray]] = []
    clf.model.eval()
    with torch.no_grad():
        for s in range(0, len(idx), batch_size):
            ids, mask = pad_batch([enc.ids[int(i)] for i in idx[s:s + batch_size]], pad, dev)
            hidden = clf.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            w = mask.unsqueeze(-1).float()
            pooled = [((h.float() * w).sum(1) / w.sum(1).clamp(min=1)).cpu().numpy() for h in hidden]
            if not per_layer:
                per_layer = [[] for _ in pooled]
            for store, x in zip(per_layer, pooled):
                store.append(x)
    return [np.concatenate(xs) for xs in per_layer]


def model_layer_features(inp: DeepInputs, name: str, which: str, idx: np.ndarray) -> list[np.ndarray]:
    """:func:`layer_features` of notes ``idx`` of set ``which`` ("forget" or "eval") under model ``name``, kept
    for the other audits. A model whose encoder is bit-identical to the original's (a sparse or head-only
    edit, ``changed_rows`` known) takes the original's states and passes again only the notes that contain a
    changed embedding row: the other notes' states are the original's (eval mode, same weights, same ids)."""
    key = (name, which, np.asarray(idx).tobytes())
    if key in inp.layer_cache:
        return inp.layer_cache[key]
    m, enc = inp.models[name], getattr(inp, which)
    if name != ORIGINAL and m.changed_rows is not None and ORIGINAL in inp.models:
        feats = [x.copy() for x in model_layer_features(inp, ORIGINAL, which, idx)]
        rows = np.asarray(m.changed_rows, dtype=np.int64)
        todo = np.array([k for k, i in enumerate(idx) if np.isin(enc.ids[int(i)], rows).any()], dtype=int)
        if len(todo):
            for store, x in zip(feats, layer_features(m.clf, enc, np.asarray(idx)[todo])):
                store[todo] = x
    else:
        feats = layer_features(m.clf, enc, np.asarray(idx))
    inp.layer_cache[key] = feats
    return feats


# the probes' one recipe is the statistics module's (the membership attacks of a run use it too)
probe_scores = cross_validated_scores
