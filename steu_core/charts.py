"""Plotly figures built from a results.json dict (docs/CONTRACTS.md), shared by the dashboard and the
PDF report. Pure functions: each takes the results dict and returns a ``plotly.graph_objects.Figure``;
nothing here reads files, imports Streamlit or touches the model.

Colours are fixed across every figure: *before* is grey, *after* is teal.
"""
from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Iterable

import plotly.graph_objects as go
from plotly.subplots import make_subplots

BEFORE = "#9aa0a6"          # grey: the original model
AFTER = "#0f7c8c"           # teal: the unlearned model
BEFORE_DARK = "#5f6368"
AFTER_LIGHT = "#7cc4cc"
DIAGONAL = "#b0b0b0"
TEMPLATE = "plotly_white"
FONT = dict(family="DejaVu Sans, Arial, sans-serif", size=13, color="#202124")

__all__ = ["BEFORE", "AFTER", "forget_retain_f1", "per_class_f1", "confusion_matrices", "mia_roc",
           "changed_rows", "changed_fraction", "comparison_pareto", "to_png", "to_pngs"]


def _layout(fig: go.Figure, title: str, **kw) -> go.Figure:
    fig.update_layout(template=TEMPLATE, font=FONT,
                      title=dict(text=title, x=0.01, xanchor="left", font=dict(size=17)),
                      legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="right", x=1.0),
                      margin=dict(l=70, r=30, t=90, b=60), **kw)
    return fig


