"""The comparison of methods: forget F1 against retain F1 (Pareto chart)."""
from __future__ import annotations

import html
import math

import plotly.graph_objects as go

from .base import AFTER, BEFORE_DARK, layout, num


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
    return [r for r in rows if num(r.get("forget_f1")) is not None and num(r.get("retain_f1")) is not None]


def _ci_error(rows: list[dict], key: str, side: int) -> list[float]:
    """Distance from each row's ``key`` to one end of its 95 % interval (0 where there is none)."""
    out = []
    for r in rows:
        ci, v = r.get(f"{key}_ci"), num(r.get(key))
        out.append(0.0 if not ci or num(ci[side]) is None else abs(v - float(ci[side])))
    return out


def _hover(r: dict) -> str:
    pct = num(r.get("params_changed_fraction"))
    sec = num(r.get("wall_seconds"))
    return (f"<b>{html.escape(str(r.get('method')))}</b><br>forget F1 {float(r['forget_f1']):.3f}"
            f"<br>retain F1 {float(r['retain_f1']):.3f}"
            + (f"<br>parameters changed {100 * pct:.4g} %" if pct is not None else "")
            + (f"<br>{sec:.1f} s" if sec is not None else ""))


def _marker_sizes(methods: list[dict]) -> list[float]:
    """Marker size from the share of parameters changed, on a log scale: 1e-7 -> 14 px, 1 -> 45.5 px."""
    fracs = [max(num(r.get("params_changed_fraction")) or 0.0, 1e-7) for r in methods]
    return [14 + 4.5 * (math.log10(f) + 7) for f in fracs]


def _time_colours(methods: list[dict]) -> tuple[list[float], int, int]:
    """log10 of each method's wall seconds and the whole decades around them (the colour bar's range)."""
    logs = [math.log10(max(num(r.get("wall_seconds")) or 0.0, 0.01)) for r in methods]
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
    layout(fig, "Forgetting vs utility of the compared methods")
    fig.update_xaxes(title_text="Retain F1 (other classes; higher is better)")
    tops = [num((r.get("forget_f1_ci") or [None, None])[1]) or num(r.get("forget_f1")) or 0.0 for r in rows]
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
