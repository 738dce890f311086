"""One deletion request, end to end, as a short list of named steps: model -> data -> tokens -> original
scores -> method -> new model -> new scores -> audits -> evidence -> finished run directory and ledger entry.

Everything is written into a hidden staging directory (:mod:`.staging`) and renamed to ``out`` only
when complete; a failure or a cancel leaves nothing that looks finished. The original model
directory is only ever read. Only one run per model runs at a time (:mod:`steu_core.locks`).
A full disk or an exhausted GPU becomes a :class:`~steu_core.errors.ResourceError` saying what to do.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import distributed
from ..accel import check_precision
from ..audits import AuditInputs, run_audits
from ..audits.param_diff import load_state
from ..demo import resolve_model_path
from ..distributed import compute_features, compute_logits
from ..errors import Cancelled, ConfigError, SteuError, as_user_error, failure_message
from ..ledger import Ledger
from ..locks import model_run_lock
from ..methods import MethodResult, UnlearnContext, check_fits, get_method
from ..model import (Classifier, encode, file_sha256, hash_directory, head_logits, load_classifier,
                     seed_everything, write_json_atomic, write_model)
from ..patch import make_patch, save_patch, saved_embedding_key
from ..pmi import coverage
from ..request import UnlearnRequest
from ..verdicts import compute_verdicts
from . import original_cache, record
from .forget_index import forget_file_sha256, write_forget_index
from .assemble import results_of
from .record import SEED_AUDITS, seed_figures, seed_spread
from .prepare import RequestData, check_max_length, prepare_data
from .staging import EXPLICIT_PAUSE_POINTS, Staging, test_pause


@dataclass
class Scores:
    """Logits of one model on the evaluation and forget notes (and the head inputs used as cache)."""

    eval_logits: torch.Tensor
    forget_logits: torch.Tensor
    eval_feats: torch.Tensor | None = None
    forget_feats: torch.Tensor | None = None


@dataclass
class Run:
    """What the steps hand on to each other."""

    req: UnlearnRequest
    stage: Staging
    dp: object
    progress: Callable[[dict], None] | None
    cancel: Callable[[], bool] | None
    t_start: float = field(default_factory=time.perf_counter)
    seconds: dict = field(default_factory=dict)
    clf: Classifier | None = None
    original_hash: dict | None = None
    data: RequestData | None = None
    enc: dict = field(default_factory=dict)
    eval_labels: np.ndarray | None = None
    before: Scores | None = None
    method: object = None
    ctx: UnlearnContext | None = None
    result: MethodResult | None = None
    seed_summary: dict | None = None
    after: Scores | None = None
    exact_cache: bool = False
    original_cached: bool = False   # the original's scores were read from the cache of earlier requests
    audits: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)
    ledger_request: dict | None = None
    followers_waiting: bool = False
    started: bool = False  # False while the request is only being checked: a failure then is a refusal

    @property
    def run_id(self) -> str:
        return self.stage.out.name

    @property
    def model_dir(self) -> Path:
        return self.clf.path

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


def run_unlearning(req: UnlearnRequest, progress: Callable[[dict], None] | None = None,
                   cancel: Callable[[], bool] | None = None, on_wait: Callable[[dict], None] | None = None) -> Path:
    """Run ``req`` and return the finished run directory. Raises SteuError on any bad input.

    The request is checked first (nothing is written if that fails); then the model's run lock is
    taken (another run on the same model: refused, or waited for up to ``req.lock_wait_s`` seconds,
    calling ``on_wait`` with the holder's pid/out/started once).
    """
    req.validate()
    dp = distributed.setup(req.device)  # several processes (torchrun / accelerate launch): join them
    out = Path(req.out).expanduser().resolve()
    with dp.on_main(lambda: model_run_lock(req.model, out=out, wait_s=req.lock_wait_s, on_wait=on_wait)):
        return run_locked(req, out, progress, cancel)


def run_locked(req: UnlearnRequest, out: Path, progress=None, cancel=None) -> Path:
    """The steps, with the run's model lock held; every failure leaves no finished-looking output."""
    get_method(req.method)  # an unknown method is refused before anything is written
    dp = distributed.current()  # one process unless launched with several; only process 0 writes
    if dp.enabled and req.seeds > 1:  # the extra seeds run on process 0 alone, after the others left
        raise ConfigError(f"--seeds {req.seeds} runs in a single process.",
                          hint="Launch without torchrun / accelerate launch, or use --seeds 1 there.")
    run = Run(req, Staging(out, on_abandoned=lambda prev: record.record_abandoned(out.name, prev)), dp, progress, cancel)
    dp.call_on_main(run.stage.claim)
    try:
        for step in (load_model, load_data, tokenize, score_original, run_method, save_new_model, score_new_model):
            step(run)
        if not dp.is_main:  # audits, files and ledger are process 0's: wait for it, share its outcome
            dp.follow_main()
            return out
        run.followers_waiting = dp.enabled
        for step in (audit, repeat_seeds, write_evidence, finish):
            step(run)
        return out
    except BaseException as exc:
        fail(run, exc)
        raise


# -- the steps ---------------------------------------------------------------------------------
def load_model(run: Run) -> None:
    req = run.req
    run.report({"stage": "model", "step": 0, "total": 0, "losses": {}})
    path = resolve_model_path(req.model, progress=lambda d: run.report({**d, "stage": "prepare-demo-model"}))
    clf = load_classifier(path, device=run.dp.run_device(req.device), allow_pickle=req.allow_pickle)
    clf.precision = check_precision(clf.device, req.precision)
    check_max_length(clf, req.max_length)
    check_fits(req.method, req.settings, clf)  # k and the budget: refused before the request is recorded
    run.clf, run.original_hash = clf, hash_directory(clf.path)


def load_data(run: Run) -> None:
    run.report({"stage": "data"})
    run.data = prepare_data(run.req, run.clf)
    seed_everything(run.req.seed)
    if run.req.record_ledger and run.dp.is_main:
        entry = record.request_entry(run.req, run.run_id, run.model_dir, run.original_hash["sha256"],
                                     run.data.forget, run.clf.labels[run.data.forget_class_id])
        run.ledger_request = Ledger().append("request", entry)
        # in progress.json, so that whoever reclaims this run after a crash can close the request
        run.stage.update(force=True, request_entry=run.ledger_request["entry_hash"], request_id=run.req.request_id)
    run.started = True


def tokenize(run: Run) -> None:
    tok, n, d = run.clf.tokenizer, run.req.max_length, run.data
    total = len(d.forget) + len(d.retain) + len(d.evaluation)
    run.report({"stage": "tokenize", "step": 0, "total": total})
    cached = original_cache.tokens_hook(run)  # the same notes for the same model: read, not tokenised again
    done = [0]  # notes of the sets before this one

    def ids(notes, keep: bool = True) -> object:
        texts = list(notes.texts)
        tell = lambda k: run.report({"step": done[0] + k})  # noqa: E731  (a large file takes minutes)
        out = cached(texts, lambda: encode(tok, texts, n, progress=tell)) if cached and keep else \
            encode(tok, texts, n, progress=tell)
        done[0] += len(texts)
        return out

    # never kept for the forget notes: decoded, their ids give the deleted notes' text back
    run.enc = {"forget": ids(d.forget, keep=False), "retain": ids(d.retain), "eval": ids(d.evaluation)}
    if cached:
        # a fast tokenizer's first call resets the padding state it saves into tokenizer.json: one note
        # through it keeps the new model's files (and hash) the same whether the ids were read or made
        encode(tok, list(d.forget.texts)[:1], n)
    run.eval_labels = np.array([run.clf.labels.index(y) for y in d.evaluation.labels])


def score_original(run: Run) -> None:
    """Scores of the original model; its head inputs double as the exact feature cache. They are
    kept between requests (:mod:`.original_cache`), so a second request on the same model reads them."""
    t0 = time.perf_counter()
    enc, bs, clf = run.enc, run.req.batch_size, run.clf
    run.report({"stage": "score-original", "step": 0, "total": len(enc["eval"]) + len(enc["forget"])})

    n_eval = len(enc["eval"])
    eval_done = lambda k, _n: run.report({"step": k})  # noqa: E731  (the step count shows the scoring's pace)
    forget_done = lambda k, _n: run.report({"step": n_eval + k})  # noqa: E731

    def compute() -> dict:
        cache = run.req.use_cache
        feats_eval = compute_features(clf, enc["eval"], bs, eval_done) if cache else None
        feats_forget = compute_features(clf, enc["forget"], bs, forget_done) if cache else None
        return {"eval_logits": compute_logits(clf, enc["eval"], bs, feats=feats_eval,
                                              progress=None if cache else eval_done),
                "forget_logits": compute_logits(clf, enc["forget"], bs, feats=feats_forget,
                                                progress=None if cache else forget_done),
                "eval_feats": feats_eval, "forget_feats": feats_forget}

    found, run.original_cached = original_cache.scores(original_cache.key_for(run), compute, len(enc["eval"]),
                                                       len(enc["forget"]), clf.device)
    run.before = Scores(**found)
    run.seconds["score_original"] = time.perf_counter() - t0
    if run.is_cancelled():
        raise Cancelled("the run was cancelled")


def run_method(run: Run) -> None:
    req, clf, d = run.req, run.clf, run.data
    run.method = method = get_method(req.method)(req.settings, use_cache=req.use_cache)
    run.ctx = ctx = UnlearnContext(original=clf, forget=run.enc["forget"], retain=run.enc["retain"],
                         retain_labels=torch.as_tensor([clf.labels.index(y) for y in d.retain.labels]),
                         forget_class_id=d.forget_class_id, seed=req.seed, progress=run.report,
                         cancel=run.is_cancelled, forget_features=run.before.forget_feats,
                         original_features=original_cache.features_hook(run),
                         retain_notes=d.retain, max_length=req.max_length)
    run.report({"stage": "select"})
    run.result = method.run(ctx)


def save_new_model(run: Run) -> None:
    run.report({"stage": "save", "step": 0, "total": 0})
    if run.dp.is_main:
        write_model(run.result.model, run.stage.path / "model")
        test_pause(run.stage, "save")


def score_new_model(run: Run) -> None:
    t0 = time.perf_counter()
    run.report({"stage": "audit", "activity": "scoring the new model on the evaluation notes"})
    run.exact_cache = run.req.use_cache and not run.result.encoder_changed and run.clf.adapter is not None
    run.after = new_scores(run, run.result)
    run.report({"activity": ""})
    run.seconds["audit"] = time.perf_counter() - t0


def new_scores(run: Run, result: MethodResult) -> Scores:
    """Scores of a new model, with its head inputs where it has a head adapter: through the cache, only
    notes holding an edited row are re-encoded (exact: the encoder is frozen and unchanged, so every other
    note's head input is the same). The forget set's are the method's own, where it scored the final model
    there (one pass, not two)."""
    new, enc, bs, rows = result.model, run.enc, run.req.batch_size, result.row_ids
    exact = run.exact_cache and not result.encoder_changed

    def scored(key: str, feats) -> tuple[torch.Tensor, torch.Tensor | None]:
        if exact:
            recompute = np.flatnonzero(coverage(enc[key].ids, rows)).tolist()
            feats = feats.clone()
            if recompute:
                at = torch.as_tensor(recompute, device=feats.device)
                feats[at] = compute_features(new, enc[key].subset(recompute), bs).to(feats.device)
            return head_logits(new, feats), feats
        if new.adapter is None:
            return compute_logits(new, enc[key], bs), None
        feats = compute_features(new, enc[key], bs)
        return compute_logits(new, enc[key], bs, feats=feats, recompute=[]), feats

    forget = (result.forget_logits, result.forget_features)  # the method scored the final model there already
    if forget[0] is None or len(forget[0]) != len(enc["forget"]):
        forget = scored("forget", run.before.forget_feats)
    eval_logits, eval_feats = scored("eval", run.before.eval_feats)
    return Scores(eval_logits, forget[0], eval_feats, forget[1])


def audit_inputs(run: Run, result: MethodResult, after: Scores, with_files: bool) -> AuditInputs:
    clf = run.clf
    members = torch.as_tensor(run.data.members)  # only forget notes that were trained on are members
    files = dict(original_dir=run.model_dir, new_dir=run.stage.path / "model", allowed=result.allowed,
                 tokenizer=clf.tokenizer, embedding_name=clf.embedding_param_name,
                 head_names=clf.head_param_names) if with_files else {}
    return AuditInputs(
        labels=clf.labels, forget_class_id=run.data.forget_class_id, eval_labels=run.eval_labels,
        eval_logits_before=run.before.eval_logits, eval_logits_after=after.eval_logits,
        member_logits_before=run.before.forget_logits[members], member_logits_after=after.forget_logits[members],
        eval_feats_before=run.before.eval_feats, eval_feats_after=after.eval_feats,
        member_feats_before=rows_of(run.before.forget_feats, members),
        member_feats_after=rows_of(after.forget_feats, members),
        pmi_by_id={t.id: t.pmi for t in result.selected_tokens}, seed=run.req.seed, **files)


def audit(run: Run) -> None:
    t0 = time.perf_counter()
    run.audits = run_audits(audit_inputs(run, run.result, run.after, with_files=True))
    run.seconds["audit"] += time.perf_counter() - t0
    if run.audits["param_diff_verdict"] != "pass":
        raise SteuError(f"parameter-diff verification FAILED: {run.audits['param_diff_message']}",
                        hint="The new model was discarded. This is a bug in the method; please report it.")


def repeat_seeds(run: Run) -> None:
    """The method again with seeds seed+1 ... (the model kept is the first seed's): the figures'
    spread across seeds, for verdicts that hold for every seed, not one lucky draw."""
    if run.req.seeds <= 1:
        return
    t0 = time.perf_counter()
    per_seed = [seed_figures(run.req.seed, run.audits)]
    for i in range(1, run.req.seeds):
        seed = run.req.seed + i
        seed_everything(seed)
        report = (lambda info, i=i: run.report({**info, "stage": "seeds", "seed": i + 1, "seeds": run.req.seeds}))
        result = run.method.run(replace(run.ctx, seed=seed, progress=report))
        figures = run_audits(audit_inputs(run, result, new_scores(run, result), with_files=False), SEED_AUDITS)
        per_seed.append(seed_figures(seed, figures))
    run.seconds["seeds"] = time.perf_counter() - t0
    run.seed_summary = {"n": run.req.seeds, "seeds": [f["seed"] for f in per_seed], "kept_model_seed": run.req.seed,
                        "per_seed": per_seed, "spread": seed_spread(per_seed), "seconds": run.seconds["seeds"]}


def write_evidence(run: Run) -> None:
    """patch.safetensors, manifest.json and results.json, into the staging directory."""
    path, new_dir = run.stage.path, run.stage.path / "model"
    before, after = load_state(run.model_dir), load_state(new_dir)
    save_patch(make_patch(before, after, saved_embedding_key(after, run.clf.embedding_param_name)),
               path / "patch.safetensors")
    new_hash = hash_directory(new_dir)
    if hash_directory(run.model_dir)["sha256"] != run.original_hash["sha256"]:
        raise SteuError("the original model directory changed during the run; the result was discarded.",
                        hint="Another program is writing to it; make a read-only copy and run again.")
    forget, patch_sha = run.data.forget, file_sha256(path / "patch.safetensors")
    forget_file_sha = forget_file_sha256(run.req)  # the file that named the forget set (notes or ids)
    write_forget_index(path, forget, run.clf.labels[run.data.forget_class_id], run.data.train)
    write_json_atomic(path / "manifest.json", record.build_manifest(
        run.run_id, run.model_dir, run.original_hash, new_hash, forget, forget_file_sha, patch_sha))
    hashes = {"original_model": run.original_hash["sha256"], "unlearned_model": new_hash["sha256"],
              "forget_set": forget.sha256, "patch": patch_sha, "manifest": file_sha256(path / "manifest.json")}
    run.results = results_of(run, new_hash, hashes)
    d = run.data  # the retrain that the verdicts read; a retrain_oracle run is itself the reference
    run.results["reference"] = None if run.req.method == record.ORACLE_METHOD else record.oracle_reference(
        run.original_hash["sha256"], run.clf.labels[d.forget_class_id], d.train.sha256, d.evaluation.sha256)
    run.results["verdicts"] = compute_verdicts(run.results)
    run.results["wall_seconds"]["total"] = time.perf_counter() - run.t_start
    write_json_atomic(path / "results.json", run.results)


def finish(run: Run) -> None:
    """Record the outcome in the ledger, then rename the staging directory into place: a run whose
    entry cannot be written (the ledger busy past its timeout, unwritable) is never presented as finished."""
    test_pause(run.stage, "finish")
    if run.stage.cancelled() or (run.cancel and run.cancel()):
        raise Cancelled("the run was cancelled")
    if os.path.lexists(run.stage.out):
        raise ConfigError(f"output directory '{run.stage.out}' appeared while the run was working; it was not replaced.",
                          hint="Choose a new --out; finished runs are never overwritten.")
    if run.req.record_ledger:
        request_hash = run.ledger_request["entry_hash"] if run.ledger_request else None
        results_sha = file_sha256(run.stage.path / "results.json")
        record.append_outcome(record.run_entry(run.req, run.run_id, request_hash, run.results, results_sha),
                              run.stage.out)
    run.stage.finish()
    run.dp.release_followers()


def fail(run: Run, exc: BaseException) -> None:
    """Leave only progress.json saying what happened, record the outcome, and turn a resource
    problem (full disk, exhausted GPU) into the user error that says what to do."""
    user_error = as_user_error(exc) if isinstance(exc, Exception) else None
    if user_error is not None and user_error is not exc and torch.cuda.is_available():
        try:
            torch.cuda.empty_cache()  # after an out-of-memory error, give the memory back
        except Exception:
            pass
    state = "cancelled" if isinstance(exc, (Cancelled, KeyboardInterrupt)) else "failed"
    message = str(user_error) if user_error is not None else failure_message(exc)
    if not run.dp.is_main:  # process 0 owns the staging directory and the ledger
        return
    if run.started:
        run.stage.fail(state, message)
    else:  # refused while the request was checked: nothing was done, so nothing is left
        run.stage.discard()
    if run.followers_waiting:
        run.dp.release_followers(user_error or exc)
    if run.req.record_ledger and run.ledger_request is not None:
        # after the ledger itself failed, try once more briefly rather than wait out its timeout again
        wait_s = 5.0 if isinstance(exc, record.LedgerUnavailable) else None
        try:
            Ledger(busy_timeout_s=wait_s).append("run", record.outcome_entry(
                run.req, run.run_id, run.ledger_request["entry_hash"], state, message))
        except Exception:
            pass
    if user_error is not None and user_error is not exc:
        raise user_error from None


def rows_of(feats: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor | None:
    return None if feats is None else feats[mask.to(feats.device)]

