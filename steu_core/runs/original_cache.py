"""The original model's scores, kept between requests: a second request on the same model and the
same notes reads them instead of scoring the unchanged original again.

What is kept is what :func:`steu_core.runs.pipeline.score_original` computes: the logits on the
evaluation and forget notes and, with an exact head adapter, the head inputs (features) that the
method and the new model's scoring reuse. An entry is found only under a key made from everything
those numbers depend on: the model's content hash, the content hashes of the evaluation and forget
notes, the maximum length, the batch size (it sets the padding), the device and the precision. So a
hit is exact and never stale; a changed model, file or setting is a new key.

The evaluation and retain notes' token ids are kept the same way (:func:`encoded`): they depend only
on the tokenizer (inside the model directory, so in its content hash), the notes' text and the maximum
length. The forget notes' token ids are never kept (:func:`steu_core.runs.pipeline.tokenize`): decoded
with the tokenizer they give the notes' text back, and what a deletion request names must not outlive
its run in the data directory. Their logits and head inputs are kept (numbers, no token ids).

One entry is computed by one process at a time: a process that finds it missing takes the key's lock
(``original-scores/locks/<first two hex digits of the key>.lock``, 256 at most, never removed), looks again
and computes only if it is still missing, so a run started while the dashboard scores the same request in the
background (:mod:`.precompute`) waits for those numbers instead of computing them a second time.

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
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file as load_arrays
from safetensors.numpy import save_file as save_arrays
from filelock import FileLock, Timeout
from safetensors.torch import load_file, save_file

from ..accel import cache_device
from ..errors import Cancelled
from ..model import Encoded
from ..paths import subdir
from ..request import RunRequest
from .prepare import RequestData
from .step_results import LoadedModel

# /2: the forget notes' token ids are no longer kept; entries of another format (which may hold them)
# are removed when the cache is next written (:func:`prune`)
FORMAT = "steu-original-scores/2"
DEFAULT_FEATURE_BATCH = 64  # the batch size of compute_features when none is given (the method's call)
KEEP = 24  # four entries per request (the scores, the method's retain features, eval and retain token ids)
LOCK_POLL_S = 0.5
WAITING = "waiting for the original model's scores that are being computed in the background"
LOGITS = ("eval_logits", "forget_logits")
FEATURES = ("eval_feats", "forget_feats")


def cache_dir() -> Path:
    return subdir("original-scores")


@contextmanager
def computing(key: str, on_wait: Callable[[bool], None] | None = None) -> Iterator[None]:
    """Hold the lock of ``key`` while its entry is looked up and, if missing, computed and saved. Another
    process holding it is waited for; ``on_wait(True)`` is called every ``LOCK_POLL_S`` of the wait (it may
    raise, e.g. :class:`Cancelled`), ``on_wait(False)`` once the wait is over."""
    lock, waited = FileLock(str(subdir("original-scores/locks") / f"{key[:2]}.lock")), False
    while True:
        try:
            lock.acquire(timeout=LOCK_POLL_S)
            break
        except Timeout:
            waited = True
            if on_wait:
                on_wait(True)
    try:
        if waited and on_wait:
            on_wait(False)
        yield
    finally:
        lock.release()


def waiter(ctl) -> Callable[[bool], None]:
    """For a run of :mod:`.pipeline` (its ``Control``): a wait for another process's entry, shown as the stage's
    activity and ended by the run's cancel."""
    def on_wait(waiting: bool) -> None:
        ctl.report({"activity": WAITING if waiting else ""})
        if waiting and ctl.is_cancelled():
            raise Cancelled("the run was cancelled")
    return on_wait


