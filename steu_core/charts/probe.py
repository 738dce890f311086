"""Where in the network the forgotten class is still linearly recoverable: the layer-wise probe's AUC by
depth for every model of a comparison (``comparison.json``'s ``audits.layer_probe``), the retrain
oracle's curve dashed as the reference, and the caption that reads the chart in words (which line is
which, and what a curve near 1 at every depth means)."""
from __future__ import annotations

import plotly.graph_objects as go

from ..format import number
from ..reference import ORACLE
from .base import AFTER, BEFORE, layout, num

ORACLE_COLOUR = "#202124"
OTHER_COLOURS = ["#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]
# A probe AUC at least this high at every depth is "near 1": the class is still readable inside the model.
READABLE_AUC = 0.9
LINE_WORDS = {"solid": "solid", "dash": "dashed", "dot": "dotted"}
COLOUR_WORDS = dict(zip([BEFORE, AFTER, ORACLE_COLOUR, *OTHER_COLOURS],
                        ["grey", "teal", "black", "orange", "purple", "pink", "green", "yellow", "brown"]))


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


def _curves(comparison: dict) -> dict[str, list[dict]]:
    audit = (comparison.get("audits") or {}).get("layer_probe") or {}
    return {name: row["depths"] for name, row in (audit.get("per_model") or {}).items() if row.get("depths")}


def _lowest_auc(depths: list[dict]) -> float | None:
    aucs = [num(d.get("auc")) for d in depths]
    return None if not aucs or any(a is None for a in aucs) else min(aucs)


def layer_probe_caption(comparison: dict) -> str:
    """The layer-probe chart in words: which line is which (the dashed reference is the retrain oracle only
    when one was compared), and which models the probe still reads the class in at every depth."""
    curves = _curves(comparison)
    styles = {name: _style(name, i) for i, name in enumerate(curves)}
    lines = ", ".join(f"{name} {LINE_WORDS[s['dash']]} {COLOUR_WORDS[s['color']]}" for name, s in styles.items())
    text = ["A linear probe on held-out notes at each depth of the network: how well the forgotten class can still "
            "be told from the others (AUC 0.5: not at all; near 1: every time). "
            + (f"Lines: {lines}." if lines else "")]
    if ORACLE in curves:
        text.append(f"The dashed line is the retrain oracle ({ORACLE}), a model trained without the forget notes: "
                    "the honest floor. A curve above it leaves more of the class there than retraining would.")
    else:
        text.append("No retrain oracle was in this comparison, so no line is a floor: a pretrained encoder often "
                    "tells the class apart without ever being trained on it, and only a retrain shows how much of "
                    "that reading the forget notes leave behind.")
    lowest = {name: _lowest_auc(d) for name, d in curves.items() if name != "original"}
    readable = [f"{name} (lowest {number(a, 2)})" for name, a in lowest.items() if a is not None and a >= READABLE_AUC]
    if readable:
        names = readable[0] if len(readable) == 1 else f"{', '.join(readable[:-1])} and {readable[-1]}"
        text.append(f"For {names}, the probe AUC is at least {number(READABLE_AUC, 1)} at every depth: the class "
                    "is still readable inside the model, whatever its outputs say.")
    return " ".join(text)
