"""One deletion request, end to end, as a short list of named steps: model -> data -> tokens -> original
scores -> method -> new model -> new scores -> audits -> evidence -> finished run directory and ledger entry.
Each step takes the values it reads and returns what it made, a frozen value of :mod:`.step_results`.

Everything is written into a hidden staging directory (:mod:`.staging`) and renamed to ``out`` only
when complete; a failure or a cancel leaves nothing that looks finished. The original model
directory is only ever read. Only one run per model runs at a time (:mod:`steu_core.locks`).
A full disk or an exhausted GPU becomes a :class:`~steu_core.errors.ResourceError` saying what to do.
"""
from __future__ import annotations

import os
import time
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import distributed
from ..accel import check_precision
from ..audits import AuditInputs, run_audits
from ..audits.param_diff import load_state
from .forget_hashes import request_record
from ..demo import resolve_model_path
from ..distributed import compute_features, compute_logits
from ..errors import Cancelled, ConfigError, SteuError, as_user_error, failure_message
from ..ledger import Ledger
from ..locks import model_run_lock
from ..methods import MethodResult, UnlearnContext, check_fits, get_method
from ..model import (encode, file_sha256, hash_directory, head_logits, load_classifier, seed_everything,
                     write_json_atomic, write_model)
from ..patch import make_patch, save_patch, saved_embedding_key
from ..pmi import coverage
from ..request import UnlearnRequest
from ..verdicts import compute_verdicts
from . import original_cache, record
from .forget_index import forget_file_sha256, write_forget_index
from .assemble import results_of
from .record import SEED_AUDITS, seed_figures, seed_spread
from .prepare import RequestData, check_max_length, prepare_data
from .staging import Staging, test_pause
from .step_results import (Audited, Computed, Control, LoadedModel, MethodRun, NewScores, OriginalScores, Scores,
                           SeedRuns, Tokens)


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
    ctl = Control(req, Staging(out, on_abandoned=lambda prev: record.record_abandoned(out.name, prev)), dp,
                  progress, cancel)
    dp.call_on_main(ctl.stage.claim)
    # what a failure must close: the request's ledger entry, whether work began, processes waiting on this one
    request_entry, started, followers_waiting = None, False, False
    try:
        model = load_model(ctl)
        data = load_data(ctl, model)
        request_entry = record_request(ctl, model, data)
        if request_entry is not None:  # in progress.json, so that whoever reclaims this run after a crash can close it
            ctl.stage.update(force=True, request_entry=request_entry["entry_hash"], request_id=req.request_id)
        started = True  # from here on a failure is a failed run, no longer a refused request
        computed = compute_steps(ctl, model, data)
        if not dp.is_main:  # audits, files and ledger are process 0's: wait for it, share its outcome
            dp.follow_main()
            return out
        followers_waiting = dp.enabled
        audited = audit(ctl, computed)
        results = write_evidence(ctl, computed, audited, repeat_seeds(ctl, computed, audited))
        finish(ctl, request_entry, results)
        return out
    except BaseException as exc:
        fail(ctl, exc, request_entry, started, followers_waiting)
        raise


def compute_steps(ctl: Control, model: LoadedModel, data: RequestData) -> Computed:
    """The steps every process runs, from the notes' token ids to the new model's scores."""
    key = original_cache.key_for(ctl.req, model, data, several_processes=ctl.dp.enabled)
    tokens = tokenize(ctl, model, data, key)
    original = score_original(ctl, model, tokens, key)
    unlearning = run_method(ctl, model, data, tokens, original, key)
    save_new_model(ctl, unlearning.result)
    new = score_new_model(ctl, model, tokens, original, unlearning.result)
    return Computed(model, data, tokens, original, unlearning, new)


