"""Collateral damage: each class's F1 before and after with its 95 % interval, and where the
forgotten class's evaluation notes go (from results.json's ``collateral`` section)."""
from __future__ import annotations

import plotly.graph_objects as go

from .base import AFTER, BEFORE, label_text, layout


def class_f1_with_intervals(results: dict) -> go.Figure:
    """Per-class F1 over all evaluation notes, before and after, with bootstrap 95 % intervals; the
    classes whose change lies beyond its interval are marked, the forgotten one named as such."""
    rows = (results.get("collateral") or {}).get("per_class", [])
    names = [class_name(r) for r in rows]
    fig = go.Figure()
    for key, ci_key, label, colour in (("f1_before", "ci_before", "Before", BEFORE), ("f1_after", "ci_after", "After", AFTER)):
        values = [r[key] for r in rows]
        fig.add_bar(y=names, x=values, name=label, orientation="h", marker_color=colour,
                    error_x=dict(type="data", symmetric=False, thickness=1.2, width=4,
                                 array=[r[ci_key][1] - r[key] for r in rows],
                                 arrayminus=[r[key] - r[ci_key][0] for r in rows]),
                    text=[f"{v:.3f}" for v in values], textposition="outside", cliponaxis=False)
    layout(fig, "F1 of every class, before and after (95 % intervals)", barmode="group",
           xaxis=dict(title="F1 on all evaluation notes", range=[0, 1.12]))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_layout(height=max(320, 140 + 70 * len(rows)), margin=dict(l=40, r=40, t=90, b=60))
    return fig


def class_name(row: dict) -> str:
    mark = " (forgotten)" if row.get("forgotten") else (" ▼ lost" if row["change_ci"][1] < 0 else "")
    return label_text(row["label"]) + mark


def forgotten_notes(results: dict) -> go.Figure:
    """Where the forgotten class's evaluation notes are predicted, before and after (counts, with
    the share of the class's notes as text)."""
    went = (results.get("collateral") or {}).get("forgotten_notes") or {}
    labels = results.get("labels") or list((went.get("before") or {}).keys())
    fig = go.Figure()
    for when, colour in (("before", BEFORE), ("after", AFTER)):
        row = went.get(when) or {}
        counts = [row.get(lab, {}).get("count", 0) for lab in labels]
        shares = [row.get(lab, {}).get("share", 0.0) for lab in labels]
        fig.add_bar(x=[label_text(lab) for lab in labels], y=counts, name=when.capitalize(), marker_color=colour,
                    text=[f"{c} ({100 * s:.0f} %)" for c, s in zip(counts, shares)], textposition="outside",
                    cliponaxis=False)
    fc = label_text(results.get("forget_class", ""))
    layout(fig, f"Where the {went.get('n', 0)} evaluation notes of '{fc}' are predicted", barmode="group",
           yaxis=dict(title="notes"), xaxis=dict(title="predicted class"))
    fig.update_xaxes(automargin=True)
    return fig
