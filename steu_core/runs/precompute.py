"""The original model's scores of a request, computed before the request is run: the dashboard starts this
in a worker process as soon as the model and the files of a request are known, while the officer fills in
the rest, so that the run that follows reads them from the cache of original scores (:mod:`.original_cache`)
instead of computing them after the click.

It runs the first steps of a run (:mod:`.pipeline`: model, data, tokens, the original's scores), then the
original's head inputs on the notes the method will ask for (``method.original_notes``, STEU's retain pool),
each through the same cache under the same keys the run uses; nothing else is written and nothing is
recorded in the ledger. Like a run it writes into a hidden staging directory (``progress.json``, ``CANCEL``)
that becomes ``out`` holding ``precomputed.json`` (its seconds and what the cache already held) only once
everything is stored. A run started meanwhile waits for the entry being computed (``original_cache.computing``).

    python -m steu_core precompute --model M --train T --eval E --forget F --forget-class C --out DIR
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from .. import distributed
from ..errors import Cancelled, as_user_error, failure_message
from ..model import compute_features, write_json_atomic
from ..methods import get_method
from ..request import PrecomputeRequest
from . import original_cache
from .pipeline import load_data, load_model, method_context, score_original, tokenize
from .stages import stage_words
from .staging import Staging
from .step_results import Control, LoadedModel

DONE_FILE = "precomputed.json"
# the request fields the precomputed numbers (and the notes they are computed on) depend on
KEY_FIELDS = ("model", "train", "eval", "forget", "forget_ids", "id_column", "forget_text_column",
              "forget_label_column", "text_column", "label_column", "forget_class", "max_length", "batch_size",
              "device", "precision", "method", "settings", "seed", "max_file_mb", "use_cache", "allow_pickle")
FILE_FIELDS = ("model", "train", "eval", "forget", "forget_ids")
METHOD_FIELDS = ("method", "settings", "seed")  # they choose only the notes of the method's own features
# share of the whole computation at the start of each stage (the rest of the stage is counted in notes)
SPANS = {"start": 0.0, "model": 0.02, "data": 0.05, "tokenize": 0.07, "score-original": 0.1, "cache": 0.7}


def precompute_original(req: PrecomputeRequest, progress: Callable[[dict], None] | None = None) -> Path:
    """Compute and keep the original model's scores of ``req``; the finished directory ``req.out``."""
    req.validate()
    out = Path(req.out).expanduser().resolve()
    ctl = Control(replace(req, out=out, record_ledger=False), Staging(out), distributed.current(), progress, None)
    ctl.stage.claim()
    try:
        model = load_model(ctl)
        data = load_data(ctl, model)
        key = original_cache.key_for(ctl.req, model, data, several_processes=ctl.dp.enabled)
        tokens = tokenize(ctl, model, data, key)
        original = score_original(ctl, model, tokens, key)
        seconds = {"score_original": original.seconds,
                   "original_notes": method_features(ctl, model, data, tokens, original, key)}
        seconds["total"] = time.perf_counter() - ctl.t_start
        write_json_atomic(ctl.stage.path / DONE_FILE, {"seconds": seconds, "scores_were_cached": original.from_cache,
                                                       "cache": ctl.req.use_cache})
        ctl.stage.finish()
    except BaseException as exc:
        user_error = as_user_error(exc) if isinstance(exc, Exception) else None
        state = "cancelled" if isinstance(exc, (Cancelled, KeyboardInterrupt)) else "failed"
        ctl.stage.fail(state, str(user_error) if user_error is not None else failure_message(exc))
        if user_error is not None and user_error is not exc:
            raise user_error from None
        raise
    return out


def method_features(ctl: Control, model: LoadedModel, data, tokens, original, key: str | None) -> float:
    """The original's head inputs on the notes the method will ask for, stored under the run's keys; seconds."""
    t0 = time.perf_counter()
    hook = original_cache.features_hook(key, model, original_cache.waiter(ctl))
    method = get_method(ctl.req.method)(ctl.req.settings, use_cache=ctl.req.use_cache)
    plan = getattr(method, "original_notes", None)
    sets = plan(method_context(ctl, model, data, tokens, original, key)) if hook is not None and plan else []
    total, done = sum(len(enc) for enc in sets), 0
    ctl.report({"stage": "cache", "step": 0, "total": total})
    for enc in sets:
        def tell(k: int, _n: int, start: int = done) -> None:
            ctl.report({"step": start + k})

        hook(enc, lambda enc=enc, tell=tell: compute_features(model.clf, enc, original_cache.DEFAULT_FEATURE_BATCH,
                                                              tell))
        done += len(enc)
        if ctl.is_cancelled():
            raise Cancelled("the background scoring was cancelled")
    return time.perf_counter() - t0


def fingerprint(req, method: bool = True) -> str:
    """What a precomputation of ``req`` depends on: the fields that choose its numbers, and each file's size
    and modification time (a file changed in place is another computation). ``method`` False: all but the
    method's fields (a change there leaves the original's scores on the same notes)."""
    facts = {name: getattr(req, name) for name in KEY_FIELDS if method or name not in METHOD_FIELDS}
    for name in FILE_FIELDS:
        path = Path(str(facts[name])) if facts[name] else None
        try:
            stat = path.stat() if path is not None else None
        except OSError:
            stat = None
        facts[f"{name}_file"] = [stat.st_size, stat.st_mtime_ns] if stat else None
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def progress_of(stage: str, step: int, total: int) -> float:
    """How far a precomputation is, 0..1, from its progress.json."""
    names = list(SPANS)
    if stage not in SPANS:
        return 0.0
    lo = SPANS[stage]
    hi = SPANS[names[names.index(stage) + 1]] if names.index(stage) + 1 < len(names) else 1.0
    return lo + (hi - lo) * (min(1.0, step / total) if total and stage in ("score-original", "cache") else 0.0)


def progress_words(stage: str, step: int, total: int) -> str:
    """Where a precomputation is, in words: the stage, and the notes scored where the stage counts them."""
    notes = f": {step:,} of {total:,} notes" if total and stage in ("score-original", "cache") else ""
    return f"{stage_words(stage)}{notes}"


def read_done(out: Path) -> dict | None:
    """``precomputed.json`` of a finished precomputation (None when there is none)."""
    try:
        return json.loads((Path(out) / DONE_FILE).read_text())
    except (OSError, ValueError):
        return None
