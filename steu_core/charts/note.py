"""One note's class probabilities under the original model and the new model version (from
:func:`steu_core.try_note.compare_note`)."""
from __future__ import annotations

import html

import plotly.graph_objects as go

from ..format import percent
from .base import AFTER, BEFORE, layout


def note_probabilities(scored: dict) -> go.Figure:
    """Grouped horizontal bars: each class's probability before (original) and after (new version)."""
    labels = list(scored.get("labels") or [])
    fc = scored.get("forget_class")
    names = [html.escape(str(lab)) + (" (forgotten)" if lab == fc else "") for lab in labels]
    fig = go.Figure()
    for key, name, colour in (("before", "Original model", BEFORE), ("after", "New model version", AFTER)):
        values = [float(v) for v in scored.get(key) or []]
        fig.add_bar(y=names, x=values, name=name, orientation="h", marker_color=colour,
                    text=[percent(v, 3) for v in values], textposition="outside", cliponaxis=False,
                    hovertemplate="%{y}<br>" + name + ": %{x:.3f}<extra></extra>")
    layout(fig, "Class probabilities of this note", barmode="group", bargap=0.25)
    fig.update_xaxes(title_text="probability", range=[0, 1.15], tickformat=".0%")
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_layout(height=max(300, 130 + 60 * len(labels)), margin=dict(l=20, r=30, t=90, b=60))
    return fig
