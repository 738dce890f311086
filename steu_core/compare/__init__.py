"""Compare unlearning methods on one deletion request: "compared to what?" and "is it only hidden?".

``run_comparison`` runs every requested method through the ordinary run machinery
(:func:`steu_core.runs.run_unlearning`, one finished run directory per method under ``DIR/<method>/``),
then scores the original and every new model on the same notes and runs the deep audits
(:mod:`steu_core.audits.deep`: utility with intervals, forget quality vs the oracle, reference-model
MIA, representation probe, relearning). It writes one table, ``DIR/comparison.json`` and
``DIR/comparison.csv``, saying for every figure with an interval which differences are inside the
noise (overlapping 95 % intervals). A copy of ``comparison.json`` goes into each run directory, so
the PDF report of any of them carries the comparison.

Like a run, the comparison is written into a hidden staging directory ``.DIR.partial`` and renamed
to ``DIR`` only when complete; ``CANCEL`` in the staging directory stops it; a failure in any method
fails the whole comparison (nothing half-finished is left looking finished).

Dashboard hooks: :func:`run_comparison` (with ``progress``/``cancel`` callbacks, or
:func:`steu_core.runs.read_progress` on ``DIR``), :func:`load_comparison_dir` and
:func:`comparison_figures`.

One job per module: ``runner`` (running the methods, scoring the models), ``table`` (the rows of
``comparison.json``), ``noise`` (which differences are outside the 95 % intervals, and the findings),
``files`` (comparison.json/.csv on disk, listing, figures), ``text`` (the table as text, the CLI command,
the number formats), ``progress`` (a comparison in progress, per method, in words), ``schema`` (the column names every other module reads rows by). This module
re-exports the public names, so ``from steu_core.compare import ...`` is the one import path.
"""
from __future__ import annotations

from ..request import DEFAULT_METHODS, CompareRequest
from .files import (CSV_SCALARS, CSV_TAIL, comparison_figures, csv_text, list_comparisons, load_comparison_dir,
                    write_comparison)
from .noise import findings, noise_analysis
from .runner import deep_inputs_from_runs, run_comparison
from .schema import CI_METRICS, METRIC_NAMES, SCHEMA
from .table import build_comparison
from .progress import method_rows, overall_fraction, phase_text
from .text import (compare_command, portable_command, portable_name, relearn_verdict_lines, table_rows, table_text,
                   verdict_lines)

__all__ = ["CI_METRICS", "CSV_SCALARS", "CSV_TAIL", "DEFAULT_METHODS", "METRIC_NAMES", "SCHEMA", "CompareRequest",
           "build_comparison", "compare_command", "comparison_figures", "csv_text", "deep_inputs_from_runs",
           "findings", "list_comparisons", "load_comparison_dir", "method_rows", "noise_analysis", "overall_fraction",
           "phase_text", "portable_command", "portable_name", "relearn_verdict_lines", "run_comparison", "table_rows",
           "verdict_lines",
           "table_text", "write_comparison"]
