"""Several processes sharing one unlearning run (data parallel), through Hugging Face Accelerate.

Launch with ``torchrun --nproc_per_node N -m steu_core unlearn ...`` (CPU processes over gloo, or one
per GPU) or ``accelerate launch --multi_gpu --num_processes N -m steu_core unlearn ...`` (NCCL). Both
set ``WORLD_SIZE``; :func:`setup` then starts an ``accelerate.Accelerator`` (which joins the process
group) and every process runs the same code on the same data with the same seed. What is shared:

- scoring (head inputs and logits): each process scores every N-th note of the length-sorted order,
  so all get similar lengths; the results are gathered to every process in the original order;
- PMI document frequencies: each process counts a contiguous block of notes; the counts are summed
  (integers: the selected rows are exactly those of one process);
- STEU steps: every process draws the same global batch; each computes the gradient of its share of
  it, scaled by 1 / (global batch size), so that the sum over processes is the gradient of the whole
  batch; the k x d row gradients and the head gradients are summed (all-reduce) before the
  optimizer step, which is then identical everywhere. No DDP wrapper: the trainable tensors are tiny.

Only process 0 writes files, progress and the ledger. With one process (the normal case) every
function here is a direct call of the single-process code: nothing changes.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import timedelta
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from . import errors as _errors
from . import lanes, model, pmi
from .errors import ConfigError, SteuError

TIMEOUT = timedelta(hours=2)  # a collective that waits longer than this fails instead of hanging


def requested_world_size() -> int:
    """How many processes the launcher started (1 when not launched by torchrun/accelerate)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


class DataParallel:
    """The processes of one run. ``world == 1``: every method is a no-op or a plain call."""

    def __init__(self, accelerator=None):
        self.accelerator = accelerator
        if accelerator is None:
            self.world, self.rank, self.local_rank, self.device = 1, 0, 0, None
        else:
            self.world = int(accelerator.num_processes)
            self.rank = int(accelerator.process_index)
            self.local_rank = int(accelerator.local_process_index)
            self.device = accelerator.device

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def __repr__(self) -> str:
        return f"DataParallel(rank {self.rank} of {self.world}, device {self.device})"

    def describe(self) -> dict:
        return {"processes": self.world, "backend": getattr(getattr(self.accelerator, "state", None), "backend", None)}

    # -- placement ---------------------------------------------------------------------------

    def run_device(self, requested):
        """The device this process runs on: the requested one, or this process's own in a group."""
        return self.device if self.enabled else requested

    def shard(self, items: Sequence | np.ndarray):
        """This process's share: every world-th item, starting at its rank."""
        return items[self.rank::self.world] if self.enabled else items

    def block(self, n: int) -> tuple[int, int]:
        """This process's contiguous block [start, end) of n items."""
        if not self.enabled:
            return 0, n
        bounds = np.linspace(0, n, self.world + 1).round().astype(int)
        return int(bounds[self.rank]), int(bounds[self.rank + 1])

    # -- collectives (all processes must call them, in the same order) ----------------------

    def _comm(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self.device)

    def sum_(self, tensors: Sequence[torch.Tensor]) -> None:
        """All-reduce (sum) the tensors in place, as one flat buffer."""
        if not self.enabled or not tensors:
            return
        from accelerate.utils import reduce

        flat = self._comm(torch.cat([t.detach().reshape(-1).float() for t in tensors]))
        total = reduce(flat, reduction="sum")
        pos = 0
        for t in tensors:
            n = t.numel()
            t.copy_(total[pos:pos + n].view_as(t).to(device=t.device, dtype=t.dtype))
            pos += n

    def sum_array(self, arr: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return arr
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.int64))
        self.sum_([t])
        return t.numpy()

    def any(self, flag: bool) -> bool:
        """True on every process if it is true on any."""
        if not self.enabled:
            return bool(flag)
        t = torch.tensor([1.0 if flag else 0.0])
        self.sum_([t])
        return bool(t.item() > 0)

    def broadcast(self, obj):
        """Process 0's ``obj`` on every process."""
        if not self.enabled:
            return obj
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([obj], from_process=0)[0]

    def barrier(self) -> None:
        if self.enabled:
            self.accelerator.wait_for_everyone()

    def gather_rows(self, local: torch.Tensor, parts: Sequence[np.ndarray], n: int) -> torch.Tensor:
        """Rows computed by each process (process r computed rows ``parts[r]``, in that order) put
        together in their original order, on every process."""
        if not self.enabled:
            return local
        width = max(len(p) for p in parts)
        pad = torch.zeros((width - len(local), *local.shape[1:]), dtype=local.dtype, device=local.device)
        everything = self.accelerator.gather(self._comm(torch.cat([local, pad])))
        out = torch.empty((n, *local.shape[1:]), dtype=local.dtype, device=local.device)
        for r, idx in enumerate(parts):
            if len(idx):
                out[torch.as_tensor(np.asarray(idx), device=out.device)] = \
                    everything[r * width:r * width + len(idx)].to(out.device)
        return out

    # -- errors that happen on process 0 alone -----------------------------------------------

    def call_on_main(self, fn: Callable[[], object]):
        """Run ``fn`` on process 0 only; a SteuError there is raised on every process."""
        if not self.enabled:
            return fn()
        failure, result = None, None
        if self.is_main:
            try:
                result = fn()
            except SteuError as exc:
                failure = _pack(exc)
        failure = self.broadcast(failure)
        if failure is not None:
            if self.is_main:
                raise _unpack(failure)
            raise _unpack(failure) from None
        return result

    @contextmanager
    def on_main(self, factory: Callable[[], object]) -> Iterator[None]:
        """Enter the context manager ``factory()`` on process 0 only (e.g. the model's run lock); a
        SteuError while entering it is raised on every process."""
        if not self.enabled:
            with factory():
                yield
            return
        cm = None

        def enter():
            nonlocal cm
            cm = factory()
            cm.__enter__()

        self.call_on_main(enter)
        try:
            yield
        finally:
            if cm is not None:
                cm.__exit__(None, None, None)

    def release_followers(self, error: BaseException | None = None) -> None:
        """Process 0, when its part of the run is over: tell the others how it ended."""
        if self.enabled and self.is_main:
            self.broadcast(None if error is None else _pack(error))

    def follow_main(self) -> None:
        """The other processes: wait for process 0 to finish the run; raise its error if it failed."""
        if self.enabled and not self.is_main:
            failure = self.broadcast(None)
            if failure is not None:
                raise _unpack(failure) from None


