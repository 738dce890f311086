"""The figures of a finished run that its ledger "run" entry repeats (and so pins): written into the entry
by ``runs.record``, attached to the report PDF by ``report.pdf`` and compared by ``verify-report``.

A module of its own, free of numpy and torch, because verifying a report must not need them.
"""
from __future__ import annotations

LEDGER_FIGURES = ("forget_f1_before", "forget_f1_after", "retain_f1_before", "retain_f1_after", "params_changed",
                  "param_diff_verdict")