def cache_key(model_sha256: str, eval_sha256: str, forget_sha256: str, max_length: int, batch_size: int,
              device: str, precision: str) -> str:
    """The name of the entry for these inputs (a SHA-256 over all of them)."""
    parts = {"format": FORMAT, "model": model_sha256, "eval": eval_sha256, "forget": forget_sha256,
             "max_length": int(max_length), "batch_size": int(batch_size), "device": str(device),
             "precision": str(precision)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def key_for(req: RunRequest, model: LoadedModel, data: RequestData, several_processes: bool) -> str | None:
    """The key of one run's original scores (its model, data and request read); None (no reuse) with
    --no-cache, or with several processes (each scores its own share of the notes)."""
    if not req.use_cache or several_processes:
        return None
    clf = model.clf
    return cache_key(model.sha256, data.evaluation.sha256, data.forget.sha256, req.max_length, req.batch_size,
                     str(clf.device), clf.precision)


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
    write_entry(key, lambda tmp: save_file(tensors, tmp, metadata={"format": FORMAT}))


def write_entry(key: str, write: Callable[[str], None]) -> None:
    """``write(temporary path)``, then the file renamed into place (a reader sees the old state or the
    whole new file), then prune."""
    tmp = cache_dir() / f".{key}.{secrets.token_hex(4)}.tmp"
    try:
        write(str(tmp))
        os.replace(tmp, entry_path(key))
    except OSError:  # a full disk: the run goes on without a cache entry
        tmp.unlink(missing_ok=True)
        return
    prune()


def prune(keep: int = KEEP) -> None:
    """Keep the newest ``keep`` entries of this format; remove the rest."""
    entries = sorted(cache_dir().glob("*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True)
    current = [p for p in entries if entry_format(p) == FORMAT]
    for old in [p for p in entries if p not in current] + current[keep:]:
        old.unlink(missing_ok=True)


def entry_format(path: Path) -> str | None:
    """The format an entry was written in (its safetensors metadata), None when unreadable."""
    try:
        with safe_open(str(path), framework="np") as f:
            return (f.metadata() or {}).get("format")
    except Exception:  # noqa: BLE001 - an unreadable entry is of no known format
        return None


def features_key(model_sha256: str, enc, batch_size: int, device: str, precision: str) -> str:
    """The name of the entry of the original's head inputs on the notes ``enc`` (by their token ids:
    the features depend on nothing else but the model, the batches and the device)."""
    ids = hashlib.sha256(enc.flat.tobytes() + b"|" + enc.offsets.tobytes()).hexdigest()
    parts = {"format": FORMAT, "kind": "features", "model": model_sha256, "ids": ids, "batch_size": int(batch_size),
             "device": str(device), "precision": str(precision)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def features(key: str, compute: Callable[[], torch.Tensor | None], n: int, device: torch.device,
             on_wait: Callable[[bool], None] | None = None) -> torch.Tensor | None:
    """The original's head inputs on ``n`` notes under ``key``, else ``compute()`` (stored when not None)."""
    with computing(key, on_wait):
        found = load_features(key, n, device)
        if found is not None:
            return found
        fresh = compute()
        if fresh is not None:
            save(key, {"feats": fresh})
        return fresh


def load_features(key: str, n: int, device: torch.device) -> torch.Tensor | None:
    """The head inputs on ``n`` notes stored under ``key``; None when missing (or unsound: then removed)."""
    path = entry_path(key)
    if not path.is_file():
        return None
    try:
        found = load_file(str(path)).get("feats")
        if found is None or len(found) != n or not torch.isfinite(found).all():
            raise ValueError("inconsistent entry")
        os.utime(path)
        return found.to(cache_device(device, found.numel() * 4))
    except Exception:  # noqa: BLE001 - any unreadable entry is a miss, never a failed run
        path.unlink(missing_ok=True)
        return None


def features_hook(key: str | None, model: LoadedModel, on_wait: Callable[[bool], None] | None = None) -> Callable | None:
    """For the method of a run: the original's head inputs on any encoded notes, through the cache (None
    where the run has no ``key``, :func:`key_for`). ``compute(enc)`` is what the method would call without
    the hook; its batch size is the default one of ``compute_features``."""
    if key is None:
        return None
    clf, model_sha = model.clf, model.sha256

    def hook(enc, compute: Callable[[], torch.Tensor | None]) -> torch.Tensor | None:
        key = features_key(model_sha, enc, DEFAULT_FEATURE_BATCH, str(clf.device), clf.precision)
        return features(key, compute, len(enc), clf.device, on_wait)

    return hook


def scores(key: str | None, compute: Callable[[], dict], n_eval: int, n_forget: int,
           device: torch.device, on_wait: Callable[[bool], None] | None = None) -> tuple[dict, bool]:
    """``(scores, hit)``: the entry under ``key`` if there is a sound one, else ``compute()``, stored
    under ``key``. ``key`` None: computed and not stored."""
    if key is None:
        return compute(), False
    with computing(key, on_wait):
        found = load(key, n_eval, n_forget, device)
        if found is not None:
            return found, True
        fresh = compute()
        save(key, fresh)
        return fresh, False


def tokens_key(model_sha256: str, texts: list[str], max_length: int) -> str:
    """The name of the entry of the token ids of ``texts`` (the tokenizer is part of the model's hash)."""
    digest = hashlib.sha256()
    for text in texts:  # length-prefixed, so no two lists of notes hash alike
        raw = text.encode("utf-8", "surrogatepass")
        digest.update(len(raw).to_bytes(8, "little") + raw)
    parts = {"format": FORMAT, "kind": "tokens", "model": model_sha256, "texts": digest.hexdigest(),
             "n": len(texts), "max_length": int(max_length)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def encoded(key: str, compute: Callable[[], Encoded], n: int, max_length: int,
            on_wait: Callable[[bool], None] | None = None) -> Encoded:
    """The token ids of ``n`` notes stored under ``key``, else ``compute()``, stored."""
    with computing(key, on_wait):
        found = load_encoded(key, n, max_length)
        if found is not None:
            return found
        fresh = compute()
        arrays = {"flat": fresh.flat, "offsets": fresh.offsets, "truncated": np.array([fresh.truncated], np.int64)}
        write_entry(key, lambda tmp: save_arrays(arrays, tmp, metadata={"format": FORMAT}))
        return fresh


def load_encoded(key: str, n: int, max_length: int) -> Encoded | None:
    """The token ids of ``n`` notes stored under ``key``; None when missing (or unsound: then removed)."""
    path = entry_path(key)
    if not path.is_file():
        return None
    try:
        found = load_arrays(str(path))
        flat, offsets, truncated = found["flat"], found["offsets"], int(found["truncated"][0])
        if (flat.dtype != np.int32 or len(offsets) != n + 1 or offsets[0] != 0 or offsets[-1] != len(flat)
                or (np.diff(offsets) < 0).any() or not 0 <= truncated <= n):
            raise ValueError("inconsistent entry")
        os.utime(path)
        return Encoded(flat=flat, offsets=offsets, truncated=truncated, max_length=max_length)
    except Exception:  # noqa: BLE001 - any unreadable entry is a miss, never a failed run
        path.unlink(missing_ok=True)
        return None


def tokens_hook(key: str | None, model: LoadedModel, max_length: int,
                on_wait: Callable[[bool], None] | None = None) -> Callable | None:
    """For :mod:`.pipeline`'s tokenising: ``hook(texts, compute)``, the token ids through the cache
    (None where the run has no ``key``, :func:`key_for`)."""
    if key is None:
        return None
    model_sha = model.sha256

    def hook(texts: list[str], compute: Callable[[], Encoded]) -> Encoded:
        return encoded(tokens_key(model_sha, texts, max_length), compute, len(texts), max_length, on_wait)

    return hook