# -- the steps ---------------------------------------------------------------------------------
def load_model(ctl: Control) -> LoadedModel:
    req = ctl.req
    ctl.report({"stage": "model", "step": 0, "total": 0, "losses": {}})
    path = resolve_model_path(req.model, progress=lambda d: ctl.report({**d, "stage": "prepare-demo-model"}))
    clf = load_classifier(path, device=ctl.dp.run_device(req.device), allow_pickle=req.allow_pickle)
    clf.precision = check_precision(clf.device, req.precision)
    check_max_length(clf, req.max_length)
    check_fits(req.method, req.settings, clf)  # k and the budget: refused before the request is recorded
    return LoadedModel(clf, hash_directory(clf.path))


def load_data(ctl: Control, model: LoadedModel) -> RequestData:
    ctl.report({"stage": "data"})
    data = prepare_data(ctl.req, model.clf)
    seed_everything(ctl.req.seed)
    return data


def record_request(ctl: Control, model: LoadedModel, data: RequestData) -> dict | None:
    """The request's ledger entry, written before any work (None: the run records nothing, or not here)."""
    if not (ctl.req.record_ledger and ctl.dp.is_main):
        return None
    entry = record.request_entry(ctl.req, ctl.run_id, model.path, model.sha256, data.forget,
                                 model.clf.labels[data.forget_class_id])
    return Ledger().append("request", {**entry, **request_record(ctl.req, data)})


def tokenize(ctl: Control, model: LoadedModel, data: RequestData, key: str | None) -> Tokens:
    tok, n, d, clf = model.clf.tokenizer, ctl.req.max_length, data, model.clf
    total = len(d.forget) + len(d.retain) + len(d.evaluation) + len(d.calibration or ())
    ctl.report({"stage": "tokenize", "step": 0, "total": total})
    cached = original_cache.tokens_hook(key, model, n, original_cache.waiter(ctl))  # the same notes for the same model: read, not tokenised again
    done = [0]  # notes of the sets before this one

    def ids(notes, keep: bool = True) -> object:
        texts = list(notes.texts)
        tell = lambda k: ctl.report({"step": done[0] + k})  # noqa: E731  (a large file takes minutes)
        out = cached(texts, lambda: encode(tok, texts, n, progress=tell)) if cached and keep else \
            encode(tok, texts, n, progress=tell)
        done[0] += len(texts)
        return out

    # never kept for the forget notes: decoded, their ids give the deleted notes' text back
    forget, retain, evaluation = ids(d.forget, keep=False), ids(d.retain), ids(d.evaluation)
    calibration = ids(d.calibration) if d.calibration is not None else None
    if cached:
        # a fast tokenizer's first call resets the padding state it saves into tokenizer.json: one note
        # through it keeps the new model's files (and hash) the same whether the ids were read or made
        encode(tok, list(d.forget.texts)[:1], n)
    return Tokens(forget, retain, evaluation, np.array([clf.labels.index(y) for y in d.evaluation.labels]),
                  calibration)


def score_original(ctl: Control, model: LoadedModel, tokens: Tokens, key: str | None) -> OriginalScores:
    """Scores of the original model; its head inputs double as the exact feature cache. They are
    kept between requests (:mod:`.original_cache`), so a second request on the same model reads them."""
    t0 = time.perf_counter()
    bs, clf, ev, fg = ctl.req.batch_size, model.clf, tokens.evaluation, tokens.forget
    ctl.report({"stage": "score-original", "step": 0, "total": len(ev) + len(fg)})

    eval_done = lambda k, _n: ctl.report({"step": k})  # noqa: E731  (the step count shows the scoring's pace)
    forget_done = lambda k, _n: ctl.report({"step": len(ev) + k})  # noqa: E731

    def compute() -> dict:
        cache = ctl.req.use_cache
        feats_eval = compute_features(clf, ev, bs, eval_done) if cache else None
        feats_forget = compute_features(clf, fg, bs, forget_done) if cache else None
        return {"eval_logits": compute_logits(clf, ev, bs, feats=feats_eval, progress=None if cache else eval_done),
                "forget_logits": compute_logits(clf, fg, bs, feats=feats_forget,
                                                progress=None if cache else forget_done),
                "eval_feats": feats_eval, "forget_feats": feats_forget}

    found, from_cache = original_cache.scores(key, compute, len(ev), len(fg), clf.device, original_cache.waiter(ctl))
    original = OriginalScores(Scores(**found), from_cache, time.perf_counter() - t0)
    if ctl.is_cancelled():
        raise Cancelled("the run was cancelled")
    return original


