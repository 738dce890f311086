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
  :mod:`.versions` (never overwrite) and :mod:`.verify` (:func:`verify_report`, offline checks).
"""
from __future__ import annotations

from .content import build_json, chart_specs, report_content
from .html import build_html
from .evidence import REPORT_SCHEMA, REQUIRED_KEYS, ledger_record, load_comparison, load_finished_run
from .anchors import sidecar_path
from .pdf import build_report, record_report
from .signing import SELF_SIGNED_WORDS
from .verify import ReportCheck, verify_report
from .versions import report_versions

__all__ = ["REPORT_SCHEMA", "REQUIRED_KEYS", "ReportCheck", "SELF_SIGNED_WORDS", "build_html", "build_json",
           "build_report", "chart_specs", "ledger_record", "load_comparison", "load_finished_run",
           "record_report", "report_content", "report_versions", "sidecar_path", "verify_report"]

