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


def seed_everything(seed: int) -> None:
    """Seed every generator and ask torch for deterministic kernels: with the same thread count a
    seeded CPU run is bit-identical (README, "Determinism"); warn_only keeps a GPU run going where an
    op has no deterministic kernel."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
