"""The original model's scores, kept between requests: a second request on the same model and the
same notes reads them instead of scoring the unchanged original again.

What is kept is what :func:`steu_core.runs.pipeline.score_original` computes: the logits on the
evaluation and forget notes and, with an exact head adapter, the head inputs (features) that the
method and the new model's scoring reuse. An entry is found only under a key made from everything
those numbers depend on: the model's content hash, the content hashes of the evaluation and forget
notes, the maximum length, the batch size (it sets the padding), the device and the precision. So a
hit is exact and never stale; a changed model, file or setting is a new key.

Entries live in ``<data dir>/original-scores/<key>.safetensors`` (safetensors: loading runs no code),
written to a temporary file and renamed into place; a corrupt or inconsistent entry is ignored,
removed and rebuilt. The newest ``KEEP`` entries are kept. The notes' text is never stored, only
numbers computed from them.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from ..accel import cache_device
from ..paths import subdir

FORMAT = "steu-original-scores/1"
DEFAULT_FEATURE_BATCH = 64  # the batch size of compute_features when none is given (the method's call)
KEEP = 16  # two entries per request (the scores, the method's retain features)
LOGITS = ("eval_logits", "forget_logits")
FEATURES = ("eval_feats", "forget_feats")


def cache_dir() -> Path:
    return subdir("original-scores")


def cache_key(model_sha256: str, eval_sha256: str, forget_sha256: str, max_length: int, batch_size: int,
              device: str, precision: str) -> str:
    """The name of the entry for these inputs (a SHA-256 over all of them)."""
    parts = {"format": FORMAT, "model": model_sha256, "eval": eval_sha256, "forget": forget_sha256,
             "max_length": int(max_length), "batch_size": int(batch_size), "device": str(device),
             "precision": str(precision)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def key_for(run) -> str | None:
    """The key of a run of :mod:`.pipeline` (its model, data and request read); None (no reuse) with
    --no-cache, or with several processes (each scores its own share of the notes)."""
    if not run.req.use_cache or run.dp.enabled:
        return None
    d, clf = run.data, run.clf
    return cache_key(run.original_hash["sha256"], d.evaluation.sha256, d.forget.sha256, run.req.max_length,
                     run.req.batch_size, str(clf.device), clf.precision)


def entry_path(key: str) -> Path:
    return cache_dir() / f"{key}.safetensors"


def load(key: str, n_eval: int, n_forget: int, device: torch.device) -> dict | None:
    """The scores stored under ``key``, or None (missing, unreadable or not of the expected shape:
    such an entry is removed so it is rebuilt)."""
    path = entry_path(key)
    if not path.is_file():
        return None
    try:
        stored = load_file(str(path))
        found = {name: stored.get(name) for name in (*LOGITS, *FEATURES)}
        if not consistent(found, n_eval, n_forget):
            raise ValueError("inconsistent entry")
    except Exception:  # noqa: BLE001 - any unreadable entry is a miss, never a failed run
        path.unlink(missing_ok=True)
        return None
    os.utime(path)  # recently used: kept longest
    for name in FEATURES:
        if found[name] is not None:
            found[name] = found[name].to(cache_device(device, found[name].numel() * 4))
    return found


def consistent(found: dict, n_eval: int, n_forget: int) -> bool:
    rows = {"eval": n_eval, "forget": n_forget}
    for part, n in rows.items():
        logits, feats = found[f"{part}_logits"], found[f"{part}_feats"]
        if logits is None or logits.ndim != 2 or len(logits) != n or not torch.isfinite(logits).all():
            return False
        if feats is not None and len(feats) != n:
            return False
    return (found["eval_feats"] is None) == (found["forget_feats"] is None)


def save(key: str, scores: dict) -> None:
    """Write the entry atomically (a reader sees the old state or the whole new file), then prune."""
    tensors = {name: t.detach().to("cpu", torch.float32).contiguous() for name, t in scores.items() if t is not None}
    tmp = cache_dir() / f".{key}.{secrets.token_hex(4)}.tmp"
    try:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
        os.replace(tmp, entry_path(key))
    except OSError:  # a full disk: the run goes on without a cache entry
        tmp.unlink(missing_ok=True)
        return
    prune()


def prune(keep: int = KEEP) -> None:
    entries = sorted(cache_dir().glob("*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        old.unlink(missing_ok=True)


def features_key(model_sha256: str, enc, batch_size: int, device: str, precision: str) -> str:
    """The name of the entry of the original's head inputs on the notes ``enc`` (by their token ids:
    the features depend on nothing else but the model, the batches and the device)."""
    ids = hashlib.sha256(enc.flat.tobytes() + b"|" + enc.offsets.tobytes()).hexdigest()
    parts = {"format": FORMAT, "kind": "features", "model": model_sha256, "ids": ids, "batch_size": int(batch_size),
             "device": str(device), "precision": str(precision)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def features(key: str, compute: Callable[[], torch.Tensor | None], n: int, device: torch.device) -> torch.Tensor | None:
    """The original's head inputs on ``n`` notes under ``key``, else ``compute()`` (stored when not None)."""
    path = entry_path(key)
    if path.is_file():
        try:
            found = load_file(str(path)).get("feats")
            if found is None or len(found) != n or not torch.isfinite(found).all():
                raise ValueError("inconsistent entry")
            os.utime(path)
            return found.to(cache_device(device, found.numel() * 4))
        except Exception:  # noqa: BLE001 - any unreadable entry is a miss, never a failed run
            path.unlink(missing_ok=True)
    fresh = compute()
    if fresh is not None:
        save(key, {"feats": fresh})
    return fresh


def features_hook(run) -> Callable | None:
    """For the method of a run of :mod:`.pipeline`: the original's head inputs on any encoded notes,
    through the cache (None where :func:`key_for` gives no key). ``compute(enc)`` is what the method
    would call without the hook; its batch size is the default one of ``compute_features``."""
    if key_for(run) is None:
        return None
    clf, model_sha = run.clf, run.original_hash["sha256"]

    def hook(enc, compute: Callable[[], torch.Tensor | None]) -> torch.Tensor | None:
        key = features_key(model_sha, enc, DEFAULT_FEATURE_BATCH, str(clf.device), clf.precision)
        return features(key, compute, len(enc), clf.device)

    return hook


def scores(key: str | None, compute: Callable[[], dict], n_eval: int, n_forget: int,
           device: torch.device) -> tuple[dict, bool]:
    """``(scores, hit)``: the entry under ``key`` if there is a sound one, else ``compute()``, stored
    under ``key``. ``key`` None: computed and not stored."""
    if key is not None:
        found = load(key, n_eval, n_forget, device)
        if found is not None:
            return found, True
    fresh = compute()
    if key is not None:
        save(key, fresh)
    return fresh, False
