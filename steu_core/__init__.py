"""STEU Audit: make a clinical text classifier forget one class, prove it, report it.

Nothing in this package contacts a model hub: it works on local checkpoint directories only.
"""
import os as _os

# Offline by construction: no model weights or data sets are ever fetched at run time.
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
_os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _quiet_transformers() -> None:
    """transformers' own download/loading progress bars mean nothing offline; our bars show progress."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # transformers missing or changed: nothing to silence
        pass


_quiet_transformers()

__version__ = "0.1.0"