def _num(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _bar_text(values: Iterable) -> list[str]:
    return ["n/a" if v is None else f"{v:.3f}" for v in values]


def forget_retain_f1(results: dict) -> go.Figure:
    """The headline chart: forget F1, retain F1 and macro F1, before and after (grouped bars)."""
    fc = results.get("forget_class", "forget class")
    cats = [f"Forget F1<br>({fc})", "Retain F1<br>(other classes)", "Macro F1<br>(all classes)"]
    before = [_num(results.get(f"{m}_f1_before")) for m in ("forget", "retain", "macro")]
    after = [_num(results.get(f"{m}_f1_after")) for m in ("forget", "retain", "macro")]
    fig = go.Figure()
    for name, vals, colour in (("Before", before, BEFORE), ("After", after, AFTER)):
        fig.add_bar(name=name, x=cats, y=[v or 0.0 for v in vals], marker_color=colour, text=_bar_text(vals),
                    textposition="outside", cliponaxis=False,
                    hovertemplate="%{x}<br>" + name + ": %{y:.4f}<extra></extra>")
    _layout(fig, "Forgetting vs. utility: F1 on the held-out evaluation set", barmode="group", bargap=0.3,
            bargroupgap=0.06)
    fig.update_yaxes(title_text="F1 score", range=[0, 1.12], dtick=0.2, tickformat=".1f")
    fig.update_xaxes(title_text="")
    return fig


def per_class_f1(results: dict) -> go.Figure:
    """F1 of every class before and after; the forgotten class is marked on the axis."""
    labels = list(results.get("labels") or results.get("per_class_f1_before", {}).keys())
    fc = results.get("forget_class")
    before = results.get("per_class_f1_before", {})
    after = results.get("per_class_f1_after", {})
    ticks = [f"<b>{html.escape(lab)} (forgotten)</b>" if lab == fc else html.escape(lab) for lab in labels]
    fig = go.Figure()
    for name, src, colour in (("Before", before, BEFORE), ("After", after, AFTER)):
        vals = [_num(src.get(lab)) for lab in labels]
        fig.add_bar(name=name, x=ticks, y=[v or 0.0 for v in vals], marker_color=colour, text=_bar_text(vals),
                    textposition="outside", cliponaxis=False,
                    hovertemplate="%{x}<br>" + name + ": %{y:.4f}<extra></extra>")
    _layout(fig, "F1 per class, before and after", barmode="group", bargap=0.25)
    fig.update_yaxes(title_text="F1 score", range=[0, 1.12], dtick=0.2, tickformat=".1f")
    fig.update_xaxes(title_text="Class")
    return fig


def _wrap_label(label: str, width: int = 14) -> str:
    """A class name for an axis: HTML-escaped, underscores as spaces, broken onto lines of ~``width``."""
    lines, line = [], ""
    for word in str(label).replace("_", " ").split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(html.escape(x) for x in lines if x)


def confusion_matrices(results: dict) -> go.Figure:
    """Before and after confusion matrices side by side (rows: true class, columns: predicted class).

    Colour is the share of the row (so classes of different sizes compare); the cell text is the count.
    """
    labels = list(results.get("labels", []))
    fc = results.get("forget_class")
    ticks = [f"<b>{_wrap_label(lab)}*</b>" if lab == fc else _wrap_label(lab) for lab in labels]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Before", "After"), horizontal_spacing=0.05)
    for col, key in ((1, "confusion_before"), (2, "confusion_after")):
        cm = results.get(key) or [[0] * len(labels) for _ in labels]
        share = [[(v / sum(row)) if sum(row) else 0.0 for v in row] for row in cm]
        fig.add_trace(go.Heatmap(
            z=share, x=ticks, y=ticks, text=cm, texttemplate="%{text}", textfont=dict(size=13),
            colorscale=[[0, "#ffffff"], [0.5, AFTER_LIGHT], [1, AFTER]], zmin=0, zmax=1,
            showscale=(col == 2), colorbar=dict(title=dict(text="share<br>of row"), tickformat=".0%", len=0.85),
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} notes (%{z:.1%} of the row)<extra></extra>"),
            row=1, col=col)
        # both matrices share the classes: the row names once, on the left, so they never overlap
        fig.update_yaxes(autorange="reversed", title_text="True class" if col == 1 else None,
                         showticklabels=(col == 1), row=1, col=col)
        fig.update_xaxes(title_text="Predicted class", row=1, col=col, tickangle=-30)
    subtitle = f"* forgotten class: {fc}" if fc else ""
    _layout(fig, "Confusion matrices on the evaluation set")
    if subtitle:
        fig.add_annotation(text=subtitle, xref="paper", yref="paper", x=1.0, y=1.06, showarrow=False,
                           xanchor="right", yanchor="bottom", font=dict(size=12, color=BEFORE_DARK))
    fig.update_yaxes(ticksuffix=" ")
    fig.update_layout(margin=dict(l=110, r=30, t=100, b=90))
    return fig


def mia_roc(results: dict) -> go.Figure:
    """Membership-inference ROC curves (loss and confidence attacks), before and after, with AUCs."""
    mia = results.get("mia") or {}
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="Chance: AUC 0.5 (the attacker guesses)",
                    line=dict(color=DIAGONAL, dash="dot", width=1.5), hoverinfo="skip")
    styles = {"loss": dict(dash="solid", width=2.6), "confidence": dict(dash="dash", width=2.0)}
    auc_key = {"loss": "loss_auc", "confidence": "conf_auc"}
    any_curve = False
    for when, colour in (("before", BEFORE), ("after", AFTER)):
        roc = mia.get(f"roc_{when}") or {}
        for attack in ("loss", "confidence"):
            curve = roc.get(attack) or {}
            if not curve.get("fpr"):
                continue
            any_curve = True
            auc = _num(mia.get(f"{auc_key[attack]}_{when}"))
            ci = mia.get(f"{auc_key[attack]}_ci_{when}")
            label = f"{when.capitalize()}, {attack} attack"
            if auc is not None:
                label += f": AUC {auc:.3f}"
                label += f" (95% CI {ci[0]:.2f}-{ci[1]:.2f})" if ci and len(ci) == 2 else ""
            fig.add_scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=label,
                            line=dict(color=colour, **styles[attack]),
                            hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<extra>" + label + "</extra>")
    title = ("Membership inference: ROC curves<br><span style='font-size:13px;color:#5f6368'>"
             "Can an attacker tell forget-set notes from unseen notes of the class?</span>")
    _layout(fig, title)
    # The legend sits under the plot, so it never hides a curve and stays legible when printed.
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=-0.13, xanchor="left", x=0.0,
                                  font=dict(size=13)),
                      margin=dict(l=70, r=30, t=85, b=40), height=760)
    fig.update_xaxes(title_text="False positive rate (unseen notes flagged as members)", range=[0, 1],
                     constrain="domain", tickformat=".1f", dtick=0.2)
    fig.update_yaxes(title_text="True positive rate (forget-set notes detected)", range=[0, 1],
                     scaleanchor="x", scaleratio=1, constrain="domain", tickformat=".1f", dtick=0.2)
    if not any_curve:
        reason = mia.get("skipped") or "no membership-inference curves in this run"
        fig.add_annotation(text=reason, x=0.5, y=0.5, showarrow=False, font=dict(size=14, color=BEFORE_DARK))
    return fig