def _pack(exc: BaseException) -> dict:
    if isinstance(exc, SteuError):
        return {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}
    return {"type": "SteuError", "message": f"process 0 failed: {type(exc).__name__}", "hint": None}


def _unpack(info: dict) -> SteuError:
    cls = getattr(_errors, info.get("type") or "", SteuError)
    if not (isinstance(cls, type) and issubclass(cls, SteuError)):
        cls = SteuError
    try:
        return cls(info["message"], hint=info.get("hint"))
    except TypeError:
        return SteuError(info["message"], hint=info.get("hint"))


_SINGLE = DataParallel()
_CURRENT: DataParallel = _SINGLE


def current() -> DataParallel:
    """The process group of this run (a single process unless :func:`setup` joined one)."""
    return _CURRENT


def setup(device: str = "auto") -> DataParallel:
    """Join the process group when launched with several processes; else the single process.

    ``device`` is the run's requested device: ``cpu`` (or no CUDA) gives CPU processes over gloo,
    otherwise one GPU per process over NCCL.
    """
    global _CURRENT
    if _CURRENT.enabled or requested_world_size() <= 1:
        return _CURRENT
    dev = (device or "auto").lower()
    if dev == "mps":
        raise ConfigError("several processes cannot share an MPS device.",
                          hint="Run one process (python -m steu_core ...) on MPS, or use --device cpu.")
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("CUDA was requested but no CUDA GPU is available on this machine.",
                          hint="Use --device cpu for CPU processes (torchrun ... --device cpu).")
    use_cpu = dev == "cpu" or not torch.cuda.is_available()
    if not use_cpu and torch.cuda.device_count() < int(os.environ.get("LOCAL_WORLD_SIZE", "1")):
        raise ConfigError(f"{os.environ.get('LOCAL_WORLD_SIZE')} processes on this machine but only "
                          f"{torch.cuda.device_count()} GPU(s).",
                          hint="Start one process per GPU (--nproc_per_node / --num_processes).")
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs

    acc = Accelerator(cpu=use_cpu, kwargs_handlers=[InitProcessGroupKwargs(timeout=TIMEOUT)])
    _CURRENT = DataParallel(acc)
    return _CURRENT


