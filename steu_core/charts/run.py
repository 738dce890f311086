"""Figures of one run, from its results.json dict: F1 before/after, per class, confusion matrices,
membership-inference ROC, changed embedding rows and the share of parameters changed."""
from __future__ import annotations

import math
from html import escape

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..format import label, percent
from ..phi import mask_tokens
from ..result_keys import (CONF_AUC_AFTER, CONF_AUC_BEFORE, CONF_AUC_CI_AFTER, CONF_AUC_CI_BEFORE, CONFUSION_AFTER,
                           CONFUSION_BEFORE, LOSS_AUC_AFTER, LOSS_AUC_BEFORE, LOSS_AUC_CI_AFTER, LOSS_AUC_CI_BEFORE,
                           MIA, PER_CLASS_F1_AFTER, PER_CLASS_F1_BEFORE, ROC_AFTER, ROC_BEFORE)
from .base import AFTER, AFTER_LIGHT, BEFORE, BEFORE_DARK, DIAGONAL, bar_text, label_text, layout, num, token_text


def forget_retain_f1(results: dict) -> go.Figure:
    """The headline chart: forget F1, retain F1 and macro F1, before and after (grouped bars)."""
    fc = label_text(results.get("forget_class", "forget class"))
    cats = [f"Forget F1<br>({fc})", "Retain F1<br>(other classes)", "Macro F1<br>(all classes)"]
    before = [num(results.get(f"{m}_f1_before")) for m in ("forget", "retain", "macro")]
    after = [num(results.get(f"{m}_f1_after")) for m in ("forget", "retain", "macro")]
    fig = go.Figure()
    for name, vals, colour in (("Before", before, BEFORE), ("After", after, AFTER)):
        fig.add_bar(name=name, x=cats, y=[v or 0.0 for v in vals], marker_color=colour, text=bar_text(vals),
                    textposition="outside", cliponaxis=False,
                    hovertemplate="%{x}<br>" + name + ": %{y:.4f}<extra></extra>")
    layout(fig, "Forgetting vs. utility: F1 on the held-out evaluation set", barmode="group", bargap=0.3,
            bargroupgap=0.06)
    fig.update_yaxes(title_text="F1 score", range=[0, 1.12], dtick=0.2, tickformat=".1f")
    fig.update_xaxes(title_text="")
    return fig


def per_class_f1(results: dict) -> go.Figure:
    """F1 of every class before and after; the forgotten class is marked on the axis."""
    labels = list(results.get("labels") or results.get(PER_CLASS_F1_BEFORE, {}).keys())
    fc = results.get("forget_class")
    before = results.get(PER_CLASS_F1_BEFORE, {})
    after = results.get(PER_CLASS_F1_AFTER, {})
    ticks = [f"<b>{label_text(lab)} (forgotten)</b>" if lab == fc else label_text(lab) for lab in labels]
    fig = go.Figure()
    for name, src, colour in (("Before", before, BEFORE), ("After", after, AFTER)):
        vals = [num(src.get(lab)) for lab in labels]
        fig.add_bar(name=name, x=ticks, y=[v or 0.0 for v in vals], marker_color=colour, text=bar_text(vals),
                    textposition="outside", cliponaxis=False,
                    hovertemplate="%{x}<br>" + name + ": %{y:.4f}<extra></extra>")
    layout(fig, "F1 per class, before and after", barmode="group", bargap=0.25)
    fig.update_yaxes(title_text="F1 score", range=[0, 1.12], dtick=0.2, tickformat=".1f")
    fig.update_xaxes(title_text="Class")
    return fig


def _wrap_label(name: str, width: int = 14) -> str:
    """A class name for an axis: printable, HTML-escaped, underscores as spaces, broken onto lines of ~``width``."""
    lines, line = [], ""
    for word in label(name).replace("_", " ").split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(escape(x) for x in lines if x)


