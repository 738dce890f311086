"""Collateral damage: each retained class's F1 before and after with its 95 % interval (on the
retained-class notes, the field's measure; and on all notes, a secondary view), and where the forgotten
class's evaluation notes go beside where a retrain without the forget notes sends them (from results.json's
``collateral`` and ``reference`` sections)."""
from __future__ import annotations

import plotly.graph_objects as go

from .base import AFTER, BEFORE, label_text, layout

REFERENCE = "#c77c2a"  # amber: the retrain without the forget notes


def retained_f1_with_intervals(results: dict) -> go.Figure:
    """Each retained class's F1 on the retained-class notes, before and after, with bootstrap 95 %
    intervals (what the usefulness verdict judges); a class whose change lies beyond its interval is marked."""
    rows = ((results.get("collateral") or {}).get("retained_notes") or {}).get("per_class", [])
    return _f1_bars(rows, "F1 of every retained class on the retained-class notes (95 % intervals)",
                    "F1 on the evaluation notes of the retained classes")


def class_f1_with_intervals(results: dict) -> go.Figure:
    """Per-class F1 over all evaluation notes, before and after, with bootstrap 95 % intervals: the
    forgotten class's notes included, so a class they are re-routed to loses precision (a secondary view)."""
    rows = (results.get("collateral") or {}).get("per_class", [])
    return _f1_bars(rows, "F1 of every class on all notes, re-routed forgotten notes included (95 % intervals)",
                    "F1 on all evaluation notes")


def _f1_bars(rows: list[dict], title: str, axis: str) -> go.Figure:
    names = [class_name(r) for r in rows]
    fig = go.Figure()
    for key, ci_key, label, colour in (("f1_before", "ci_before", "Before", BEFORE), ("f1_after", "ci_after", "After", AFTER)):
        values = [r[key] for r in rows]
        # the value sits inside the bar at its base, so the interval's bar at the end never strikes through it
        fig.add_bar(y=names, x=values, name=label, orientation="h", marker_color=colour,
                    error_x=dict(type="data", symmetric=False, thickness=1.2, width=4,
                                 array=[r[ci_key][1] - r[key] for r in rows],
                                 arrayminus=[r[key] - r[ci_key][0] for r in rows]),
                    text=[f"{v:.3f}" for v in values], textposition="inside", insidetextanchor="start",
                    textfont=dict(color="white"))
    layout(fig, title, barmode="group", xaxis=dict(title=axis, range=[0, 1.05]))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_layout(height=max(320, 140 + 70 * len(rows)), margin=dict(l=40, r=40, t=90, b=60))
    return fig


def class_name(row: dict) -> str:
    mark = " (forgotten)" if row.get("forgotten") else (" ▼ lost" if row["change_ci"][1] < 0 else "")
    return label_text(row["label"]) + mark


def forgotten_notes(results: dict) -> go.Figure:
    """Where the forgotten class's evaluation notes are predicted, before and after, and after a retrain
    without the forget notes where the run recorded one (counts as text, shares on hover; a bar of 0 notes
    carries no text, so neighbouring labels never run into each other)."""
    went = (results.get("collateral") or {}).get("forgotten_notes") or {}
    labels = results.get("labels") or list((went.get("before") or {}).keys())
    reference = (results.get("reference") or {}).get("forgotten_notes_after")
    series = [("Before", went.get("before"), BEFORE), ("After", went.get("after"), AFTER)]
    if reference:
        series.append(("Retrain without the notes", reference, REFERENCE))
    fig = go.Figure()
    for name, row, colour in series:
        row = row or {}
        counts = [row.get(lab, {}).get("count", 0) for lab in labels]
        shares = [row.get(lab, {}).get("share", 0.0) for lab in labels]
        fig.add_bar(x=[label_text(lab) for lab in labels], y=counts, name=name, marker_color=colour,
                    text=[str(c) if c else "" for c in counts], textposition="outside", cliponaxis=False,
                    customdata=[100 * s for s in shares], hovertemplate="%{y} notes (%{customdata:.0f} %)")
    fc = label_text(results.get("forget_class", ""))
    layout(fig, f"Where the {went.get('n', 0)} evaluation notes of '{fc}' are predicted", barmode="group",
           yaxis=dict(title="notes"), xaxis=dict(title="predicted class"))
    fig.update_xaxes(automargin=True)
    return fig