def teardown() -> None:
    """Leave the process group (at the end of a multi-process command)."""
    global _CURRENT
    if _CURRENT.enabled and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    _CURRENT = _SINGLE


# ---------------------------------------------------------------------------------------------
# The shared work: each one a plain call with one process.


def compute_features(clf, enc, batch_size: int = 64, progress=None):
    """:func:`steu_core.model.compute_features`, each process scoring its share."""
    dp = current()
    single = model.compute_features
    if not dp.enabled or clf.adapter is None:
        return single(clf, enc, batch_size, progress)
    parts = [model.length_order(enc)[r::dp.world] for r in range(dp.world)]
    local = single(clf, enc.subset(parts[dp.rank]), batch_size, progress)
    return dp.gather_rows(local, parts, len(enc))


def compute_logits(clf, enc, batch_size: int = 64, feats=None, recompute=None, progress=None):
    """:func:`steu_core.model.compute_logits`, each process scoring its share of the encoder passes."""
    dp = current()
    single = model.compute_logits
    if not dp.enabled:
        return single(clf, enc, batch_size, feats=feats, recompute=recompute, progress=progress)
    if feats is not None and clf.adapter is not None:
        todo = np.asarray(list(recompute) if recompute is not None else [], dtype=np.int64)
        if len(todo):
            feats = feats.clone()
            feats[torch.as_tensor(todo, device=feats.device)] = \
                compute_features(clf, enc.subset(todo), batch_size, progress).to(feats.device)
        return model.head_logits(clf, feats)  # the head is cheap: every process applies it to all rows
    parts = [model.length_order(enc)[r::dp.world] for r in range(dp.world)]
    local = single(clf, enc.subset(parts[dp.rank]), batch_size, progress=progress)
    return dp.gather_rows(local, parts, len(enc))


def document_frequency(docs, vocab_size: int) -> tuple[np.ndarray, int]:
    """:func:`steu_core.pmi.document_frequency`, each process counting a block of the notes."""
    dp = current()
    single = pmi.document_frequency
    if not dp.enabled or not hasattr(docs, "offsets"):
        return single(docs, vocab_size)
    start, end = dp.block(len(docs.offsets) - 1)
    mine = model.Encoded(flat=docs.flat, offsets=docs.offsets).subset(np.arange(start, end))
    counts, _ = single(mine, vocab_size)
    return dp.sum_array(counts), len(docs.offsets) - 1


MAP_CHUNK = 64  # notes per call of map_rows' function


def row_chunks(n: int, device: torch.device | str, chunk: int = MAP_CHUNK) -> list[list[int]]:
    """range(n) in map_rows' chunks (smaller where they run in CPU lanes)."""
    chunk = lanes.batch_size(device, chunk)
    return [list(range(s, min(s + chunk, n))) for s in range(0, n, chunk)]


def map_rows(n: int, fn: Callable[[list[int]], torch.Tensor], chunk: int = MAP_CHUNK, *,
             device: torch.device | str) -> torch.Tensor:
    """``torch.cat([fn(c) for c in chunks of range(n)])``, each process computing every world-th chunk
    (one process: several chunks at once on a CPU ``device``, steu_core.lanes)."""
    dp = current()
    chunks = row_chunks(n, device, chunk)
    if not dp.enabled:
        return torch.cat(lanes.map_results(fn, chunks, device))
    mine = chunks[dp.rank::dp.world]
    parts = [np.asarray([i for c in chunks[r::dp.world] for i in c], dtype=np.int64) for r in range(dp.world)]
    outs = [fn(c) for c in mine]
    if outs:
        local = torch.cat(outs)
    else:  # fewer chunks than processes: learn the row shape from process 0's first chunk
        probe = fn(chunks[0][:1])
        local = probe[:0]
    return dp.gather_rows(local, parts, n)