def changed_rows(results: dict, top: int = 30) -> go.Figure:
    """Embedding rows ranked by how far they moved (L2 norm of the change); hover shows PMI and counts."""
    toks = [t for t in results.get("selected_tokens", []) if _num(t.get("l2_change")) is not None]
    toks = sorted(toks, key=lambda t: -float(t["l2_change"]))[:max(0, int(top))]
    toks = list(reversed(toks))  # largest at the top of a horizontal bar chart
    names = [f"{html.escape(str(t.get('token', '?')))} <span style='color:{BEFORE_DARK}'>#{t.get('id')}</span>" for t in toks]
    custom = [[_num(t.get("pmi")), t.get("df_forget"), t.get("df_total"), t.get("id")] for t in toks]
    fig = go.Figure(go.Bar(
        x=[float(t["l2_change"]) for t in toks], y=names, orientation="h", marker_color=AFTER, customdata=custom,
        text=[f"{float(t['l2_change']):.3f}" for t in toks], textposition="outside", cliponaxis=False,
        name="L2 change",
        hovertemplate=("%{y}<br>L2 change %{x:.4f}<br>PMI %{customdata[0]:.3f}<br>"
                       "in %{customdata[1]} of the forget notes, %{customdata[2]} notes in all<extra></extra>")))
    n_all = len(results.get("selected_tokens", []))
    _layout(fig, f"Changed embedding rows: top {len(toks)} of {n_all} by size of change", showlegend=False)
    fig.update_xaxes(title_text="L2 norm of the row change")
    fig.update_yaxes(title_text="", automargin=True, tickfont=dict(size=12))
    fig.update_layout(height=max(380, 110 + 19 * len(toks)), margin=dict(l=150, r=60, t=70, b=60))
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
    frac = _num(results.get("params_changed_fraction"))
    if frac is None:
        frac = changed / total if total else 0.0
    rows = int(results.get("changed_embedding_rows") or 0)
    hidden = (results.get("model") or {}).get("hidden_size")
    bars = [("All parameters", total, BEFORE, f"{total:,} (100 %)")]
    if hidden and rows:
        emb = rows * int(hidden)
        bars.append((f"Changed: {rows} embedding rows", emb, AFTER_LIGHT, f"{emb:,}"))
        bars.append(("Changed: head and other", max(changed - emb, 0), AFTER_LIGHT, f"{max(changed - emb, 0):,}"))
    bars.append(("Changed in total", changed, AFTER, f"{changed:,} ({100 * frac:.3f} %)"))
    bars = [b for b in bars if b[1] > 0] or bars[:1]
    bars.reverse()
    fig = go.Figure(go.Bar(
        x=[b[1] for b in bars], y=[b[0] for b in bars], orientation="h", marker_color=[b[2] for b in bars],
        text=[b[3] for b in bars], cliponaxis=False,
        textposition=["inside" if b[1] == total and b[0] == "All parameters" else "outside" for b in bars],
        insidetextanchor="end", insidetextfont=dict(color="white"),
        hovertemplate="%{y}: %{x:,} parameters<extra></extra>"))
    _layout(fig, f"Parameters changed: {100 * frac:.3f} % of the model ({_human(changed)} of {_human(total)})",
            showlegend=False)
    fig.add_annotation(text=f"{100 * (1 - frac):.3f} % of all parameters are bit-identical to the original model",
                       xref="paper", yref="paper", x=0, y=1.02, xanchor="left", yanchor="bottom", showarrow=False,
                       font=dict(size=13, color=BEFORE_DARK))
    hi = max(total, changed, 10)
    # The axis starts at 1 parameter, so every bar's length is its order of magnitude.
    fig.update_xaxes(type="log", title_text="Number of parameters (log scale: each grid line is 10 times more)",
                     range=[0, math.log10(hi) + 0.75], dtick=1, tickformat="~s")
    fig.update_yaxes(automargin=True)
    fig.update_layout(height=max(280, 160 + 55 * len(bars)), margin=dict(l=70, r=40, t=90, b=70), bargap=0.35)
    return fig