def confusion_matrices(results: dict) -> go.Figure:
    """Before and after confusion matrices side by side (rows: true class, columns: predicted class).

    Colour is the share of the row (so classes of different sizes compare); the cell text is the count.
    """
    labels = list(results.get("labels", []))
    fc = results.get("forget_class")
    ticks = [f"<b>{_wrap_label(lab, 10)}*</b>" if lab == fc else _wrap_label(lab, 10) for lab in labels]
    # columns are narrow: the predicted classes go on one slanted line each, which cannot run into each other
    columns = [t.replace("<br>", " ") for t in ticks]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Before", "After"), horizontal_spacing=0.05)
    for col, key in ((1, CONFUSION_BEFORE), (2, CONFUSION_AFTER)):
        cm = results.get(key) or [[0] * len(labels) for _ in labels]
        share = [[(v / sum(row)) if sum(row) else 0.0 for v in row] for row in cm]
        fig.add_trace(go.Heatmap(
            z=share, x=columns, y=ticks, text=cm, texttemplate="%{text}", textfont=dict(size=13),
            colorscale=[[0, "#ffffff"], [0.5, AFTER_LIGHT], [1, AFTER]], zmin=0, zmax=1,
            showscale=(col == 2), colorbar=dict(title=dict(text="share<br>of row"), tickformat=".0%", len=0.85),
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} notes (%{z:.1%} of the row)<extra></extra>"),
            row=1, col=col)
        # both matrices share the classes: the row names once, on the left, so they never overlap
        fig.update_yaxes(autorange="reversed", title_text="True class" if col == 1 else None,
                         showticklabels=(col == 1), row=1, col=col)
        fig.update_xaxes(title_text="Predicted class", row=1, col=col, tickangle=-45, automargin=True,
                         title_standoff=10, tickfont=dict(size=11))
    # the note on the mark goes under the title: at the top right it ran into the "After" heading
    subtitle = (f"<br><span style='font-size:12px;color:{BEFORE_DARK}'>* forgotten class: "
                f"{label_text(fc)}</span>") if fc else ""
    layout(fig, "Confusion matrices on the evaluation set" + subtitle)
    fig.update_yaxes(ticksuffix=" ")
    fig.update_layout(margin=dict(l=110, r=30, t=110, b=110))
    return fig


ROC_WIDE_HEIGHT = 450  # the legend beside the plot: a slide at 1280x720 and half a PDF page hold it whole


def mia_roc(results: dict, legend_beside: bool = False) -> go.Figure:
    """Membership-inference ROC curves (loss and confidence attacks), before and after, with AUCs. The legend
    sits under the square plot (a narrow column), or beside it (``legend_beside``: a wide, low figure for a
    slide or a PDF page)."""
    mia = results.get(MIA) or {}
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="Chance: AUC 0.5 (the attacker guesses)",
                    line=dict(color=DIAGONAL, dash="dot", width=1.5), hoverinfo="skip")
    styles = {"loss": dict(dash="solid", width=2.6), "confidence": dict(dash="dash", width=2.0)}
    keys = {"before": (ROC_BEFORE, {"loss": (LOSS_AUC_BEFORE, LOSS_AUC_CI_BEFORE),
                                    "confidence": (CONF_AUC_BEFORE, CONF_AUC_CI_BEFORE)}),
            "after": (ROC_AFTER, {"loss": (LOSS_AUC_AFTER, LOSS_AUC_CI_AFTER),
                                  "confidence": (CONF_AUC_AFTER, CONF_AUC_CI_AFTER)})}
    any_curve = False
    for when, colour in (("before", BEFORE), ("after", AFTER)):
        roc_key, auc_keys = keys[when]
        roc = mia.get(roc_key) or {}
        for attack in ("loss", "confidence"):
            curve = roc.get(attack) or {}
            if not curve.get("fpr"):
                continue
            any_curve = True
            auc = num(mia.get(auc_keys[attack][0]))
            ci = mia.get(auc_keys[attack][1])
            label = f"{when.capitalize()}, {attack}"
            if auc is not None:
                label += f": AUC {auc:.3f}"
                label += f" (CI {ci[0]:.2f}-{ci[1]:.2f})" if ci and len(ci) == 2 else ""  # short: half a page wide
            fig.add_scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=label,
                            line=dict(color=colour, **styles[attack]),
                            hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<extra>" + label + "</extra>")
    title = ("Membership inference: ROC curves<br><span style='font-size:13px;color:#5f6368'>"
             "Can an attacker tell forget-set notes<br>from unseen notes of the class?</span>")
    layout(fig, title)
    # The legend sits outside the plot, so it never hides a curve and stays legible when printed.
    legend = dict(font=dict(size=12), title=dict(text="95 % intervals in brackets"), orientation="v")
    if legend_beside:
        fig.update_layout(legend=dict(legend, yanchor="middle", y=0.5, xanchor="left", x=0.62),
                          margin=dict(l=90, r=20, t=125, b=70), height=ROC_WIDE_HEIGHT)
        fig.update_xaxes(domain=[0, 0.58])  # the square plot on the left, its legend right beside it
    else:
        fig.update_layout(legend=dict(legend, yanchor="top", y=-0.13, xanchor="left", x=-0.15),
                          margin=dict(l=90, r=30, t=105, b=40), height=780)
    # two-line axis titles: the plot is square, so a one-line title longer than its side was cut
    fig.update_xaxes(title_text="False positive rate<br>(unseen notes flagged as members)", range=[0, 1],
                     constrain="domain", tickformat=".1f", dtick=0.2)
    fig.update_yaxes(title_text="True positive rate<br>(forget-set notes detected)", range=[0, 1],
                     scaleanchor="x", scaleratio=1, constrain="domain", tickformat=".1f", dtick=0.2)
    if not any_curve:
        reason = mia.get("skipped") or "no membership-inference curves in this run"
        fig.add_annotation(text=reason, x=0.5, y=0.5, showarrow=False, font=dict(size=14, color=BEFORE_DARK))
    return fig


