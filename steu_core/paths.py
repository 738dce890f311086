"""Where STEU Audit keeps its files: one data directory, chosen by ``$STEU_HOME``."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def steu_home() -> Path:
    """The data directory: ``$STEU_HOME`` if set, else the user's cache directory."""
    env = os.environ.get("STEU_HOME")
    home = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("steu-audit"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def _sub(name: str) -> Path:
    path = steu_home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    """Finished and in-progress run directories."""
    return _sub("runs")


def comparisons_dir() -> Path:
    """Finished comparisons of several methods (``python -m steu_core compare`` without ``--out``)."""
    return _sub("comparisons")


def models_dir() -> Path:
    """The model store (the demo classifier and other prepared models)."""
    return _sub("models")