def run_method(ctl: Control, model: LoadedModel, data: RequestData, tokens: Tokens, original: OriginalScores,
               key: str | None) -> MethodRun:
    method = get_method(ctl.req.method)(ctl.req.settings, use_cache=ctl.req.use_cache)
    ctx = method_context(ctl, model, data, tokens, original, key)
    ctl.report({"stage": "select"})
    return MethodRun(method, ctx, method.run(ctx))


def method_context(ctl: Control, model: LoadedModel, data: RequestData, tokens: Tokens, original: OriginalScores,
                   key: str | None) -> UnlearnContext:
    """What the method is given (also what a precomputation asks the method which notes it will need)."""
    req, clf = ctl.req, model.clf
    return UnlearnContext(original=clf, forget=tokens.forget, retain=tokens.retain,
                          retain_labels=torch.as_tensor([clf.labels.index(y) for y in data.retain.labels]),
                          forget_class_id=data.forget_class_id, seed=req.seed, progress=ctl.report,
                          cancel=ctl.is_cancelled, forget_features=original.scores.forget_feats,
                          original_features=original_cache.features_hook(key, model, original_cache.waiter(ctl)),
                          retain_notes=data.retain, max_length=req.max_length, calibration=tokens.calibration)


def save_new_model(ctl: Control, result: MethodResult) -> None:
    ctl.report({"stage": "save", "step": 0, "total": 0})
    if ctl.dp.is_main:
        write_model(result.model, ctl.stage.path / "model")
        test_pause(ctl.stage, "save")


def score_new_model(ctl: Control, model: LoadedModel, tokens: Tokens, original: OriginalScores,
                    result: MethodResult) -> NewScores:
    t0 = time.perf_counter()
    ctl.report({"stage": "audit", "activity": "scoring the new model on the evaluation notes"})
    exact = ctl.req.use_cache and not result.encoder_changed and model.clf.adapter is not None
    after = new_scores(ctl.req.batch_size, tokens, original.scores, result, exact)
    ctl.report({"activity": ""})
    return NewScores(after, exact, time.perf_counter() - t0)


def new_scores(bs: int, tokens: Tokens, before: Scores, result: MethodResult, exact_cache: bool) -> Scores:
    """Scores of a new model, with its head inputs where it has a head adapter: through the cache, only
    notes holding an edited row are re-encoded (exact: the encoder is frozen and unchanged, so every other
    note's head input is the same). The forget set's are the method's own, where it scored the final model
    there (one pass, not two)."""
    new, rows = result.model, result.row_ids
    exact = exact_cache and not result.encoder_changed

    def scored(enc, feats) -> tuple[torch.Tensor, torch.Tensor | None]:
        if exact:
            recompute = np.flatnonzero(coverage(enc.ids, rows)).tolist()
            feats = feats.clone()
            if recompute:
                at = torch.as_tensor(recompute, device=feats.device)
                feats[at] = compute_features(new, enc.subset(recompute), bs).to(feats.device)
            return head_logits(new, feats), feats
        if new.adapter is None:
            return compute_logits(new, enc, bs), None
        feats = compute_features(new, enc, bs)
        return compute_logits(new, enc, bs, feats=feats, recompute=[]), feats

    forget = (result.forget_logits, result.forget_features)  # the method scored the final model there already
    if forget[0] is None or len(forget[0]) != len(tokens.forget):
        forget = scored(tokens.forget, before.forget_feats)
    eval_logits, eval_feats = scored(tokens.evaluation, before.eval_feats)
    return Scores(eval_logits, forget[0], eval_feats, forget[1])


