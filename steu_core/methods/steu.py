"""STEU: Sparse Token Embedding Unlearning (arXiv 2603.19302).

Only the k PMI-selected rows of the input word-embedding matrix and the classification head are
trained; every encoder parameter is frozen. The rows live in a separate k x d tensor swapped in by a
forward hook (:class:`~steu_core.model.RowOverride`) and are written into a copy of the model at the
end, so nothing else can move.

Objective per step: cross-entropy on a retain batch + lambda * mean(-log(1 - p_forget)) on a forget
batch. The model stays in eval mode (no dropout). Examples that contain none of the selected tokens
have the same encoder output before and after the edit, so their head inputs come from a cache
computed once; only examples with a selected token need an encoder pass per step.
"""
from __future__ import annotations

import math
import time
from contextlib import closing
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import distributed, lanes
from ..errors import Cancelled, ConfigError
from ..model import Classifier, RowOverride, head_logits, seed_everything
from ..pmi import TokenScore, check_k_fits, coverage, k_from_budget, select_tokens
from .base import AllowedChanges, MethodResult, UnlearnContext, config_from_dict, register
from .calibration import CROSSING_AUC, auc_against_calibration, cache_calibration_inputs, calibration_pool
from .pools import TrainingPool, pool_logits, pool_outputs, spread_targets, step_gradients
from .sampling import Cycler, stratified_sample
from .steu_settings import SPREAD, SteuConfig, allowed_hits, f1_from_hits, f1_on_forget  # noqa: F401 (re-exported)


def default_min_df(n_forget: int) -> int:
    """Rare tokens that happen to occur only in forget notes top a PMI ranking without carrying the
    class; asking for 3 % of the forget notes (2 to 5 notes) selects words of the class instead."""
    return int(min(5, max(2, math.ceil(0.03 * n_forget))))


def rows_to_edit(cfg: SteuConfig, clf: Classifier) -> int:
    """k: given, or the rows the parameter budget pays for once the head is paid; a k the vocabulary cannot
    hold is refused. Needs the model but not the notes, so a run checks it before any work (``check_model``)."""
    k = cfg.k if cfg.k is not None else k_from_budget(clf.params_total, clf.head_params_total,
                                                       clf.hidden_size, cfg.budget)
    check_k_fits(k, int(clf.embedding.weight.shape[0]))
    return k


def choose_tokens(ctx: UnlearnContext, cfg: SteuConfig) -> list[TokenScore]:
    clf = ctx.original
    k = rows_to_edit(cfg, clf)
    min_df = cfg.min_df if cfg.min_df is not None else default_min_df(len(ctx.forget))
    return select_tokens(ctx.forget.ids, ctx.retain.ids, clf.tokenizer, k, min_df=min_df,
                         alpha=cfg.alpha, vocab_size=int(clf.embedding.weight.shape[0]),
                         count=distributed.document_frequency)


@dataclass
class _Edit:
    """A copy of the original with its trainable tensors: the k x d selected rows (swapped in by
    ``override`` during training, written into the embedding at the end) and/or the head."""

    clf: Classifier
    embedding: torch.nn.Embedding
    row_ids: list[int]
    rows: torch.Tensor
    override: RowOverride | None
    groups: list[dict]              # Adam parameter groups

    @property
    def trainable(self) -> list[torch.Tensor]:
        return [p for g in self.groups for p in g["params"]]


@dataclass
class _Training:
    """What every step of one STEU run reads."""

    ctx: UnlearnContext
    cfg: SteuConfig
    edit: _Edit
    use_cache: bool
    forget_pool: TrainingPool
    retain_pool: TrainingPool
    forget_logits: torch.Tensor | None = None  # of the last full check: the final model's, once training ends
    forget_feats: torch.Tensor | None = None   # the head inputs behind them (None without a head adapter)
    calibration: TrainingPool | None = None    # held-out notes of the class a calibrated stop scores

    @property
    def forget_class(self) -> int:
        return self.ctx.forget_class_id


