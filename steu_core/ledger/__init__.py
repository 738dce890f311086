"""The STEU ledger: an append-only, hash-chained log of requests, runs and reports.

``store`` keeps the SQLite log and its hash chain. The public names below are the ones other modules
and tests import as ``steu_core.ledger.X``.
"""
from __future__ import annotations

from .store import (BUSY_TIMEOUT_S, GENESIS_HASH, LEDGER_FILE, Ledger, VerifyResult, canonical_json,
                    compute_entry_hash, default_path, entry_summary)


def register_cli(subparsers) -> None:
    """Add the ``ledger`` subcommands to a ``python -m steu_core`` parser (see :mod:`steu_core.cli.ledger`).

    Imported lazily: the CLI package imports every subcommand, which the library itself never needs.
    """
    from ..cli.ledger import register

    register(subparsers)


__all__ = ["BUSY_TIMEOUT_S", "GENESIS_HASH", "LEDGER_FILE", "Ledger", "VerifyResult", "canonical_json",
           "compute_entry_hash", "default_path", "entry_summary", "register_cli"]