def audit_inputs(ctl: Control, computed: Computed, result: MethodResult, after: Scores,
                 with_files: bool) -> AuditInputs:
    clf, data, before = computed.model.clf, computed.data, computed.original.scores
    members = torch.as_tensor(data.members)  # only forget notes that were trained on are members
    files = dict(original_dir=computed.model.path, new_dir=ctl.stage.path / "model", allowed=result.allowed,
                 tokenizer=clf.tokenizer, embedding_name=clf.embedding_param_name,
                 head_names=clf.head_param_names) if with_files else {}
    return AuditInputs(
        labels=clf.labels, forget_class_id=data.forget_class_id, eval_labels=computed.tokens.eval_labels,
        eval_logits_before=before.eval_logits, eval_logits_after=after.eval_logits,
        member_logits_before=before.forget_logits[members], member_logits_after=after.forget_logits[members],
        eval_feats_before=before.eval_feats, eval_feats_after=after.eval_feats,
        member_feats_before=rows_of(before.forget_feats, members),
        member_feats_after=rows_of(after.forget_feats, members),
        pmi_by_id={t.id: t.pmi for t in result.selected_tokens}, seed=ctl.req.seed, **files)


def audit(ctl: Control, computed: Computed) -> Audited:
    t0 = time.perf_counter()
    audits = run_audits(audit_inputs(ctl, computed, computed.unlearning.result, computed.new.scores, with_files=True))
    seconds = time.perf_counter() - t0
    if audits["param_diff_verdict"] != "pass":
        raise SteuError(f"parameter-diff verification FAILED: {audits['param_diff_message']}",
                        hint="The new model was discarded. This is a bug in the method; please report it.")
    return Audited(audits, seconds)


def repeat_seeds(ctl: Control, computed: Computed, audited: Audited) -> SeedRuns:
    """The method again with seeds seed+1 ... (the model kept is the first seed's): the figures'
    spread across seeds, for verdicts that hold for every seed, not one lucky draw."""
    req = ctl.req
    if req.seeds <= 1:
        return SeedRuns({"n": 1, "seeds": [req.seed], "kept_model_seed": req.seed}, 0.0)
    t0 = time.perf_counter()
    per_seed = [seed_figures(req.seed, audited.audits)]
    method, ctx = computed.unlearning.method, computed.unlearning.ctx
    for i in range(1, req.seeds):
        seed = req.seed + i
        seed_everything(seed)
        report = (lambda info, i=i: ctl.report({**info, "stage": "seeds", "seed": i + 1, "seeds": req.seeds}))
        result = method.run(replace(ctx, seed=seed, progress=report))
        after = new_scores(req.batch_size, computed.tokens, computed.original.scores, result, computed.new.exact_cache)
        figures = run_audits(audit_inputs(ctl, computed, result, after, with_files=False), SEED_AUDITS)
        per_seed.append(seed_figures(seed, figures))
    seconds = time.perf_counter() - t0
    return SeedRuns({"n": req.seeds, "seeds": [f["seed"] for f in per_seed], "kept_model_seed": req.seed,
                     "per_seed": per_seed, "spread": seed_spread(per_seed), "seconds": seconds}, seconds)