def run_sparse_unlearning(ctx: UnlearnContext, cfg: SteuConfig, selected: list[TokenScore],
                          use_cache: bool = True, scores: dict | None = None) -> tuple[Classifier, dict]:
    """Train the selected rows and/or the head of a copy of the original; return the copy and a log.
    ``scores``, when given, receives ``forget_logits``: the returned model's logits on ``ctx.forget``
    from the last check of the stopping rule (which always scores the final model), and ``forget_features``,
    the head inputs they came from."""
    edit = _trainable_copy(ctx, cfg, selected)
    opt = torch.optim.Adam(edit.groups)  # no weight decay: only the trainable tensors carry optimizer state
    use_cache = use_cache and edit.clf.adapter is not None
    run = _Training(ctx, cfg, edit, use_cache, *_training_pools(ctx, cfg, edit.row_ids),
                    calibration=calibration_pool(ctx, cfg.stop_at, cfg.train_rows, edit.row_ids))
    t0 = time.perf_counter()
    if use_cache:
        _cache_head_inputs(run)
    if cfg.forget_target == SPREAD:
        run.forget_pool.targets = _original_spread(run)
    cache_s = time.perf_counter() - t0
    start = _starting_point(run)
    history, stopped_early, steps, end = _optimise(run, opt, start, t0)
    _write_rows(edit)
    if scores is not None:
        scores["forget_logits"], scores["forget_features"] = run.forget_logits, run.forget_feats
    log = {"steps": steps, "max_steps": cfg.max_steps, "forget_target": cfg.forget_target, "stop_at": cfg.stop_at,
           "stopped_early": stopped_early, "history": history,
           "forget_f1_on_forget_set": {"start": start[0], "end": end[0]},
           "retain_loss_on_pool": {"start": start[1], "end": end[1]},
           "cache_seconds": cache_s, "feature_cache": use_cache,
           "forget_touched": int(run.forget_pool.touched.sum()), "retain_pool": len(run.retain_pool),
           "calibration_notes": len(run.calibration) if run.calibration is not None else 0,
           "retain_pool_touched": int(run.retain_pool.touched.sum())}
    return edit.clf, log


def _trainable_copy(ctx: UnlearnContext, cfg: SteuConfig, selected: list[TokenScore]) -> _Edit:
    """A frozen copy of the original in eval mode, with only the rows and/or the head set to train."""
    seed_everything(ctx.seed)
    new = ctx.original.copy()
    model = new.model
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    row_ids = [t.id for t in selected]
    emb = new.embedding
    rows = emb.weight.detach()[torch.as_tensor(row_ids, dtype=torch.long, device=new.device)].clone()
    override = None
    groups = []
    if cfg.train_rows and row_ids:
        rows.requires_grad_(True)
        override = RowOverride(emb, row_ids, rows)
        groups.append({"params": [rows], "lr": cfg.lr_rows})
    if cfg.train_head:
        params = dict(model.named_parameters())
        head = [params[n] for n in new.head_param_names]
        for p in head:
            p.requires_grad_(True)
        groups.append({"params": head, "lr": cfg.lr_head})
    if not groups:
        raise ConfigError("nothing to train: both the rows and the head are frozen.")
    return _Edit(new, emb, row_ids, rows, override, groups)


def _training_pools(ctx: UnlearnContext, cfg: SteuConfig, row_ids: list[int]) -> tuple[TrainingPool, TrainingPool]:
    """The forget set and a stratified retain sample, each knowing which examples carry a selected token."""
    forget_labels = torch.full((len(ctx.forget),), ctx.forget_class_id, dtype=torch.long)
    f_touched = coverage(ctx.forget.ids, row_ids) if cfg.train_rows else np.zeros(len(ctx.forget), bool)
    pool_idx = stratified_sample(ctx.retain_labels, cfg.retain_pool, ctx.seed)
    r_enc = retain_pool_notes(ctx, cfg, pool_idx)
    r_labels = ctx.retain_labels[pool_idx]
    r_touched = coverage(r_enc.ids, row_ids) if cfg.train_rows else np.zeros(len(r_enc), bool)
    return TrainingPool(ctx.forget, forget_labels, f_touched, None), TrainingPool(r_enc, r_labels, r_touched, None)


