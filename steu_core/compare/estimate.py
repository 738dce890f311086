"""How long a comparison's deep audits will take, said before the start, from per-step costs measured on
this machine with this model (never from constants).

:func:`measure_step_costs` times, on the model itself at the request's note length, the three steps the
deep audits repeat: an encoder pass that keeps every layer's hidden states (per note), one step of the
full-model relearning attacker (every weight, Adam, one batch of 2n notes), and one cross-validated
logistic fit of the probes and learned attacks (per note and feature). :func:`estimate_audits` counts
how often each audit takes each step for the request's notes and models, and multiplies. The counts of the
relearning attacker are its bound: every draw of every edited model running to ``max_steps`` (a model
that gives the class back early stops early), and the original recognising the class at once, so the
figure is what the audits take at most at the load the costs were measured under: a machine that gets
busier meanwhile takes longer (README gives a measured case). The quick checks (bootstrap
intervals, the head-only attacker on cached features) take seconds and are left out.

Each finished audit records the seconds it took (``elapsed_s`` in comparison.json), to set beside this.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..audits.deep import DEEP_AUDITS
from ..audits.relearn_full import NAME as RELEARN_FULL, QUICK, FullRelearnSettings
from ..demo import resolve_model_path
from ..format import duration, minutes
from ..methods import METHODS
from ..model import Classifier, load_classifier
from ..reference import ORACLE
from ..request import CompareRequest
from ..runs import load_request_data
from ..stats import cross_validated_scores

CALIBRATION_NOTES = 16   # notes per timed encoder pass
FIT_ROWS = 200           # rows of the timed logistic fit (features: 4 x the hidden size)
REPEATS = 2              # each step timed after one untimed warm-up; the faster repeat is kept


@dataclass(frozen=True)
class StepCosts:
    """Seconds per step on this machine, for one model at one note length."""

    forward_per_note_s: float   # an encoder pass keeping every layer's hidden states, per note
    train_step_s: float         # one full-model Adam step on a batch of 2n notes
    fit_per_cell_s: float       # a cross-validated logistic fit, per note x feature x fold
    max_length: int
    batch_notes: int            # 2n, the relearning attacker's batch
    threads: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AuditSizes:
    """What the deep audits work on: counts of notes and models, and the model's shape."""

    forget: int
    eval: int
    eval_forget_class: int
    retain_sample: int
    models: int                 # the original and every method's model
    has_oracle: bool
    depths: int                 # the embeddings and every encoder layer
    hidden: int


