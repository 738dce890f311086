"""The audit report of one finished run: a PDF for the compliance file and the same content as JSON.

Everything comes from the run directory (``results.json``, optionally ``comparison.json``) and the
ledger; no data file is ever opened, so no note text can reach the report. :func:`report_content` builds
one dict holding every number already formatted (F1 and AUC with 4 decimals); the PDF prints those
strings and :func:`build_json` writes that dict, so the two always agree.

- :mod:`.evidence` reads a finished run (results.json, comparison.json, its ledger entry);
- :mod:`.summary` and :mod:`.content` build the report's content;
- :mod:`.document` (the fpdf2 document) and :mod:`.sections` (one function per section) write the PDF;
- :mod:`.pdf` puts it together: :func:`build_report`;
- :mod:`.slides` (the presentation of a run) and :mod:`.html` (its interactive export, :func:`build_html`);
- :mod:`.signing` (PAdES signatures), :mod:`.anchors` (ledger proofs carried by the report),
  :mod:`.versions` (never overwrite), :mod:`.packet` (what a regulator receives, in one zip) and
  :mod:`.verify` (:func:`verify_report`, offline checks).

The names below are imported on first use: checking a report (``verify``, ``packet``, ``signing``,
``anchors``) must not load what writing one needs (plotly, fpdf2, numpy, torch), so that a regulator
can verify with a small install (requirements-verify.txt).
"""
from __future__ import annotations

import importlib

_HOMES = {"build_json": "content", "chart_specs": "content", "report_content": "content", "build_html": "html",
          "REPORT_SCHEMA": "evidence", "REQUIRED_KEYS": "evidence", "ledger_record": "evidence",
          "load_comparison": "evidence", "load_finished_run": "evidence", "sidecar_path": "anchors",
          "build_report": "pdf", "record_report": "pdf", "SELF_SIGNED_WORDS": "signing", "ReportCheck": "verify",
          "verify_report": "verify", "report_versions": "versions", "Packet": "packet", "packet_for": "packet"}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    """``steu_core.report.X``: the name from the submodule that owns it, or the submodule ``X``, imported now."""
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":  # the submodule exists but lacks a dependency: say which
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
