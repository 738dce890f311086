"""What every chart shares: the colours (before grey, after teal), the layout, number helpers and
rendering to PNG (kaleido, a local Chromium)."""
from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Iterable

import plotly.graph_objects as go

from ..format import label, printable

BEFORE = "#9aa0a6"          # grey: the original model
AFTER = "#0f7c8c"           # teal: the unlearned model
BEFORE_DARK = "#5f6368"
AFTER_LIGHT = "#7cc4cc"
DIAGONAL = "#b0b0b0"
TEMPLATE = "plotly_white"
FONT = dict(family="DejaVu Sans, Arial, sans-serif", size=13, color="#202124")


def layout(fig: go.Figure, title: str, **kw) -> go.Figure:
    fig.update_layout(template=TEMPLATE, font=FONT,
                      title=dict(text=title, x=0.01, xanchor="left", font=dict(size=17)),
                      legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="right", x=1.0),
                      margin=dict(l=70, r=30, t=90, b=60), **kw)
    return fig


def num(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def label_text(name) -> str:
    """A class name for a chart: printable (a control character would stop the PNG renderer), bounded
    in length, and HTML-escaped (Plotly reads tags in text)."""
    return html.escape(label(name))


def token_text(token) -> str:
    """A token for a chart: printable and HTML-escaped."""
    return html.escape(printable(token, 40))


def bar_text(values: Iterable) -> list[str]:
    return ["n/a" if v is None else f"{v:.3f}" for v in values]


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
