"""The one error class of the ledger package: a ledger file, key or checkpoint that cannot be used.

A failed *verification* is not an error: it is a result (``ok`` False with a reason, exit status 1).
A :class:`LedgerError` means the input itself is unusable (a missing file, a malformed key, text that
is not a checkpoint); the CLI prints its message and hint and exits with status 2.
"""
from __future__ import annotations

from ..errors import SteuError


class LedgerError(SteuError):
    """A ledger file, signing key, public key or checkpoint that cannot be used as given."""
