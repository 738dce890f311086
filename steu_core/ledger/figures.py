"""The figures of a finished run that its ledger "run" entry repeats (and so pins): written into the entry
by ``runs.record``, attached to the report PDF by ``report.pdf`` and compared by ``verify-report``.

A module of its own, free of numpy and torch, because verifying a report must not need them.
"""
from __future__ import annotations

from ..result_keys import FORGET_F1_AFTER, FORGET_F1_BEFORE, RETAIN_F1_AFTER, RETAIN_F1_BEFORE

LEDGER_FIGURES = (FORGET_F1_BEFORE, FORGET_F1_AFTER, RETAIN_F1_BEFORE, RETAIN_F1_AFTER, "params_changed",
                  "param_diff_verdict")
