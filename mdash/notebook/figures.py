"""One Plotly figure per panel: built once from its spec, then updated in place from each PanelResult.

The same two functions serve the live ``go.FigureWidget`` (one ``batch_update`` → one message per tick), the static
``go.Figure`` fallback and the HTML report, so every surface draws a panel the same way. ``layout.meta`` carries
the panel's key and state, which is what tests (and the browser) read back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import plotly.graph_objects as go

from mdash.panels import PanelResult, PanelSpec
from mdash.tui.view import fmt_age, fmt_value, unix_seconds

STATE_COLORS = {
    "ok": "#2e7d32",
    "warn": "#ef8c00",
    "crit": "#c62828",
    "nodata": "#757575",
    "error": "#c62828",
    "stale": "#6a1b9a",
}
BACKGROUNDS = {"warn": "#fff6e5", "crit": "#fdecea", "error": "#fdecea", "stale": "#f3e5f5"}
THRESHOLD_COLORS = {"warn": STATE_COLORS["warn"], "crit": STATE_COLORS["crit"]}
WIDTH, HEIGHT = 470, 260


def axis_format(unit: str) -> dict:
    """Y-axis settings that print the unit the way people read it (ratio as %, bytes with SI prefixes)."""
    if unit == "ratio":
        return {"tickformat": ".1%", "title": {"text": ""}}
    if unit in ("percent", "%"):
        return {"ticksuffix": "%", "title": {"text": ""}}
    if unit == "bytes":
        return {"tickformat": ".3s", "ticksuffix": "B", "title": {"text": ""}}
    return {"title": {"text": unit}}


def new_figure(spec: PanelSpec, *, widget: bool = False, width: int | None = WIDTH, height: int = HEIGHT) -> go.Figure:
    """An empty figure for ``spec`` with its unit, threshold lines and status annotation in place.

    Width and height are explicit because a FigureWidget measuring a hidden tab or a flex box can draw blank
    (plotly/plotly.py#4998); the caller passes ``width=None`` for a static figure that should fill the page.
    """
    cls = go.FigureWidget if widget else go.Figure
    layout = go.Layout(
        template="plotly_white",
        width=width,
        height=height,
        margin={"l": 55, "r": 15, "t": 45, "b": 35},
        title={"text": spec.title, "x": 0.01, "font": {"size": 14}},
        showlegend=False,
        legend={"orientation": "h", "y": -0.2},
        meta={"key": spec.key, "state": "nodata"},
        uirevision=spec.key,  # keep the user's zoom across refreshes
        annotations=[status_annotation("")],
    )
    if spec.kind == "stat":
        fig = cls(data=[go.Indicator(mode="number", value=None, number={"suffix": f" {spec.unit}".rstrip()})], layout=layout)
        return fig
    layout.yaxis = axis_format(spec.unit)
    layout.xaxis = {"type": "date"}
    layout.shapes = threshold_lines(spec)
    return cls(layout=layout)


def threshold_lines(spec: PanelSpec) -> list[dict]:
    """Dashed horizontal lines at the warn and crit levels, spanning the plot whatever the time range."""
    lines = []
    for name in ("warn", "crit"):
        level = getattr(spec, name)
        if level is not None:
            lines.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": level,
                    "y1": level,
                    "name": name,
                    "line": {"color": THRESHOLD_COLORS[name], "dash": "dash", "width": 1.5},
                }
            )
    return lines


def status_annotation(text: str, color: str = STATE_COLORS["nodata"]) -> dict:
    """The centred message a panel shows when it has no data, an error, or stale data."""
    return {
        "text": text,
        "visible": bool(text),
        "xref": "paper",
        "yref": "paper",
        "x": 0.5,
        "y": 0.5,
        "showarrow": False,
        "font": {"size": 13, "color": color},
        "bgcolor": "rgba(255,255,255,0.85)",
    }


def status_text(result: PanelResult) -> str:
    """Why the panel is not simply drawing fresh data, in one short line (empty when it is)."""
    if result.state == "error":
        return f"error: {result.error}"[:160]
    if result.state == "stale":
        return f"stale, data {fmt_age(result.age)} old: {result.error}"[:160]
    if result.state == "nodata":
        return "no data" + (f" ({result.spec.note})" if result.spec.note else "")
    return ""


def title_text(result: PanelResult) -> str:
    """Title with the latest value and, when not ok, the state in its colour."""
    spec = result.spec
    value = fmt_value(result.value, spec.unit)
    text = f"<b>{spec.title}</b>  {value}"
    if result.state != "ok":
        text += f"  <span style='color:{STATE_COLORS[result.state]}'>{result.state.upper()}</span>"
    if result.anomaly:
        text += f"  <span style='color:{STATE_COLORS['warn']}'>anomaly: {result.anomaly_reason}</span>"
    return text


def x_values(ts: np.ndarray) -> np.ndarray:
    """Unix seconds → datetime64[ms] values plotly draws on a date axis."""
    return (ts * 1000).astype("int64").astype("datetime64[ms]")


def update_figure(fig: go.Figure, result: PanelResult, *, start: float | None = None, end: float | None = None) -> None:
    """Draw ``result`` into ``fig`` (from ``new_figure``) in one batch: traces, title, state colour, status text."""
    spec = result.spec
    color = STATE_COLORS[result.state]
    if spec.kind == "stat":
        with fig.batch_update():
            fig.data[0].value = result.value
            fig.data[0].number.font.color = color
            _set_layout(fig, result)
        return
    columns = [] if result.state == "error" else [str(c) for c in result.frame.columns]
    if [t.name for t in fig.data] != columns:
        fig.data = []  # the series set changed (new label, or error): rebuild traces outside the batch
        fig.add_traces([go.Scatter(name=c, mode="lines", line={"width": 1.6}) for c in columns])
    with fig.batch_update():
        if columns:
            x = x_values(unix_seconds(result.frame.index))
            for trace, col in zip(fig.data, result.frame.columns, strict=True):
                trace.x = x
                trace.y = result.frame[col].to_numpy(dtype=float)
        fig.layout.showlegend = len(columns) > 1
        if start is not None and end is not None:
            fig.layout.xaxis.range = [_iso(start), _iso(end)]
        _set_layout(fig, result)


def _set_layout(fig: go.Figure, result: PanelResult) -> None:
    fig.layout.title.text = title_text(result)
    fig.layout.plot_bgcolor = BACKGROUNDS.get(result.state, "white")
    fig.layout.meta = {"key": result.spec.key, "state": result.state}
    text = status_text(result)
    note = fig.layout.annotations[0]
    note.text = text
    note.visible = bool(text)
    note.font.color = STATE_COLORS[result.state]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def figure(result: PanelResult, *, start: float | None = None, end: float | None = None) -> go.Figure:
    """A static ``go.Figure`` of one panel result (analysis, reports, the no-widget fallback)."""
    fig = new_figure(result.spec, width=None)
    update_figure(fig, result, start=start, end=end)
    return fig
