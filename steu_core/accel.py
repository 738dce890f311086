"""Accelerator helpers: mixed precision where it is safe, and batch sizes that survive out-of-memory.

By default nothing here changes what happens on a CPU (fp32, exact), and the out-of-memory recovery
only acts when an allocation actually fails.

Precision (``--precision``):
- ``auto`` (default): on CUDA, bf16 autocast where the GPU supports it, else fp16 for scoring only;
  fp32 elsewhere.
- ``fp32``: no autocast anywhere.
- ``bf16``: bf16 autocast on CUDA, and on a CPU with native bf16 (AMX or AVX-512 BF16) - there an
  explicit opt-in for large corpora (about 2x the notes/s of fp32 on such a CPU, see bench/scale.py;
  not bit-exact); an error on other CPUs and on MPS.
- ``fp16``: fp16 autocast on CUDA (an error elsewhere).
Autocast changes the dtype of the encoder's matrix products only: parameters stay fp32, and the
trainable embedding rows and the classification head are computed in fp32. Training never uses
fp16 (its small gradients underflow without loss scaling); on a GPU without bf16 it trains in fp32.
"""
from __future__ import annotations

import gc
import logging
from contextlib import closing, contextmanager, nullcontext
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np
import torch

from . import lanes
from .errors import ConfigError, ResourceError, SteuError

log = logging.getLogger("steu_core")
T = TypeVar("T")

PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# The largest batch that fitted so far, per (device, what): later calls start there instead of
# running into the same out-of-memory again.
_LEARNED_BATCH: dict[tuple[str, str], int] = {}


def check_precision(device: torch.device, precision: str | None) -> str:
    """The precision name, validated against the device (a clear error for one that cannot work)."""
    p = (precision or "auto").lower()
    if p not in PRECISIONS:
        raise ConfigError(f"unknown precision '{precision}'", hint=f"Use one of: {', '.join(PRECISIONS)}.")
    if p == "bf16" and device.type == "cpu":
        if not cpu_has_native_bf16():
            raise ConfigError("--precision bf16 on a CPU needs native bf16 instructions (AMX or AVX-512 BF16), "
                              "which this CPU lacks.", hint="Use --precision auto or fp32 (exact) on this CPU.")
        return p
    if p in ("bf16", "fp16") and device.type != "cuda":
        raise ConfigError(f"--precision {p} needs a CUDA GPU; this run is on {device.type}.",
                          hint="Use --precision auto (fp32 off CUDA) or --precision fp32.")
    if p == "bf16" and not torch.cuda.is_bf16_supported():
        raise ConfigError("--precision bf16 is not supported by this GPU.",
                          hint="Use --precision auto (fp16 for scoring, fp32 for training) or fp32.")
    return p


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 matrix products natively (oneDNN: AMX or AVX-512 BF16)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(device: torch.device, precision: str | None = "auto", training: bool = False) -> torch.dtype | None:
    """The autocast dtype for work on ``device`` (None: plain fp32)."""
    p = check_precision(device, precision)
    if device.type == "cpu" and p == "bf16":
        return torch.bfloat16
    if device.type != "cuda" or p == "fp32":
        return None
    if p == "auto":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.bfloat16 if p == "bf16" else torch.float16
    if training and dtype == torch.float16:
        return None
    return dtype


def precision_used(device: torch.device, precision: str | None = "auto") -> dict:
    """What a run computes in, for its record: ``{"scoring": "float32", "training": "bfloat16"}``."""
    def name(dtype: torch.dtype | None) -> str:
        return str(dtype or torch.float32).removeprefix("torch.")

    return {"scoring": name(autocast_dtype(device, precision)),
            "training": name(autocast_dtype(device, precision, training=True))}


def autocast(device: torch.device, precision: str | None = "auto", training: bool = False):
    """A context manager: autocast in the chosen dtype on ``device``, or nothing."""
    dtype = autocast_dtype(device, precision, training)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Out-of-memory recovery


def is_oom(exc: BaseException) -> bool:
    """True for an accelerator (or host) allocation failure that a smaller batch may avoid."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def release_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def out_of_memory_error(what: str, device: torch.device) -> SteuError:
    return ResourceError(f"{what}: out of {device.type} memory even with one note per batch.",
                         hint="Lower --max-length, free the GPU (other processes), or run with --device cpu.")


def start_batch_size(device: torch.device, what: str, requested: int) -> int:
    return max(1, min(int(requested), _LEARNED_BATCH.get((str(device), what), int(requested))))


def forget_learned_batch_sizes() -> None:
    _LEARNED_BATCH.clear()


def map_batches(order: Sequence[int] | np.ndarray, batch_size: int, compute: Callable[[np.ndarray], T],
                store: Callable[[np.ndarray, T], None], *, device: torch.device, what: str) -> int:
    """``store(idx, compute(idx))`` for consecutive slices ``idx`` of ``order`` of ``batch_size`` items.

    ``compute`` runs on several (smaller) slices at once on a CPU (steu_core.lanes); ``store`` runs in the
    caller's thread, in order, and only for a slice that was computed whole. On out-of-memory the
    slice is retried with half as many items (a message is logged) down to one; the size that fitted
    is remembered for later calls on the same device. Returns the batch size in use at the end.
    """
    order = np.asarray(order)
    size = start_batch_size(device, what, lanes.batch_size(device, batch_size))
    start = 0
    while start < len(order):
        slices = [order[s:s + size] for s in range(start, len(order), size)]
        failure = None
        with closing(lanes.imap(compute, slices, device)) as outcomes:  # closing: no slice still runs after
            for idx, outcome in zip(slices, outcomes):
                failure = outcome.exception()
                if failure is not None:
                    break
                store(idx, outcome.result())
                start += len(idx)
        if failure is None:
            continue
        if not is_oom(failure):
            raise failure
        outcome = failure = None  # so the failed slice's tensors can be freed
        release_memory(device)
        if size == 1:
            raise out_of_memory_error(what, device)
        size = max(1, size // 2)
        _LEARNED_BATCH[(str(device), what)] = size
        log.warning("%s: out of %s memory with %d notes per batch; retrying with %d.",
                    what, device.type, len(idx), size)
    return size


def cache_device(device: torch.device, nbytes: int, fraction: float = 0.25) -> torch.device:
    """Where a cache of ``nbytes`` should live: on the accelerator while it takes at most ``fraction``
    of its free memory, else in host memory."""
    if device.type != "cuda":
        return device
    try:
        free, _ = torch.cuda.mem_get_info(device)
    except Exception:  # noqa: BLE001 - no reading: stay on the device
        return device
    return device if nbytes <= fraction * free else torch.device("cpu")


@contextmanager
def inference(device: torch.device, precision: str | None = "auto") -> Iterator[None]:
    """``torch.inference_mode`` plus autocast where safe: the context for scoring."""
    with torch.inference_mode(), autocast(device, precision):
        yield
