"""Where computations run (CUDA, MPS or CPU) and how they are made repeatable (seeds)."""
from __future__ import annotations

import random

import numpy as np
import torch

from ..errors import ConfigError


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` = CUDA, else MPS, else CPU. Asking for a device that is not there is an error."""
    device = (device or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("CUDA was requested but no CUDA GPU is available on this machine.",
                              hint="Use --device auto or --device cpu.")
        return torch.device(device)
    if device == "mps":
        if not _mps_available():
            raise ConfigError("MPS was requested but is not available.", hint="Use --device auto or --device cpu.")
        return torch.device("mps")
    if device == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"unknown device '{device}'", hint="Use auto, cpu, cuda or mps.")


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


SEED_MAX = 2 ** 32 - 1  # the largest seed every generator (random, NumPy, torch) takes as it is


def check_seed(seed, flag: str = "--seed", runs: int = 1) -> None:
    """``seed`` (and the ``runs - 1`` seeds after it) must be whole numbers from 0 to SEED_MAX."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 or seed + runs - 1 > SEED_MAX:
        more = f" (with --seeds {runs}, up to {SEED_MAX - runs + 1})" if runs > 1 else ""
        raise ConfigError(f"{flag} must be a whole number from 0 to {SEED_MAX}{more}; got {seed!r}.")


def seed_everything(seed: int) -> None:
    """Seed every generator and ask torch for deterministic kernels: with the same thread count a
    seeded CPU run is bit-identical (README, "Determinism"); warn_only keeps a GPU run going where an
    op has no deterministic kernel."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