def write_evidence(ctl: Control, computed: Computed, audited: Audited, seeds: SeedRuns) -> dict:
    """patch.safetensors, manifest.json and results.json, into the staging directory; returns results.json."""
    path, new_dir, model, req = ctl.stage.path, ctl.stage.path / "model", computed.model, ctl.req
    before, after = load_state(model.path), load_state(new_dir)
    save_patch(make_patch(before, after, saved_embedding_key(after, model.clf.embedding_param_name)),
               path / "patch.safetensors")
    new_hash = hash_directory(new_dir)
    if hash_directory(model.path)["sha256"] != model.sha256:
        raise SteuError("the original model directory changed during the run; the result was discarded.",
                        hint="Another program is writing to it; make a read-only copy and run again.")
    forget, patch_sha = computed.data.forget, file_sha256(path / "patch.safetensors")
    forget_file_sha = forget_file_sha256(req)  # the file that named the forget set (notes or ids)
    write_forget_index(path, forget, computed.model.clf.labels[computed.data.forget_class_id], computed.data.train)
    write_json_atomic(path / "manifest.json", record.build_manifest(
        ctl.run_id, model.path, model.original_hash, new_hash, forget, forget_file_sha, patch_sha))
    hashes = {"original_model": model.sha256, "unlearned_model": new_hash["sha256"],
              "forget_set": forget.sha256, "patch": patch_sha, "manifest": file_sha256(path / "manifest.json")}
    results = results_of(ctl, computed, audited, seeds, new_hash, hashes)
    d = computed.data  # the retrain that the verdicts read; a retrain_oracle run is itself the reference
    results["reference"] = None if req.method == record.ORACLE_METHOD else record.oracle_reference(
        model.sha256, model.clf.labels[d.forget_class_id], d.train.sha256, d.evaluation_file.sha256)
    results["verdicts"] = compute_verdicts(results)
    results["wall_seconds"]["total"] = time.perf_counter() - ctl.t_start
    write_json_atomic(path / "results.json", results)
    return results


def finish(ctl: Control, request_entry: dict | None, results: dict) -> None:
    """Record the outcome in the ledger, then rename the staging directory into place: a run whose
    entry cannot be written (the ledger busy past its timeout, unwritable) is never presented as finished."""
    test_pause(ctl.stage, "finish")
    if ctl.stage.cancelled() or (ctl.cancel and ctl.cancel()):
        raise Cancelled("the run was cancelled")
    if os.path.lexists(ctl.stage.out):
        raise ConfigError(f"output directory '{ctl.stage.out}' appeared while the run was working; it was not replaced.",
                          hint="Choose a new --out; finished runs are never overwritten.")
    if ctl.req.record_ledger:
        request_hash = request_entry["entry_hash"] if request_entry else None
        results_sha = file_sha256(ctl.stage.path / "results.json")
        record.append_outcome(record.run_entry(ctl.req, ctl.run_id, request_hash, results, results_sha),
                              ctl.stage.out)
    ctl.stage.finish()
    ctl.dp.release_followers()


def fail(ctl: Control, exc: BaseException, request_entry: dict | None, started: bool,
         followers_waiting: bool) -> None:
    """Leave only progress.json saying what happened, record the outcome, and turn a resource
    problem (full disk, exhausted GPU) into the user error that says what to do. ``started``: False while
    the request was only checked (a failure then is a refusal: nothing is left)."""
    user_error = as_user_error(exc) if isinstance(exc, Exception) else None
    if user_error is not None and user_error is not exc and torch.cuda.is_available():
        with suppress(Exception):  # after an out-of-memory error, give the memory back
            torch.cuda.empty_cache()
    state = "cancelled" if isinstance(exc, (Cancelled, KeyboardInterrupt)) else "failed"
    message = str(user_error) if user_error is not None else failure_message(exc)
    if not ctl.dp.is_main:  # process 0 owns the staging directory and the ledger
        return
    if started:
        ctl.stage.fail(state, message)
    else:  # refused while the request was checked: nothing was done, so nothing is left
        ctl.stage.discard()
    if followers_waiting:
        ctl.dp.release_followers(user_error or exc)
    if ctl.req.record_ledger and request_entry is not None:
        # after the ledger itself failed, try once more briefly rather than wait out its timeout again
        wait_s = 5.0 if isinstance(exc, record.LedgerUnavailable) else None
        try:
            Ledger(busy_timeout_s=wait_s).append("run", record.outcome_entry(
                ctl.req, ctl.run_id, request_entry["entry_hash"], state, message))
        except Exception:
            pass
    if user_error is not None and user_error is not exc:
        raise user_error from None


def rows_of(feats: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor | None:
    return None if feats is None else feats[mask.to(feats.device)]

