"""CPU lanes: batches of encoder passes side by side on Python threads, each on one intra-op thread.

On a CPU, torch splits each operation of a batch over its n intra-op threads and waits for all of
them at the end of it; a transformer layer is a long chain of such operations, and on a small
shared machine a thread that loses its core for a moment (to the dashboard's browser, say) stalls
the others at every one of them. n batches side by side, one per thread, never wait for each other
until the last one ends. bench/lanes.py measures both ways in one process.

Each batch is still computed whole, by one thread, so a batch's result does not depend on which lane
ran it; tests/test_lanes.py checks that the lanes give the same tensors as one batch after another.
Lanes are used only on a CPU where torch has more than one intra-op thread; ``STEU_CPU_LANES=1``
turns them off (the one-batch-at-a-time path, as on an accelerator).
"""
from __future__ import annotations

import math
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import closing
from itertools import islice
from typing import Callable, Iterator, Sequence, TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")

ENV = "STEU_CPU_LANES"
# Notes per batch in a lane. One thread per batch does best on small batches (which stay in its
# caches): bench/lanes.py, 256 sample notes on 2 cores, lanes of 8, 16 and 32 notes took 0.74, 0.73
# and 0.83 of the time of one 64-note batch at a time on both threads.
LANE_BATCH = 16

_POOLS: dict[int, tuple[int, ThreadPoolExecutor]] = {}  # process id -> (lanes, pool): a pool does not survive a fork
_LOCK = threading.Lock()


def count(device: torch.device | str) -> int:
    """How many batches run side by side on ``device``: torch's intra-op threads on a CPU (or
    ``STEU_CPU_LANES`` when set lower), 1 on an accelerator."""
    if torch.device(device).type != "cpu":
        return 1
    n = torch.get_num_threads()
    setting = os.environ.get(ENV, "").strip()
    if setting.isdigit() and int(setting) >= 1:
        n = min(n, int(setting))
    return max(1, n)


def batch_size(device: torch.device | str, requested: int) -> int:
    """Notes per batch: ``requested``, at most LANE_BATCH where batches run in lanes."""
    return min(int(requested), LANE_BATCH) if count(device) > 1 else int(requested)


def share(device: torch.device | str, n: int, at_most: int) -> int:
    """Notes per part when ``n`` notes are split so that every lane gets a part (at most ``at_most``)."""
    return max(1, min(int(at_most), math.ceil(n / count(device))))


def _one_intraop_thread() -> None:
    # the first call fixes this thread's own count from torch's process-wide one; the second lowers it
    # for this thread only, for good (it also lowers the process-wide one, which _pool restores)
    torch.get_num_threads()
    torch.set_num_threads(1)


def _pool(n: int) -> ThreadPoolExecutor:
    key = os.getpid()
    with _LOCK:
        size, pool = _POOLS.get(key, (0, None))
        if size == n:
            return pool
        if pool is not None:
            pool.shutdown(wait=True)
        threads = torch.get_num_threads()
        started = threading.Barrier(n + 1)
        pool = ThreadPoolExecutor(n, thread_name_prefix="steu-lane", initializer=_one_intraop_thread)
        for _ in range(n):  # every lane thread starts (and sets itself up) now, before the count is restored
            pool.submit(started.wait)
        started.wait()
        torch.set_num_threads(threads)
        _POOLS[key] = (n, pool)
        return pool


def _in_callers_modes(fn: Callable[[T], R]) -> Callable[[T], R]:
    """``fn`` run in the calling thread's grad and inference modes, which torch keeps per thread. Any
    other context a call needs (autocast, a forward hook) must be entered inside ``fn``."""
    grad, infer = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def call(item: T) -> R:
        with torch.inference_mode(infer), torch.set_grad_enabled(grad):
            return fn(item)
    return call


def imap(fn: Callable[[T], R], items: Sequence[T], device: torch.device | str) -> Iterator[Future]:
    """The outcomes of ``fn`` on every item, as finished futures in the items' order; ``count(device)``
    calls run at a time, and at most twice that many are started ahead of the one handed out.

    With one lane each call runs in the caller's thread when its outcome is asked for. Closing the
    iterator early (``contextlib.closing``) cancels the calls not started and waits for the running
    ones, so none still runs after it.
    """
    call = _in_callers_modes(fn)
    n = count(device)
    if min(n, len(items)) <= 1:
        for item in items:
            yield _run_here(call, item)
        return
    pool, rest = _pool(n), iter(items)
    pending = deque(pool.submit(call, item) for item in islice(rest, 2 * n))
    try:
        while pending:
            head = pending.popleft()
            wait([head])
            pending.extend(pool.submit(call, item) for item in islice(rest, 1))
            yield head
    finally:
        for f in pending:
            f.cancel()
        wait(pending)


def map_results(fn: Callable[[T], R], items: Sequence[T], device: torch.device | str) -> list[R]:
    """``[fn(item) for item in items]``, ``count(device)`` at a time; the first failure is raised
    once no call of this map still runs."""
    with closing(imap(fn, items, device)) as outcomes:
        return [f.result() for f in outcomes]


def _run_here(call: Callable[[T], R], item: T) -> Future:
    future: Future = Future()
    try:
        future.set_result(call(item))
    except Exception as exc:  # noqa: BLE001 - handed back through the future, as from a lane
        future.set_exception(exc)
    return future