def changed_rows(results: dict, top: int = 30) -> go.Figure:
    """Embedding rows ranked by how far they moved (L2 norm of the change); hover shows PMI and counts.
    Identifier-like tokens appear masked (steu_core.phi) unless the results were revealed on purpose."""
    toks = [t for t in mask_tokens(results.get("selected_tokens", [])) if num(t.get("l2_change")) is not None]
    toks = sorted(toks, key=lambda t: -float(t["l2_change"]))[:max(0, int(top))]
    toks = list(reversed(toks))  # largest at the top of a horizontal bar chart
    names = [token_text(t.get("token", "?")) + ("" if t.get("id") is None else  # a masked token: no id (phi)
                                                f" <span style='color:{BEFORE_DARK}'>id {t.get('id')}</span>")
             for t in toks]
    custom = [[num(t.get("pmi")), t.get("df_forget"), t.get("df_total"), t.get("id")] for t in toks]
    fig = go.Figure(go.Bar(
        x=[float(t["l2_change"]) for t in toks], y=names, orientation="h", marker_color=AFTER, customdata=custom,
        text=[f"{float(t['l2_change']):.3f}" for t in toks], textposition="outside", cliponaxis=False,
        name="L2 change",
        hovertemplate=("%{y}<br>L2 change %{x:.4f}<br>PMI %{customdata[0]:.3f}<br>"
                       "in %{customdata[1]} of the forget notes, %{customdata[2]} notes in all<extra></extra>")))
    n_all = len(results.get("selected_tokens", []))
    layout(fig, f"Changed embedding rows<br><span style='font-size:13px;color:{BEFORE_DARK}'>the {len(toks)} of "
                f"{n_all} that moved most</span>", showlegend=False)
    fig.update_xaxes(title_text="L2 norm of the row change")
    fig.update_yaxes(title_text="", automargin=True, tickfont=dict(size=12))
    fig.update_layout(height=max(380, 120 + 19 * len(toks)), margin=dict(l=150, r=60, t=85, b=60))
    if not toks:
        fig.add_annotation(text="no changed rows recorded", x=0.5, y=0.5, xref="paper", yref="paper",
                           showarrow=False)
    return fig


def _human(n: float) -> str:
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f} {unit}"
    return f"{n:,.0f}"


def changed_fraction(results: dict) -> go.Figure:
    """Changed vs total parameters on a log scale, so a ~0.2 % change stays visible, with the fraction."""
    total = int(results.get("params_total") or 0)
    changed = int(results.get("params_changed") or 0)
    frac = num(results.get("params_changed_fraction"))
    if frac is None:
        frac = changed / total if total else 0.0
    rows = int(results.get("changed_embedding_rows") or 0)
    hidden = (results.get("model") or {}).get("hidden_size")
    bars = [("All parameters", total, BEFORE, f"{total:,} (100 %)")]
    if hidden and rows:
        emb = rows * int(hidden)
        bars.append((f"Changed: {rows} embedding rows", emb, AFTER_LIGHT, f"{emb:,}"))
        bars.append(("Changed: head and other", max(changed - emb, 0), AFTER_LIGHT, f"{max(changed - emb, 0):,}"))
    bars.append(("Changed in total", changed, AFTER, f"{changed:,} ({percent(frac, 3)})"))
    bars = [b for b in bars if b[1] > 0] or bars[:1]
    bars.reverse()
    fig = go.Figure(go.Bar(
        x=[b[1] for b in bars], y=[b[0] for b in bars], orientation="h", marker_color=[b[2] for b in bars],
        text=[b[3] for b in bars], cliponaxis=False,
        textposition=["inside" if b[1] == total and b[0] == "All parameters" else "outside" for b in bars],
        insidetextanchor="end", insidetextfont=dict(color="white"),
        hovertemplate="%{y}: %{x:,} parameters<extra></extra>"))
    layout(fig, f"Parameters changed: {percent(frac, 3)} of the model ({_human(changed)} of {_human(total)})",
            showlegend=False)
    fig.add_annotation(text=f"{percent(1 - frac, 3)} of all parameters are bit-identical to the original model",
                       xref="paper", yref="paper", x=0, y=1.02, xanchor="left", yanchor="bottom", showarrow=False,
                       font=dict(size=13, color=BEFORE_DARK))
    hi = max(total, changed, 10)
    # The axis starts at 1 parameter, so every bar's length is its order of magnitude.
    fig.update_xaxes(type="log", title_text="Number of parameters (log scale: each grid line is 10 times more)",
                     range=[0, math.log10(hi) + 0.75], dtick=1, tickformat="~s")
    fig.update_yaxes(automargin=True)
    fig.update_layout(height=max(280, 160 + 55 * len(bars)), margin=dict(l=70, r=40, t=90, b=70), bargap=0.35)
    return fig