def to_png(fig: go.Figure, path: str | Path, width: int = 1000, height: int = 560, scale: float = 2.0) -> Path:
    """Render one figure to a PNG with kaleido (a local Chromium). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_image(str(path), width=width, height=height, scale=scale)
    return path


def to_pngs(items: list[tuple[go.Figure, str | Path, int, int]], scale: float = 2.0) -> list[Path]:
    """Render several figures in one browser session (much faster than one ``to_png`` each)."""
    if not items:
        return []
    import plotly.io as pio

    paths = [Path(p) for _, p, _, _ in items]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(pio, "write_images"):
        pio.write_images([f for f, _, _, _ in items], [str(p) for p in paths], width=[w for _, _, w, _ in items],
                         height=[h for _, _, _, h in items], scale=scale)
    else:  # older plotly: one at a time
        for fig, p, w, h in items:
            to_png(fig, p, w, h, scale)
    return paths


def _dominated(a: dict, b: dict) -> bool:
    """``b`` is at least as good as ``a`` on both axes (lower forget F1, higher retain F1) and better on one."""
    return (b["forget_f1"] <= a["forget_f1"] and b["retain_f1"] >= a["retain_f1"]
            and (b["forget_f1"] < a["forget_f1"] or b["retain_f1"] > a["retain_f1"]))


def _label_points(fig: go.Figure, xs: list[float], ys: list[float], names: list[str], min_gap: float = 0.14) -> None:
    """Name each point with a label on a short leader line. Points closer than ``min_gap`` of the x
    range (and of the y range) to an already labelled one get their label one level higher, so the
    names of methods that land on the same spot (often: forget F1 0) stay readable. The ranges are
    at least 0.1 (F1 units), about what the axes show around a tight cluster."""
    xspan = max(max(xs) - min(xs), 0.1)
    yspan = max(max(ys) - min(ys), 0.1)
    placed: list[tuple[float, float, int]] = []
    for i in sorted(range(len(xs)), key=lambda i: (xs[i], ys[i])):
        level = 0
        while any(lv == level and abs(xs[i] - x) < min_gap * xspan and abs(ys[i] - y) < min_gap * yspan
                  for x, y, lv in placed):
            level += 1
        placed.append((xs[i], ys[i], level))
        fig.add_annotation(x=xs[i], y=ys[i], text=html.escape(names[i]), showarrow=True, arrowhead=0, arrowwidth=1,
                           arrowcolor="#9a9a9a", ax=0, ay=-(24 + 17 * level), font=dict(size=12),
                           bgcolor="rgba(255,255,255,0.8)")


def comparison_pareto(comparison) -> go.Figure:
    """Methods of a comparison (``comparison.json`` dict or its rows): forget F1 against retain F1 with
    their 95 % intervals; marker size = share of parameters changed (log), colour = wall seconds (log);
    the dashed line joins the Pareto-optimal methods (no other method has lower forget F1 *and*
    higher retain F1). The original model is the hollow grey diamond."""
    rows = _scored_rows(comparison)
    fig = go.Figure()
    methods = [r for r in rows if r.get("method") != "original"]
    if methods:
        _add_methods(fig, methods)
        _add_pareto_front(fig, methods)
    for r in rows:
        if r.get("method") == "original":
            _add_original(fig, r)
    _pareto_layout(fig, rows)
    return fig


def _scored_rows(comparison) -> list[dict]:
    """The rows of a comparison that have both a forget and a retain F1."""
    rows = comparison.get("rows", []) if isinstance(comparison, dict) else list(comparison or [])
    return [r for r in rows if _num(r.get("forget_f1")) is not None and _num(r.get("retain_f1")) is not None]


def _ci_error(rows: list[dict], key: str, side: int) -> list[float]:
    """Distance from each row's ``key`` to one end of its 95 % interval (0 where there is none)."""
    out = []
    for r in rows:
        ci, v = r.get(f"{key}_ci"), _num(r.get(key))
        out.append(0.0 if not ci or _num(ci[side]) is None else abs(v - float(ci[side])))
    return out


def _hover(r: dict) -> str:
    pct = _num(r.get("params_changed_fraction"))
    sec = _num(r.get("wall_seconds"))
    return (f"<b>{html.escape(str(r.get('method')))}</b><br>forget F1 {float(r['forget_f1']):.3f}"
            f"<br>retain F1 {float(r['retain_f1']):.3f}"
            + (f"<br>parameters changed {100 * pct:.4g} %" if pct is not None else "")
            + (f"<br>{sec:.1f} s" if sec is not None else ""))