def _best_of(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up: first calls allocate buffers and optimizer state
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _synthetic_ids(clf: Classifier, notes: int, length: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-length notes of ordinary vocabulary tokens (no padding: the most a note at this length costs)."""
    vocab = int(clf.model.get_input_embeddings().weight.shape[0])
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(min(1000, vocab - 1), vocab, (notes, length), generator=g).to(clf.device)
    return ids, torch.ones_like(ids)


def measure_step_costs(clf: Classifier, max_length: int, n: int | None = None) -> StepCosts:
    """Time the deep audits' three repeated steps on ``clf`` (a copy is trained; ``clf`` is never changed)."""
    n = n or FullRelearnSettings().n
    model = clf.model
    model.eval()
    ids, mask = _synthetic_ids(clf, CALIBRATION_NOTES, max_length)
    with torch.no_grad():
        forward = _best_of(lambda: model(input_ids=ids, attention_mask=mask, output_hidden_states=True))
    attacker = copy.deepcopy(model)
    attacker.eval()
    for p in attacker.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(attacker.parameters(), lr=1e-9)
    tid, tmask = _synthetic_ids(clf, 2 * n, max_length, seed=1)
    y = torch.zeros(2 * n, dtype=torch.long, device=tid.device)

    def step() -> None:
        loss = F.cross_entropy(attacker(input_ids=tid, attention_mask=tmask).logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    train = _best_of(step)
    del attacker, opt
    hidden = int(getattr(model.config, "hidden_size", 256))
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((FIT_ROWS, 4 * hidden)), np.arange(FIT_ROWS) % 2
    fit = _best_of(lambda: cross_validated_scores(x, labels, 2, 1.0, 0), repeats=1)
    return StepCosts(forward_per_note_s=forward / CALIBRATION_NOTES, train_step_s=train,
                     fit_per_cell_s=fit / (FIT_ROWS * 4 * hidden * 2), max_length=max_length, batch_notes=2 * n,
                     threads=torch.get_num_threads())


def passing_models(methods: list[str]) -> int:
    """Models whose notes pass the encoder again: the original, and each method whose encoder or embeddings
    changed (at most every note; a head-only edit reuses the original's features and hidden states)."""
    return 1 + sum(1 for m in methods if getattr(METHODS.get(m), "edits", "everything") != "head")


def scoring_notes(methods: list[str], sizes: AuditSizes) -> int:
    """Encoder passes of the scoring before the audits."""
    return (sizes.forget + sizes.eval + sizes.retain_sample) * passing_models(methods)


def relearn_full_seconds(settings: dict, sizes: AuditSizes, costs: StepCosts) -> float:
    """The full-model attacker at most: every edited model's draws to the step bound, each check a pass over
    the evaluation sample; the original checked once per draw."""
    cfg = FullRelearnSettings.from_dict(settings)
    eval_notes = min(sizes.eval, cfg.eval_max)
    checks = cfg.max_steps // cfg.check_every + (1 if cfg.max_steps % cfg.check_every else 0) + 1
    check_s = eval_notes * costs.forward_per_note_s
    train_s = costs.train_step_s * (2 * cfg.n) / costs.batch_notes
    per_draw = cfg.max_steps * train_s + checks * check_s
    return cfg.draws * ((sizes.models - 1) * per_draw + check_s)


def audit_seconds(name: str, settings: dict, sizes: AuditSizes, costs: StepCosts, passing: int) -> float:
    """One deep audit's estimated seconds (0 for the ones that take seconds); ``passing``: the models whose
    notes pass the encoder again (:func:`passing_models`)."""
    fwd, fit = costs.forward_per_note_s, costs.fit_per_cell_s
    if name == RELEARN_FULL:
        return relearn_full_seconds(settings, sizes, costs)
    if name == "hidden_mia":
        notes = sizes.forget + sizes.eval_forget_class
        return passing * notes * fwd + sizes.models * fit * notes * sizes.depths * sizes.hidden * 2
    if name == "layer_probe":
        notes = min(sizes.eval, int(settings.get("eval_max", 600)))
        folds = int(settings.get("folds", 5))
        return passing * notes * fwd + sizes.models * fit * notes * sizes.hidden * folds * (sizes.depths + 1)
    if name == "reference_mia":
        n_ref = int(settings.get("n_reference", 8))
        rows = sizes.retain_sample + (sizes.forget + sizes.eval_forget_class) // 2
        base = 0 if sizes.has_oracle else (sizes.forget + sizes.eval_forget_class + sizes.retain_sample) * fwd
        return base + n_ref * fit * rows * sizes.hidden
    return 0.0


def estimate_audits(audits: list[str], settings: dict, methods: list[str], sizes: AuditSizes,
                    costs: StepCosts) -> dict:
    """``{"per_audit": {name: seconds}, "scoring_s", "total_s"}`` for the audits with ``settings``
    (a request's :meth:`~steu_core.request.CompareRequest.deep_audit_settings`)."""
    passing = passing_models(methods)
    per_audit = {name: round(audit_seconds(name, settings.get(name) or {}, sizes, costs, passing), 1)
                 for name in audits}
    scoring = round(scoring_notes(methods, sizes) * costs.forward_per_note_s, 1)
    return {"per_audit": per_audit, "scoring_s": scoring, "total_s": round(scoring + sum(per_audit.values()), 1)}


def both_sets(audits: list[str], given: dict, methods: list[str], sizes: AuditSizes, costs: StepCosts) -> dict:
    """The estimate with the CPU-sized relearning set and with the full set (the ``--full-relearning``
    switch), ``given`` the request's own audit settings (they override either set)."""
    quick = {**given, RELEARN_FULL: {**QUICK, **given.get(RELEARN_FULL, {})}}
    return {"quick": estimate_audits(audits, quick, methods, sizes, costs),
            "full": estimate_audits(audits, given, methods, sizes, costs), "costs": costs.as_dict()}


def sizes_of(clf: Classifier, forget: int, evaluation: int, eval_forget_class: int, retain: int,
             methods: list[str], retain_sample: int) -> AuditSizes:
    cfg = clf.model.config
    return AuditSizes(forget=forget, eval=evaluation, eval_forget_class=eval_forget_class,
                      retain_sample=min(retain_sample, retain), models=len(methods) + 1, has_oracle=ORACLE in methods,
                      depths=int(getattr(cfg, "num_hidden_layers", 6)) + 1, hidden=int(getattr(cfg, "hidden_size", 256)))


def estimate_request(req: CompareRequest, clf: Classifier | None = None, costs: StepCosts | None = None) -> dict:
    """:func:`both_sets` for a comparison request: its notes counted from its files (read and checked as the
    comparison will read them), the step costs measured on its model unless given."""
    clf = clf or load_classifier(resolve_model_path(req.model), device=req.device)
    _, evaluation, forget, retain, fc = load_request_data(req.unlearn_request(req.methods[0], "unused"), clf)
    in_class = sum(1 for label in evaluation.labels if label == clf.labels[fc])
    sizes = sizes_of(clf, len(forget), len(evaluation), in_class, len(retain), req.methods, req.retain_sample)
    costs = costs or measure_step_costs(clf, req.max_length)
    return both_sets(list(req.audits or DEEP_AUDITS), req.audit_settings, req.methods, sizes, costs)


def chosen(estimate: dict, full: bool) -> dict:
    """The estimate of the set a request runs (``full``: ``--full-relearning``)."""
    return estimate["full" if full else "quick"]


def estimate_lines(estimate: dict, full: bool) -> list[str]:
    """The estimate in words, before the start: the set that will run and the other one."""
    quick, whole = estimate["quick"], estimate["full"]
    costs = estimate["costs"]
    return [f"Estimated time of the scoring and deep audits on this machine, at its load now: at most about "
            f"{minutes(chosen(estimate, full)['total_s'])} with the {'full' if full else 'CPU-sized'} relearning set "
            f"({'--full-relearning' if full else 'the default'}); with the "
            f"{'CPU-sized set (the default)' if full else 'full set (--full-relearning)'}: at most "
            f"{minutes((quick if full else whole)['total_s'])}. The methods' own runs come on top.",
            f"  measured here: an encoder pass {costs['forward_per_note_s'] * 1000:.0f} ms per note, a full-model "
            f"training step on {costs['batch_notes']} notes {costs['train_step_s']:.2f} s ({costs['threads']} "
            f"threads, {costs['max_length']} tokens)"]


def measured_lines(comparison: dict, estimate: dict) -> list[str]:
    """Each deep audit's measured seconds beside its estimate (after the comparison)."""
    lines = [f"Whole comparison: {duration(comparison.get('total_seconds'))}. Deep audits, measured (estimated at "
             f"most):"]
    for name, audit in (comparison.get("audits") or {}).items():
        if isinstance(audit, dict) and audit.get("elapsed_s") is not None:
            guess = (estimate.get("per_audit") or {}).get(name)
            lines.append(f"  {name}: {duration(audit['elapsed_s'])}"
                         + (f" ({duration(guess)})" if guess else ""))
    return lines