def retain_pool_notes(ctx: UnlearnContext, cfg: SteuConfig, pool_idx=None):
    """The retain notes of the retain term (a stratified sample), whose original head inputs are cached."""
    return ctx.retain.subset(pool_idx if pool_idx is not None else
                             stratified_sample(ctx.retain_labels, cfg.retain_pool, ctx.seed))


def _cache_head_inputs(run: _Training) -> None:
    """Head inputs of the unedited model for every pool example: exact forever for the examples
    without a selected token, and the exact starting point for the others."""
    ctx = run.ctx
    ctx.report(stage="cache", step=0, total=run.cfg.max_steps, losses={}, elapsed_s=0.0)
    run.forget_pool.feats = (ctx.forget_features if ctx.forget_features is not None
                             else distributed.compute_features(ctx.original, ctx.forget))
    enc = run.retain_pool.enc
    compute = lambda: distributed.compute_features(ctx.original, enc)  # noqa: E731
    run.retain_pool.feats = ctx.original_features(enc, compute) if ctx.original_features else compute()
    if run.calibration is not None:
        cache_calibration_inputs(ctx, run.calibration)


def _original_spread(run: _Training) -> torch.Tensor:
    """The soft targets of the 'spread' forget term: the original's probabilities on each forget note with the
    class removed (from the cached head inputs where there are some: the original's exact ones)."""
    ctx = run.ctx
    logits = (head_logits(ctx.original, run.forget_pool.feats) if run.use_cache
              else distributed.compute_logits(ctx.original, ctx.forget))
    return spread_targets(logits, ctx.forget_class_id).cpu()


def _evaluate(run: _Training, stop_above: int | None = None) -> tuple[float, float] | int:
    """(forget F1 on the forget set, retain loss on the retain pool) of the model as edited so far.

    With ``stop_above`` (one process only), scoring stops at the first chunk of the forget set that
    brings the notes still predicted as the class above that many, and their count is returned
    instead: the check has failed, and the rest would not change that."""
    clf, override, use_cache = run.edit.clf, run.edit.override, run.use_cache
    forget_pool, retain_pool = run.forget_pool, run.retain_pool
    score = lambda pool: lambda b: pool_logits(clf, pool, b, override, use_cache)  # noqa: E731
    scored = lambda b: pool_outputs(clf, forget_pool, b, override, use_cache)  # noqa: E731
    n_classes = len(clf.labels)
    with torch.no_grad():  # with several processes each scores its share of the chunks
        if stop_above is None or distributed.current().enabled:
            out = distributed.map_rows(len(forget_pool), scored, device=clf.device)
        else:
            out = _forget_logits_until(run, scored, stop_above, n_classes)
            if isinstance(out, int):
                return out
        rl = distributed.map_rows(len(retain_pool), score(retain_pool), device=clf.device)
    fl = out[:, :n_classes]
    run.forget_logits = fl.cpu()
    run.forget_feats = out[:, n_classes:].cpu() if clf.adapter is not None else None
    return f1_on_forget(fl.argmax(-1).cpu(), run.forget_class), float(F.cross_entropy(rl.float().cpu(),
                                                                                      retain_pool.labels))


def _forget_logits_until(run: _Training, score, stop_above: int, n_classes: int) -> torch.Tensor | int:
    """The forget set's scores (logits in the first ``n_classes`` columns) in map_rows' chunks (so
    bit-identical to it), or the count of class predictions as soon as it exceeds ``stop_above`` (the
    chunks still being scored are then dropped)."""
    hits, parts = 0, []
    chunks = distributed.row_chunks(len(run.forget_pool), run.edit.clf.device)
    with closing(lanes.imap(score, chunks, run.edit.clf.device)) as outcomes:
        for outcome in outcomes:
            parts.append(outcome.result())
            hits += int((parts[-1][:, :n_classes].argmax(-1) == run.forget_class).sum())
            if hits > stop_above:
                return hits
    return torch.cat(parts)


