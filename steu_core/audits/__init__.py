"""Audits behind one registry. Each takes :class:`AuditInputs` and returns a dict of results that
goes into results.json as is (see docs/CONTRACTS.md)."""
from .base import AUDITS, AuditInputs, register_audit, run_audits  # noqa: F401
from . import mia, param_diff, utility  # noqa: F401  (they register themselves)
