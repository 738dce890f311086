"""Where in the network the forgotten class is still linearly recoverable: the layer-wise probe's AUC by
depth for every model of a comparison (``comparison.json``'s ``audits.layer_probe``), the retrain
oracle's curve dashed as the reference."""
from __future__ import annotations

import plotly.graph_objects as go

from ..reference import ORACLE
from .base import AFTER, BEFORE, layout, num

ORACLE_COLOUR = "#202124"
OTHER_COLOURS = ["#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]


def _style(name: str, i: int) -> dict:
    if name == "original":
        return dict(color=BEFORE, dash="solid")
    if name == ORACLE:
        return dict(color=ORACLE_COLOUR, dash="dash")
    if name == "steu":
        return dict(color=AFTER, dash="solid")
    return dict(color=OTHER_COLOURS[i % len(OTHER_COLOURS)], dash="dot")


def _curve(name: str, depths: list[dict], i: int) -> go.Scatter:
    xs = [d["depth"] for d in depths]
    ys = [num(d.get("auc")) for d in depths]
    up = [0.0 if not d.get("auc_ci") else max(0.0, float(d["auc_ci"][1]) - y) for d, y in zip(depths, ys)]
    down = [0.0 if not d.get("auc_ci") else max(0.0, y - float(d["auc_ci"][0])) for d, y in zip(depths, ys)]
    return go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, line=_style(name, i),
                      error_y=dict(type="data", array=up, arrayminus=down, thickness=1, width=3),
                      hovertemplate=f"<b>{name}</b><br>%{{x}}: AUC %{{y:.3f}}<extra></extra>")


def layer_probe_curves(comparison: dict) -> go.Figure:
    """Probe AUC (forget class vs rest, held-out notes) at each depth, one line per model, 95 % intervals."""
    audit = (comparison.get("audits") or {}).get("layer_probe") or {}
    fig = go.Figure()
    for i, (name, row) in enumerate((audit.get("per_model") or {}).items()):
        if row.get("depths"):
            fig.add_trace(_curve(name, row["depths"], i))
    fig.add_hline(y=0.5, line=dict(color="#b0b0b0", dash="dot"), annotation_text="chance",
                  annotation_position="bottom right")
    layout(fig, "Where the forgotten class is still linearly readable (layer-wise probe)",
           yaxis=dict(title="probe AUC (forget class vs rest)", range=[0.4, 1.02]),
           xaxis=dict(title="depth (mean-pooled hidden states; the head input last)"))
    return fig
