"""One deletion request, end to end: files -> model -> token selection -> method -> audits ->
a finished run directory (or nothing that looks finished).

The run is written into a hidden staging directory next to ``out`` and renamed to ``out`` only when
every file is complete. While it runs, the staging directory holds ``progress.json``; a file named
``CANCEL`` there asks the run to stop. The original model directory is only ever read.

Only one run per model runs at a time (:mod:`steu_core.locks`); cheap checks of the request
(method settings, device, sizes) run before anything is written (:func:`validate_request`).
A full disk or an exhausted GPU becomes a :class:`~steu_core.errors.ResourceError` saying what to do.

Test hook: ``STEU_TEST_PAUSE_AT=<point>`` stops the run at a point so crash tests can kill it
there deterministically (see :func:`_test_pause`); it does nothing unless that variable is set.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import __version__
from .audits import AuditInputs, run_audits
from .data import DEFAULT_MAX_FILE_MB, NoteSet, check_forget_set, check_labels_known, find_overlap, load_notes
from .demo import resolve_model_path
from .errors import Cancelled, ConfigError, DataError, SteuError, as_user_error
from .methods import UnlearnContext, get_method
from . import distributed
from .accel import check_precision, precision_used
# compute_features / compute_logits: with several processes each scores its share (steu_core.distributed)
from .distributed import compute_features, compute_logits
from .model import (Classifier, device_description, encode, file_sha256,
                    hash_directory, load_classifier, seed_everything, write_json_atomic, write_model)
from .patch import make_patch, save_patch
from .pmi import coverage

SCHEMA_VERSION = 1
PROGRESS_FILE = "progress.json"
CANCEL_FILE = "CANCEL"


@dataclass
class UnlearnRequest:
    train: str | Path
    eval: str | Path
    forget_class: str
    out: str | Path
    model: str | Path = "default"
    forget: str | Path | None = None
    method: str = "steu"
    settings: dict = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"
    text_column: str | None = None
    label_column: str | None = None
    max_length: int = 128
    batch_size: int = 64
    min_forget: int = 10
    allow_pickle: bool = False
    use_cache: bool = True
    request_id: str = ""
    requester: str = ""
    reason: str = ""
    operator: str = ""
    record_ledger: bool = True
    precision: str = "auto"         # CUDA autocast: auto (bf16 where supported), fp32, bf16, fp16
    max_file_mb: float = DEFAULT_MAX_FILE_MB
    lock_wait_s: float = 0.0        # 0: refuse at once when another run holds the model; > 0: wait


def staging_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.parent / f".{out.name}.partial"


def read_progress(out: str | Path) -> dict | None:
    """The progress of a run writing to ``out`` (None if there is none)."""
    path = staging_dir(out) / PROGRESS_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def request_cancel(out: str | Path) -> bool:
    stage = staging_dir(out)
    if stage.is_dir():
        (stage / CANCEL_FILE).touch()
        return True
    return False


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Staging:
    """The hidden directory a run writes into; claims ``out`` so two runs never interleave."""

    def __init__(self, out: Path):
        self.out, self.path = out, staging_dir(out)
        self.t0 = time.perf_counter()
        self._last_write = 0.0
        self.state: dict = {}

    def claim(self) -> None:
        if self.out.exists():
            raise ConfigError(f"output directory '{self.out}' already exists.",
                              hint="Choose a new --out; finished runs are never overwritten.")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise as_user_error(exc) or ConfigError(
                f"cannot create the output directory's parent '{self.out.parent}' ({exc.strerror or type(exc).__name__}).",
                hint="Choose an --out in a directory you may write to.") from None
        for _ in range(2):
            try:
                self.path.mkdir()
                break
            except FileExistsError:
                prev = read_progress(self.out) or {}
                if prev.get("state") == "running" and pid_alive(prev.get("pid")):
                    raise ConfigError(f"another run (process {prev.get('pid')}) is already writing '{self.out}'.",
                                      hint="Wait for it to finish or cancel it, or choose another --out.") from None
                shutil.rmtree(self.path, ignore_errors=True)  # left by a crashed or failed run
            except OSError as exc:
                raise as_user_error(exc) or ConfigError(
                    f"cannot write into '{self.out.parent}' ({exc.strerror or type(exc).__name__}).",
                    hint="Choose an --out in a directory you may write to.") from None
        else:
            raise ConfigError(f"cannot claim '{self.path}'.", hint="Remove it by hand and retry.")
        try:
            self.update(stage="start", step=0, total=0, losses={}, force=True)
        except OSError as exc:  # e.g. a full disk: leave nothing behind
            shutil.rmtree(self.path, ignore_errors=True)
            raise as_user_error(exc) or exc from None

    def update(self, force: bool = False, **info) -> None:
        self.state.update(info)
        self.state.update(state=self.state.get("state", "running"), pid=os.getpid(),
                          elapsed_s=round(time.perf_counter() - self.t0, 2))
        now = time.monotonic()
        if force or now - self._last_write > 0.3:
            self._last_write = now
            write_json_atomic(self.path / PROGRESS_FILE, self.state)

    def cancelled(self) -> bool:
        return (self.path / CANCEL_FILE).exists()

    def finish(self) -> None:
        (self.path / PROGRESS_FILE).unlink(missing_ok=True)
        (self.path / CANCEL_FILE).unlink(missing_ok=True)
        (self.path / RESUME_FILE).unlink(missing_ok=True)
        os.replace(self.path, self.out)

    def fail(self, state: str, message: str) -> None:
        """Remove every partial output; keep only progress.json saying what happened.

        If even that cannot be written (a full disk), the staging directory goes entirely.
        """
        if not self.path.exists():
            return
        try:
            for child in self.path.iterdir():
                if child.name != PROGRESS_FILE:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            self.state["state"] = state
            self.update(force=True, stage=state, message=message)
        except OSError:
            shutil.rmtree(self.path, ignore_errors=True)


RESUME_FILE = "RESUME"
TEST_PAUSE_ENV = "STEU_TEST_PAUSE_AT"
_EXPLICIT_PAUSE_POINTS = {"save", "finish"}


def _test_pause(stage: Staging, point: str | None) -> None:
    """Test hook, inert unless ``STEU_TEST_PAUSE_AT`` names ``point``.

    The run marks ``progress.json`` with ``"paused_at": point`` and sleeps until a file ``RESUME``
    appears in the staging directory (at most 10 minutes), so a test can kill -9 it at a known
    point. Points: ``select`` (token selection starts), ``unlearn`` (after the first training
    step), ``save`` (the new model is written into staging; patch, manifest and results are not),
    ``finish`` (results.json written into staging, not yet renamed into place); any other stage
    name the run reports works as well.
    """
    if not point or os.environ.get(TEST_PAUSE_ENV) != point or stage.state.get("paused_at") == point:
        return
    stage.update(force=True, paused_at=point)
    deadline = time.monotonic() + 600
    resume = stage.path / RESUME_FILE
    while time.monotonic() < deadline and not resume.exists():
        time.sleep(0.02)
    resume.unlink(missing_ok=True)


def validate_request(req: UnlearnRequest) -> None:
    """Cheap checks that need neither the model nor the data; raise before anything is written."""
    method_cls = get_method(req.method)
    method_cls(req.settings, use_cache=req.use_cache)  # the method's config refuses bad settings
    from .model import resolve_device

    resolve_device(req.device)
    checks = [(req.max_length, 8, "--max-length", "tokens per note"),
              (req.min_forget, 1, "--min-forget", "fewest forget examples"),
              (req.batch_size, 1, "--batch-size", "notes per scoring batch")]
    for value, lo, flag, what in checks:
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ConfigError(f"{flag} must be a whole number of at least {lo} ({what}); got {value!r}.")
    if not (isinstance(req.max_file_mb, (int, float)) and req.max_file_mb > 0):
        raise ConfigError(f"--max-file-mb must be a positive number of megabytes; got {req.max_file_mb!r}.")
    if Path(req.out).expanduser().exists():
        raise ConfigError(f"output directory '{req.out}' already exists.",
                          hint="Choose a new --out; finished runs are never overwritten.")


def check_max_length(clf: Classifier, max_length: int) -> None:
    """The model must have a position for every token of a ``max_length`` sequence."""
    cfg = clf.model.config
    limit = getattr(cfg, "max_position_embeddings", None)
    if not isinstance(limit, int):
        return
    if cfg.model_type in {"roberta", "xlm-roberta", "camembert", "longformer", "data2vec-text"}:
        limit -= (getattr(cfg, "pad_token_id", 1) or 0) + 1  # positions start after the padding index
    if max_length > limit:
        raise ConfigError(f"--max-length {max_length} is longer than this model accepts ({limit} tokens).",
                          hint=f"Use --max-length {limit} or less; longer notes are truncated and counted.")


def _ledger():
    from .ledger import Ledger

    return Ledger()


def load_request_data(req: UnlearnRequest, clf: Classifier) -> tuple[NoteSet, NoteSet, NoteSet, NoteSet, int]:
    """train, eval, forget, retain and the forget class id, validated against the model."""
    cols = {"text_column": req.text_column, "label_column": req.label_column, "max_file_mb": req.max_file_mb}
    train = load_notes(req.train, **cols)
    evaluation = load_notes(req.eval, **cols)
    check_labels_known(train, clf.labels)
    check_labels_known(evaluation, clf.labels)
    fc = clf.label_id(req.forget_class)
    name = clf.labels[fc]
    if req.forget:
        forget = load_notes(req.forget, **cols)
        check_labels_known(forget, clf.labels)
    else:
        forget = train.where_label(name, name=f"{train.name} [class {name}]")
    check_forget_set(forget, name, req.min_forget)
    retain = train.where_label(name, equal=False, name=f"{train.name} [other classes]")
    if len(retain) == 0:
        raise DataError("the training file has no notes of any class other than the forget class", file=train.name,
                        hint="The retain set (the other classes) is needed to keep the model's utility.")
    if name not in evaluation.labels:
        raise DataError(f"the evaluation file has no note of the forget class '{name}'", file=evaluation.name,
                        hint="The forget F1 and the membership-inference audit need held-out notes of the "
                             "forget class; add some to the evaluation file.")
    return train, evaluation, forget, retain, fc


def data_warnings(train: NoteSet, evaluation: NoteSet, forget: NoteSet, retain: NoteSet) -> list[str]:
    """Things worth knowing about the data that do not stop a run (counts and row numbers only)."""
    out = []
    clash = find_overlap(forget, retain)
    if clash:
        # Real corpora hold the same text under two labels (Medical Abstracts: 12 such notes in the
        # benchmark's forget class). Training them towards the other label agrees with forgetting the
        # class, so this is reported rather than refused.
        out.append(f"{len(clash)} forget-set note(s) also appear, with another label, among the training notes "
                   f"kept for the other classes (e.g. forget row {clash[0][0]} = training row {clash[0][1]}); "
                   "the retain term keeps training them towards that other label")
    if forget.duplicate_rows:
        out.append(f"the forget set holds {forget.duplicate_rows} duplicate row(s) ({forget.name}); each copy "
                   "is used, which is harmless but weights those notes more")
    if train.duplicate_rows:
        out.append(f"the training file holds {train.duplicate_rows} duplicate row(s) ({train.name})")
    leaked = find_overlap(forget, evaluation)
    if leaked:
        out.append(f"{len(leaked)} forget-set note(s) also appear in the evaluation file (e.g. forget row "
                   f"{leaked[0][0]} = eval row {leaked[0][1]}): the held-out audits then see forgotten notes")
    return out


def run_unlearning(req: UnlearnRequest, progress: Callable[[dict], None] | None = None,
                   cancel: Callable[[], bool] | None = None,
                   on_wait: Callable[[dict], None] | None = None) -> Path:
    """Run ``req`` and return the finished run directory. Raises SteuError on any bad input.

    The request is checked first (nothing is written if that fails); then the model's run lock is
    taken (another run on the same model: refused, or waited for up to ``req.lock_wait_s`` seconds,
    calling ``on_wait`` with the holder's pid/out/started once).
    """
    from .locks import model_run_lock

    validate_request(req)
    dp = distributed.setup(req.device)  # several processes (torchrun / accelerate launch): join them
    out = Path(req.out).expanduser().resolve()
    with dp.on_main(lambda: model_run_lock(req.model, out=out, wait_s=req.lock_wait_s, on_wait=on_wait)):
        return _run_unlearning_locked(req, progress, cancel)


def _run_unlearning_locked(req: UnlearnRequest, progress: Callable[[dict], None] | None = None,
                           cancel: Callable[[], bool] | None = None) -> Path:
    out = Path(req.out).expanduser().resolve()
    get_method(req.method)  # an unknown method is refused before anything is written
    stage = Staging(out)
    dp = distributed.current()  # one process unless launched with several; only process 0 writes
    dp.call_on_main(stage.claim)
    run_id = out.name
    ledger_request = None
    followers_waiting = False

    def report(info: dict) -> None:
        if not dp.is_main:
            return
        stage.update(**info)
        if progress:
            progress(dict(stage.state))
        if info.get("stage") not in _EXPLICIT_PAUSE_POINTS:
            _test_pause(stage, info.get("stage"))

    def is_cancelled() -> bool:
        return dp.any(dp.is_main and (stage.cancelled() or bool(cancel and cancel())))

    try:
        t_start = time.perf_counter()
        report({"stage": "model", "step": 0, "total": 0, "losses": {}})
        clf = load_classifier(
            resolve_model_path(req.model, progress=lambda d: report({**d, "stage": "prepare-demo-model"})),
            device=dp.run_device(req.device), allow_pickle=req.allow_pickle)
        clf.precision = check_precision(clf.device, req.precision)
        model_dir = clf.path
        check_max_length(clf, req.max_length)
        original_hash = hash_directory(model_dir)
        report({"stage": "data"})
        train, evaluation, forget, retain, fc = load_request_data(req, clf)
        method = get_method(req.method)(req.settings, use_cache=req.use_cache)
        seed_everything(req.seed)
        if req.record_ledger and dp.is_main:
            ledger_request = _ledger().append("request", {
                "request_id": req.request_id, "requester": req.requester, "reason": req.reason,
                "operator": req.operator, "run_id": run_id, "model_path": str(model_dir),
                "model_sha256": original_hash["sha256"], "forget_sha256": forget.sha256,
                "forget_rows": len(forget), "forget_class": clf.labels[fc], "method": req.method,
                "settings": req.settings, "seed": req.seed})
        report({"stage": "tokenize"})
        enc_forget = encode(clf.tokenizer, forget.texts, req.max_length)
        enc_retain = encode(clf.tokenizer, retain.texts, req.max_length)
        enc_eval = encode(clf.tokenizer, evaluation.texts, req.max_length)
        eval_labels = np.array([clf.labels.index(y) for y in evaluation.labels])

        # Scores of the original model; the head inputs double as the exact feature cache.
        t0 = time.perf_counter()
        report({"stage": "score-original", "step": 0, "total": len(enc_eval) + len(enc_forget)})
        feats_eval = compute_features(clf, enc_eval, req.batch_size) if req.use_cache else None
        feats_forget = compute_features(clf, enc_forget, req.batch_size) if req.use_cache else None
        logits_eval_before = compute_logits(clf, enc_eval, req.batch_size, feats=feats_eval)
        logits_forget_before = compute_logits(clf, enc_forget, req.batch_size, feats=feats_forget)
        score_before_s = time.perf_counter() - t0
        if is_cancelled():
            raise Cancelled("the run was cancelled")

        ctx = UnlearnContext(original=clf, forget=enc_forget, retain=enc_retain,
                             retain_labels=torch.as_tensor([clf.labels.index(y) for y in retain.labels]),
                             forget_class_id=fc, seed=req.seed, progress=report, cancel=is_cancelled,
                             forget_features=feats_forget, retain_notes=retain, max_length=req.max_length)
        report({"stage": "select"})
        result = method.run(ctx)
        new = result.model

        report({"stage": "save", "step": 0, "total": 0})
        new_dir = stage.path / "model"
        if dp.is_main:
            write_model(new, new_dir)
            _test_pause(stage, "save")

        t0 = time.perf_counter()
        report({"stage": "audit"})
        row_ids = result.row_ids
        exact_cache = req.use_cache and not result.encoder_changed and clf.adapter is not None
        recompute_eval = np.flatnonzero(coverage(enc_eval.ids, row_ids)).tolist() if exact_cache else None
        recompute_forget = np.flatnonzero(coverage(enc_forget.ids, row_ids)).tolist() if exact_cache else None
        logits_eval_after = compute_logits(new, enc_eval, req.batch_size,
                                           feats=feats_eval if exact_cache else None, recompute=recompute_eval)
        logits_forget_after = compute_logits(new, enc_forget, req.batch_size,
                                             feats=feats_forget if exact_cache else None, recompute=recompute_forget)
        if not dp.is_main:  # audits, files and ledger are process 0's: wait for it, share its outcome
            dp.follow_main()
            return out
        followers_waiting = dp.enabled
        pmi_by_id = {t.id: t.pmi for t in result.selected_tokens}
        audits = run_audits(AuditInputs(
            labels=clf.labels, forget_class_id=fc, eval_labels=eval_labels,
            eval_logits_before=logits_eval_before, eval_logits_after=logits_eval_after,
            member_logits_before=logits_forget_before, member_logits_after=logits_forget_after,
            original_dir=model_dir, new_dir=new_dir, allowed=result.allowed, tokenizer=clf.tokenizer,
            embedding_name=clf.embedding_param_name, head_names=clf.head_param_names, pmi_by_id=pmi_by_id,
            seed=req.seed))
        audit_s = time.perf_counter() - t0
        if audits["param_diff_verdict"] != "pass":
            raise SteuError(f"parameter-diff verification FAILED: {audits['param_diff_message']}",
                            hint="The new model was discarded. This is a bug in the method; please report it.")

        from .audits.param_diff import load_state

        before_state, after_state = load_state(model_dir), load_state(new_dir)
        emb_key = next(k for k in after_state if k == clf.embedding_param_name or
                       k.endswith("." + clf.embedding_param_name) or clf.embedding_param_name.endswith("." + k))
        save_patch(make_patch(before_state, after_state, emb_key), stage.path / "patch.safetensors")
        new_hash = hash_directory(new_dir)
        if hash_directory(model_dir)["sha256"] != original_hash["sha256"]:
            raise SteuError("the original model directory changed during the run; the result was discarded.",
                            hint="Another program is writing to it; make a read-only copy and run again.")
        forget_file_sha = file_sha256(Path(req.forget)) if req.forget else None
        hashes = {"original_model": original_hash["sha256"], "unlearned_model": new_hash["sha256"],
                  "forget_set": forget.sha256, "patch": file_sha256(stage.path / "patch.safetensors")}
        manifest = {"schema_version": SCHEMA_VERSION, "run_id": run_id, "tool_version": __version__,
                    "original_model": {"path": str(model_dir), **original_hash},
                    "unlearned_model": {"path": "model", **new_hash},
                    "forget_set": {"name": forget.name, "content_sha256": forget.sha256,
                                   "file_sha256": forget_file_sha, "rows": len(forget)},
                    "patch": {"path": "patch.safetensors", "sha256": hashes["patch"]},
                    "hash_definitions": {
                        "model sha256": "SHA-256 over the sorted lines '<file>:<sha256 of file>' of the directory",
                        "content_sha256": "SHA-256 over the JSON [text, label] lines of the notes, in order"}}
        changed_rows = {r["id"]: r for r in audits.pop("changed_rows")}
        selected = [{**t.as_dict(), "l2_change": changed_rows.get(t.id, {}).get("l2_change", 0.0)}
                    for t in result.selected_tokens]
        cov_mask = coverage(enc_forget.ids, row_ids)
        total_s = time.perf_counter() - t_start
        results = {
            "schema_version": SCHEMA_VERSION, "tool_version": __version__, "run_id": run_id,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "method": req.method, "method_settings": result.settings, "seed": req.seed,
            "device": device_description(clf.device),
            "precision": {"requested": req.precision, **precision_used(clf.device, clf.precision)},
            "processes": dp.world,
            "forget_class": clf.labels[fc], "forget_class_id": fc, "labels": clf.labels,
            "k": len(result.selected_tokens), "budget": result.settings.get("budget") if result.settings.get("k") is None else None,
            "selected_tokens": selected,
            "coverage": {"forget_examples": len(enc_forget),
                         "forget_examples_with_selected_token": int(cov_mask.sum()),
                         "fraction": float(cov_mask.mean()) if len(cov_mask) else 0.0},
            **audits,
            "wall_seconds": {"select": result.seconds.get("select", 0.0), "unlearn": result.seconds.get("unlearn", 0.0),
                             "score_original": score_before_s, "audit": audit_s, "total": total_s},
            "training": result.training,
            "data": {"train": train.describe() | {"name": train.name},
                     "eval": evaluation.describe(), "forget": forget.describe(),
                     "retain_rows": len(retain), "eval_rows": len(evaluation),
                     "truncated_notes": {"forget": enc_forget.truncated, "retain": enc_retain.truncated,
                                         "eval": enc_eval.truncated, "max_length": req.max_length},
                     "eval_forget_class_rows": int((eval_labels == fc).sum())},
            "model": {"source": str(req.model), "path": str(model_dir), "architecture": clf.architecture,
                      "model_type": clf.model_type, "params_total": clf.params_total,
                      "hidden_size": clf.hidden_size, "head_params": clf.head_params_total,
                      "sha256_before": original_hash["sha256"], "sha256_after": new_hash["sha256"],
                      "feature_cache": exact_cache},
            "hashes": hashes,
            "request": {"request_id": req.request_id, "requester": req.requester, "reason": req.reason,
                        "operator": req.operator},
            "notes": result.notes,
            "warnings": data_warnings(train, evaluation, forget, retain),
        }
        results["wall_seconds"]["total"] = time.perf_counter() - t_start
        write_json_atomic(stage.path / "manifest.json", manifest)
        write_json_atomic(stage.path / "results.json", results)
        _test_pause(stage, "finish")
        if stage.cancelled() or (cancel and cancel()):
            raise Cancelled("the run was cancelled")
        stage.finish()
        if req.record_ledger:
            _ledger().append("run", {"request_id": req.request_id, "run_id": run_id, "outcome": "success",
                                     "request_entry": ledger_request["entry_hash"] if ledger_request else None,
                                     "hashes": hashes, "forget_f1_before": results["forget_f1_before"],
                                     "forget_f1_after": results["forget_f1_after"],
                                     "retain_f1_before": results["retain_f1_before"],
                                     "retain_f1_after": results["retain_f1_after"],
                                     "params_changed": results["params_changed"],
                                     "param_diff_verdict": results["param_diff_verdict"]})
        dp.release_followers()
        return out
    except BaseException as exc:
        user_error = as_user_error(exc) if isinstance(exc, Exception) else None
        if user_error is not None and user_error is not exc and torch.cuda.is_available():
            try:
                torch.cuda.empty_cache()  # after an out-of-memory error, give the memory back
            except Exception:
                pass
        state = "cancelled" if isinstance(exc, (Cancelled, KeyboardInterrupt)) else "failed"
        message = str(user_error) if user_error is not None else f"internal error: {type(exc).__name__}"
        if not dp.is_main:  # process 0 owns the staging directory and the ledger
            raise
        stage.fail(state, message)
        if followers_waiting:
            dp.release_followers(user_error or exc)
        if req.record_ledger and ledger_request is not None:
            try:
                _ledger().append("run", {"request_id": req.request_id, "run_id": run_id, "outcome": state,
                                         "request_entry": ledger_request["entry_hash"], "error": message[:500]})
            except Exception:
                pass
        if user_error is not None and user_error is not exc:
            raise user_error from None
        raise


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


def list_runs(root: Path | None = None) -> list[dict]:
    """Finished runs under the data directory's runs/ (newest first), with headline figures."""
    from .paths import runs_dir

    root = root or runs_dir()
    rows = []
    for d in sorted(root.iterdir() if root.exists() else [], reverse=True):
        f = d / "results.json"
        if d.is_dir() and not d.name.startswith(".") and f.is_file():
            try:
                r = json.loads(f.read_text())
            except json.JSONDecodeError:
                continue
            rows.append({"run_id": r.get("run_id", d.name), "path": str(d), "created_utc": r.get("created_utc"),
                         "method": r.get("method"), "forget_class": r.get("forget_class"),
                         "forget_f1_before": r.get("forget_f1_before"), "forget_f1_after": r.get("forget_f1_after"),
                         "retain_f1_before": r.get("retain_f1_before"), "retain_f1_after": r.get("retain_f1_after"),
                         "params_changed_fraction": r.get("params_changed_fraction"),
                         "request_id": (r.get("request") or {}).get("request_id", "")})
    return rows


def load_results(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise ConfigError(f"'{run_dir}' is not a finished run (no results.json).",
                          hint="Give the --out directory of a completed unlearn run.")
    return json.loads(path.read_text())
