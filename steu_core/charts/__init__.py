"""Plotly figures built from a results.json dict (docs/CONTRACTS.md), shared by the dashboard and the
PDF report. Pure functions: each takes the results dict and returns a ``plotly.graph_objects.Figure``;
nothing here reads files, imports Streamlit or touches the model.

Colours are fixed across every figure: *before* is grey, *after* is teal.
"""
from .base import AFTER, BEFORE, to_png, to_pngs  # noqa: F401
from .collateral import class_f1_with_intervals, forgotten_notes, retained_f1_with_intervals  # noqa: F401
from .comparison import comparison_pareto  # noqa: F401
from .note import note_probabilities  # noqa: F401
from .probe import layer_probe_caption, layer_probe_curves  # noqa: F401
from .run import (ROC_WIDE_HEIGHT, changed_fraction, changed_rows, confusion_matrices, forget_retain_f1,  # noqa: F401
                  mia_roc, per_class_f1)

__all__ = ["BEFORE", "AFTER", "ROC_WIDE_HEIGHT", "forget_retain_f1", "per_class_f1", "confusion_matrices", "mia_roc",
           "changed_rows", "changed_fraction", "class_f1_with_intervals", "retained_f1_with_intervals",
           "forgotten_notes", "comparison_pareto",
           "note_probabilities", "layer_probe_curves", "layer_probe_caption", "to_png", "to_pngs"]