def _marker_sizes(methods: list[dict]) -> list[float]:
    """Marker size from the share of parameters changed, on a log scale: 1e-7 -> 14 px, 1 -> 45.5 px."""
    fracs = [max(_num(r.get("params_changed_fraction")) or 0.0, 1e-7) for r in methods]
    return [14 + 4.5 * (math.log10(f) + 7) for f in fracs]


def _time_colours(methods: list[dict]) -> tuple[list[float], int, int]:
    """log10 of each method's wall seconds and the whole decades around them (the colour bar's range)."""
    logs = [math.log10(max(_num(r.get("wall_seconds")) or 0.0, 0.01)) for r in methods]
    lo, hi = math.floor(min(logs)), math.ceil(max(logs))
    return logs, lo, (hi if hi > lo else lo + 1)


def _add_methods(fig: go.Figure, methods: list[dict]) -> None:
    """One marker per method, with its intervals as error bars and its name on a leader line."""
    logs, lo, hi = _time_colours(methods)
    ticks = list(range(lo, hi + 1))
    bars = dict(type="data", symmetric=False, color="#b0b0b0", thickness=1.2)
    fig.add_scatter(
        x=[r["retain_f1"] for r in methods], y=[r["forget_f1"] for r in methods], mode="markers",
        name="methods", text=[str(r.get("method")) for r in methods],
        hovertext=[_hover(r) for r in methods], hoverinfo="text",
        error_x=dict(array=_ci_error(methods, "retain_f1", 1), arrayminus=_ci_error(methods, "retain_f1", 0), **bars),
        error_y=dict(array=_ci_error(methods, "forget_f1", 1), arrayminus=_ci_error(methods, "forget_f1", 0), **bars),
        marker=dict(size=_marker_sizes(methods), color=logs, colorscale="Viridis", cmin=lo, cmax=hi, opacity=0.85,
                    line=dict(color="white", width=1),
                    colorbar=dict(title=dict(text="wall time"), tickvals=ticks,
                                  ticktext=[f"{10 ** t:g} s" for t in ticks])))
    _label_points(fig, [float(r["retain_f1"]) for r in methods], [float(r["forget_f1"]) for r in methods],
                  [str(r.get("method")) for r in methods])


def _add_pareto_front(fig: go.Figure, methods: list[dict]) -> None:
    """The dashed line through the methods no other method beats on both axes (when there are two or more)."""
    front = sorted((r for r in methods if not any(_dominated(r, o) for o in methods if o is not r)),
                   key=lambda r: r["retain_f1"])
    if len(front) > 1:
        fig.add_scatter(x=[r["retain_f1"] for r in front], y=[r["forget_f1"] for r in front], mode="lines",
                        name="Pareto front", line=dict(color=AFTER, dash="dash", width=1.5), hoverinfo="skip")


def _add_original(fig: go.Figure, r: dict) -> None:
    fig.add_scatter(x=[r["retain_f1"]], y=[r["forget_f1"]], mode="markers+text", name="original",
                    text=["original"], textposition="bottom center", hovertext=[_hover(r)], hoverinfo="text",
                    marker=dict(symbol="diamond-open", size=16, color=BEFORE_DARK, line=dict(width=2)))


def _pareto_layout(fig: go.Figure, rows: list[dict]) -> None:
    """Title, axes (forget F1 from just below 0 to above the highest interval), the legend of the encodings."""
    _layout(fig, "Forgetting vs utility of the compared methods")
    fig.update_xaxes(title_text="Retain F1 (other classes; higher is better)")
    tops = [_num((r.get("forget_f1_ci") or [None, None])[1]) or _num(r.get("forget_f1")) or 0.0 for r in rows]
    top = max(max(tops, default=0.0), 0.05)
    # a little room below 0, where successful methods sit, so their markers are not cut in half
    fig.update_yaxes(title_text="Forget F1 (forgotten class; lower is better)", range=[-0.08 * top, 1.12 * top])
    fig.add_annotation(text="marker size: share of parameters changed (log scale); colour: wall time; bars: 95 % "
                            "intervals", xref="paper", yref="paper", x=0, y=-0.16, xanchor="left", showarrow=False,
                       font=dict(size=11, color=BEFORE_DARK))
    fig.update_layout(height=560, margin=dict(l=80, r=40, t=90, b=100))
    if not rows:
        fig.add_annotation(text="no rows in this comparison", x=0.5, y=0.5, xref="paper", yref="paper",
                           showarrow=False)