def _starting_point(run: _Training) -> tuple[float, float]:
    """:func:`_evaluate` before the first step; from the cache when there is one (exact: nothing is
    edited yet)."""
    if not run.use_cache:
        return _evaluate(run)
    clf = run.edit.clf
    f1 = f1_on_forget(head_logits(clf, run.forget_pool.feats).argmax(-1), run.forget_class)
    return f1, float(F.cross_entropy(head_logits(clf, run.retain_pool.feats), run.retain_pool.labels))


def _optimise(run: _Training, opt: torch.optim.Optimizer, start: tuple[float, float],
              t0: float) -> tuple[list[dict], bool, int, tuple[float, float]]:
    """Steps until the stopping rule holds or ``max_steps``: (history, stopped early, steps taken,
    (forget F1, retain loss) at the end)."""
    ctx, cfg = run.ctx, run.cfg
    gen = torch.Generator().manual_seed(ctx.seed)
    f_order, r_order = Cycler(len(run.forget_pool), gen), Cycler(len(run.retain_pool), gen)
    history, stopped_early, step = [], False, 0
    end = start
    micro = cfg.batch_size
    for step in range(1, cfg.max_steps + 1):
        if ctx.cancelled():
            raise Cancelled("the unlearning run was cancelled")
        entry, micro = _train_step(run, opt, step, f_order.take(cfg.batch_size), r_order.take(cfg.batch_size), micro)
        history.append(entry)
        ctx.report(stage="unlearn", step=step, total=cfg.max_steps,
                   losses={"loss": entry["loss"], "retain": entry["retain_loss"], "forget": entry["forget_loss"]},
                   elapsed_s=time.perf_counter() - t0)
        # a full check only when the batch already shows no forget-class prediction
        if step >= cfg.min_steps and step % cfg.check_every == 0 and entry["forget_hits"] == 0:
            checked = _check(run, stop_above=allowed_hits(len(run.forget_pool), cfg.forget_f1_target))
            if isinstance(checked, int):  # failed on the forget set: a lower bound of its F1 is enough
                entry.update(forget_f1_at_least=f1_from_hits(checked, len(run.forget_pool)))
                continue
            end = checked
            entry.update(forget_f1=end[0], retain_eval_loss=end[1])
            if end[0] <= cfg.forget_f1_target and end[1] <= start[1] + cfg.retain_tolerance and _calibrated(run, entry):
                stopped_early = True
                break
    if not stopped_early:
        end = _check(run, doing="scoring the final model")
    return history, stopped_early, step, end


def _calibrated(run: _Training, entry: dict) -> bool:
    """True without a calibration pool; else whether the forget notes no longer look more familiar than the held-out
    calibration notes (:mod:`.calibration`), the AUC written into the step's history entry."""
    if run.calibration is None:
        return True
    edit = run.edit
    auc = auc_against_calibration(edit.clf, run.calibration, run.forget_logits, run.forget_class, edit.override,
                                  run.use_cache)
    entry.update(loss_auc_vs_calibration=auc)
    return auc <= CROSSING_AUC


def _check(run: _Training, stop_above: int | None = None,
           doing: str = "checking the stopping rule") -> tuple[float, float] | int:
    """:func:`_evaluate`, with the run's progress saying so while it scores (the longest pause
    between two steps: seconds on a CPU)."""
    run.ctx.report(activity=f"{doing} on the {len(run.forget_pool):,} forget notes")
    try:
        return _evaluate(run, stop_above)
    finally:
        run.ctx.report(activity="")


def _train_step(run: _Training, opt: torch.optim.Optimizer, step: int, fb: list[int], rb: list[int],
                micro: int) -> tuple[dict, int]:
    """One optimiser step on forget batch ``fb`` and retain batch ``rb``: its history entry, and the
    micro-batch size that fitted in memory."""
    edit, cfg = run.edit, run.cfg
    opt.zero_grad(set_to_none=True)
    (retain_loss, f_loss, batch_hits), micro = step_gradients(
        edit.clf, run.forget_pool, run.retain_pool, fb, rb, edit.override, run.use_cache, run.forget_class,
        cfg.forget_weight, edit.trainable, micro)
    opt.step()
    loss = retain_loss + cfg.forget_weight * f_loss
    return {"step": step, "loss": loss, "retain_loss": retain_loss, "forget_loss": f_loss,
            "forget_hits": batch_hits}, micro


def _write_rows(edit: _Edit) -> None:
    """Write the trained rows into the copy's embedding matrix and freeze it again."""
    with torch.no_grad():
        if edit.override is not None:
            index = torch.as_tensor(edit.row_ids, dtype=torch.long, device=edit.clf.device)
            edit.embedding.weight[index] = edit.rows.detach().to(edit.embedding.weight.dtype)
    for p in edit.clf.model.parameters():
        p.requires_grad_(False)
    edit.clf.model.eval()


@register("steu")
class Steu:
    """PMI-selected embedding rows + classification head (the paper's method)."""

    Config = SteuConfig
    description = "Sparse Token Embedding Unlearning: the k PMI-selected embedding rows and the head."
    label = "STEU"
    edits = "rows+head"
    how = ("STEU (Sparse Token Embedding Unlearning): the tokens most specific to the forgotten class are "
           "chosen by pointwise mutual information (PMI) on the forget set; only their rows of the input "
           "token-embedding matrix and the classification head are trained, to push predictions away from the "
           "class while keeping the other classes right. Every encoder parameter stays frozen.")
    limitations = (
        ("What STEU changes",
         "STEU edits only the classification head and a small number of rows of the input token-embedding matrix, "
         "the rows of the words most specific to the forgotten class. The encoder (every attention and "
         "feed-forward layer) is not touched, and this report shows that it is bit-identical to the original."),
        ("What that means",
         "The removal is behavioural suppression: the model stops predicting the class. It is not proof that "
         "information about the class is gone from the model. The encoder's internal representations are "
         "unchanged, so a new classifier trained on top of them, or a small amount of fine-tuning, may recover "
         "the class. The class also keeps its output slot in the head."),
    )

    def __init__(self, settings: dict | None = None, use_cache: bool = True):
        self.cfg = config_from_dict(self.Config, settings)
        self.use_cache = use_cache

    def check_model(self, clf: Classifier) -> None:
        """The settings that need the model but not the notes (k, the budget): before any work."""
        rows_to_edit(self.cfg, clf)

    def select(self, ctx: UnlearnContext) -> list[TokenScore]:
        return choose_tokens(ctx, self.cfg)

    def original_notes(self, ctx: UnlearnContext) -> list:
        """The notes whose original head inputs :meth:`run` asks ``ctx.original_features`` for: a request can
        have them computed ahead (:mod:`steu_core.runs.precompute`)."""
        return [retain_pool_notes(ctx, self.cfg)] if self.use_cache else []

    def allowed(self, selected: list[TokenScore]) -> AllowedChanges:
        return AllowedChanges(embedding_rows=[t.id for t in selected] if self.cfg.train_rows else None,
                              head=self.cfg.train_head)

    def run(self, ctx: UnlearnContext) -> MethodResult:
        t0 = time.perf_counter()
        selected = self.select(ctx)
        t1 = time.perf_counter()
        scores: dict = {}
        new, log = run_sparse_unlearning(ctx, self.cfg, selected, use_cache=self.use_cache, scores=scores)
        t2 = time.perf_counter()
        return MethodResult(model=new, allowed=self.allowed(selected), selected_tokens=selected,
                            encoder_changed=False, training=log, settings=asdict(self.cfg),
                            seconds={"select": t1 - t0, "unlearn": t2 - t1}, forget_logits=scores["forget_logits"],
                            forget_features=scores["forget_features"])
