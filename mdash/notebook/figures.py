"""Panels drawn with Plotly: a grid of panel cells in ONE figure, built once and updated in place each refresh.

One figure per tab, not one per panel: every plotly 7 FigureWidget ships plotly's ~5 MB JavaScript bundle as its
widget state, so a dozen per-panel widgets took ~45 s to appear in a browser here (and made a saved notebook
60 MB). The same ``PanelGrid`` serves the live ``go.FigureWidget`` (one ``batch_update`` → one message per tick),
the static fallback, the HTML report and ``dash.figure(panel)``. ``layout.meta["states"]`` maps each panel key to
its state, which is what tests read back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from mdash.fmt import fmt_age, fmt_value, unix_seconds
from mdash.panels import PanelResult, PanelSpec

STATE_COLORS = {
    "ok": "#2e7d32",
    "warn": "#ef8c00",
    "crit": "#c62828",
    "nodata": "#757575",
    "error": "#c62828",
    "stale": "#6a1b9a",
}
BACKGROUNDS = {"warn": "#fff6e5", "crit": "#fdecea", "error": "#fdecea", "stale": "#f3e5f5"}
SERIES_COLORS = qualitative.Plotly
CELL_WIDTH, CELL_HEIGHT = 480, 250  # pixels per panel cell
TOP, BOTTOM, LEFT, RIGHT = 38, 32, 58, 12  # pixels inside a cell kept for title, x ticks, y ticks, gap
TIME_TICKS = [  # one line of time labels (no date line under every panel), as fine as the tick spacing needs
    {"dtickrange": [None, 60_000], "value": "%H:%M:%S"},
    {"dtickrange": [60_000, 86_400_000], "value": "%H:%M"},
    {"dtickrange": [86_400_000, None], "value": "%b %d"},
]


def axis_format(unit: str) -> dict:
    """Y-axis settings that print the unit the way people read it (ratio as %, seconds and bytes with SI prefixes)."""
    if unit == "ratio":
        return {"tickformat": ".1%"}
    if unit in ("percent", "%"):
        return {"ticksuffix": "%"}
    if unit in ("bytes", "s"):  # 1.2GB, 950µs
        return {"tickformat": ".4~s", "ticksuffix": "B" if unit == "bytes" else "s"}
    return {"title": {"text": unit, "standoff": 2}}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def x_values(ts: np.ndarray) -> np.ndarray:
    """Unix seconds → datetime64[ms] values plotly draws on a date axis."""
    return (ts * 1000).astype("int64").astype("datetime64[ms]")


class PanelGrid:
    """Several panels as cells of one figure: units, dashed warn/crit lines, state colours and status text."""

    def __init__(
        self,
        specs: Sequence[PanelSpec],
        *,
        widget: bool = False,
        cols: int = 2,
        cell_width: int = CELL_WIDTH,
        cell_height: int = CELL_HEIGHT,
        fill_width: bool = False,
    ) -> None:
        self.specs = list(specs)
        self.cols = max(1, min(cols, len(self.specs)))
        self.rows = max(1, math.ceil(len(self.specs) / self.cols))
        self.slots = {s.key: i for i, s in enumerate(self.specs)}
        self.series: dict[str, list[str]] = {s.key: [] for s in self.specs}
        width = self.cols * cell_width
        height = self.rows * cell_height
        layout: dict = {
            "template": "plotly_white",
            "width": None if fill_width else width,
            "height": height,
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "showlegend": False,
            "hovermode": "closest",
            "uirevision": "mdash",  # keep the user's zoom across refreshes
            "meta": {"states": {s.key: "nodata" for s in self.specs}},
            "shapes": [],
            "annotations": [],
        }
        self.bg_shape: dict[str, int] = {}
        self.stats: dict[str, int] = {}
        data = []
        for i, spec in enumerate(self.specs):
            x0, x1, y0, y1 = self.cell(i, width, height)
            self.bg_shape[spec.key] = len(layout["shapes"])
            layout["shapes"].append(
                {"type": "rect", "xref": "paper", "yref": "paper", "x0": x0, "x1": x1, "y0": y0, "y1": y1,
                 "fillcolor": "white", "line": {"width": 0}, "layer": "below"}
            )
            layout["annotations"].append(  # 2 i: the title with value and state
                {"text": spec.title, "xref": "paper", "yref": "paper", "x": x0, "y": y1 + TOP / height * 0.9,
                 "xanchor": "left", "yanchor": "top", "showarrow": False, "align": "left", "font": {"size": 13}}
            )
            layout["annotations"].append(  # 2 i + 1: why there is nothing (fresh) to draw
                {"text": "", "visible": False, "xref": "paper", "yref": "paper", "x": (x0 + x1) / 2,
                 "y": (y0 + y1) / 2, "showarrow": False, "font": {"size": 12}, "bgcolor": "rgba(255,255,255,0.85)"}
            )
            if spec.kind == "stat":
                self.stats[spec.key] = len(data)
                data.append(go.Indicator(mode="number", value=None, domain={"x": [x0, x1], "y": [y0, y1]},
                                         number={"suffix": f" {spec.unit}".rstrip(), "font": {"size": 40}}))
                continue
            sfx = "" if i == 0 else str(i + 1)
            layout[f"xaxis{sfx}"] = {"domain": [x0, x1], "anchor": f"y{sfx}", "type": "date", "tickformatstops": TIME_TICKS,
                                     "hoverformat": "%Y-%m-%d %H:%M:%S"}
            layout[f"yaxis{sfx}"] = {"domain": [y0, y1], "anchor": f"x{sfx}", **axis_format(spec.unit)}
            for name in ("warn", "crit"):
                level = getattr(spec, name)
                if level is not None:
                    layout["shapes"].append(
                        {"type": "line", "name": f"{spec.key}:{name}", "xref": f"x{sfx} domain", "x0": 0, "x1": 1,
                         "yref": f"y{sfx}", "y0": level, "y1": level,
                         "line": {"color": STATE_COLORS[name], "dash": "dash", "width": 1.5}}
                    )
        self.fig: go.Figure = (go.FigureWidget if widget else go.Figure)(data=data, layout=layout)

    def cell(self, i: int, width: float, height: float) -> tuple[float, float, float, float]:
        """Paper coordinates (x0, x1, y0, y1) of cell ``i``'s plot area, leaving room for title and ticks."""
        row, col = divmod(i, self.cols)
        x0 = col / self.cols + LEFT / width
        x1 = (col + 1) / self.cols - RIGHT / width
        y1 = 1 - row / self.rows - TOP / height
        y0 = 1 - (row + 1) / self.rows + BOTTOM / height
        return x0, x1, y0, y1

    def state(self, key: str) -> str:
        return self.fig.layout.meta["states"][key]

    def title(self, key: str) -> str:
        return self.fig.layout.annotations[2 * self.slots[key]].text

    def note(self, key: str):
        """The status annotation of panel ``key`` (text, visible, font colour)."""
        return self.fig.layout.annotations[2 * self.slots[key] + 1]

    def background(self, key: str) -> str:
        return self.fig.layout.shapes[self.bg_shape[key]].fillcolor

    def traces(self, key: str) -> list:
        """The line traces drawn for panel ``key`` (tests and analysis read values back from these)."""
        return [t for t in self.fig.data if t.type == "scatter" and t.meta == key]

    def update(self, results: Iterable[PanelResult], *, start: float | None = None, end: float | None = None) -> None:
        """Draw the results that belong to this grid, all in one ``batch_update`` (one message to the browser)."""
        mine = [r for r in results if r.spec.key in self.slots]
        wanted = {r.spec.key: [] if r.state == "error" else [str(c) for c in r.frame.columns] for r in mine}
        if any(self.series[k] != cols for k, cols in wanted.items()):
            self._rebuild_traces({**self.series, **wanted})
        fig = self.fig
        with fig.batch_update():
            lines = {}
            for t in fig.data:
                if t.type == "scatter":
                    lines.setdefault(t.meta, []).append(t)
            for r in mine:
                self._draw(r, lines.get(r.spec.key, []), start, end)
            fig.layout.meta = {"states": {**fig.layout.meta["states"], **{r.spec.key: r.state for r in mine}}}

    def _rebuild_traces(self, series: dict[str, list[str]]) -> None:
        """Replace the line traces when a panel's set of series changed (a new label, an error): outside the batch."""
        self.series = series
        lines = []
        for key, names in series.items():
            i = self.slots[key]
            sfx = "" if i == 0 else str(i + 1)
            for n, name in enumerate(names):
                lines.append(go.Scatter(name=name, meta=key, mode="lines", xaxis=f"x{sfx}", yaxis=f"y{sfx}",
                                        line={"width": 1.6, "color": SERIES_COLORS[n % len(SERIES_COLORS)]}))
        self.fig.data = self.fig.data[: len(self.stats)]  # stat indicators come first and stay
        self.fig.add_traces(lines)

    def _draw(self, r: PanelResult, lines: list, start: float | None, end: float | None) -> None:
        spec, layout = r.spec, self.fig.layout
        i = self.slots[spec.key]
        if spec.key in self.stats:
            stat = self.fig.data[self.stats[spec.key]]
            stat.value = r.value
            stat.number.font.color = STATE_COLORS[r.state]
        elif lines:
            x = x_values(unix_seconds(r.frame.index))
            values = r.frame.to_numpy(dtype=float)  # one array, no per-column Series (pandas keeps refs to those)
            for j, trace in enumerate(lines):
                trace.x = x
                trace.y = values[:, j]
        if spec.key not in self.stats and start is not None and end is not None:
            layout[f"xaxis{'' if i == 0 else i + 1}"].range = [_iso(start), _iso(end)]
        layout.annotations[2 * i].text = title_text(r, [t.name for t in lines])
        note, text = layout.annotations[2 * i + 1], status_text(r)  # inside a batch, reads return the old values
        note.text = text
        note.visible = bool(text)
        note.font.color = STATE_COLORS[r.state]
        layout.shapes[self.bg_shape[spec.key]].fillcolor = BACKGROUNDS.get(r.state, "white")


def status_text(result: PanelResult) -> str:
    """Why the panel is not simply drawing fresh data, in one short line (empty when it is)."""
    if result.state == "error":
        return f"error: {result.error}"[:150]
    if result.state == "stale":
        return f"stale, data {fmt_age(result.age)} old: {result.error}"[:150]
    if result.state == "nodata":
        return "no data" + (f" ({result.spec.note})" if result.spec.note else "")
    return ""


def title_text(result: PanelResult, series: Sequence[str] = ()) -> str:
    """Title with the latest value, the state in its colour when not ok, and a colour key when several series."""
    spec = result.spec
    text = f"<b>{spec.title}</b>  {fmt_value(result.value, spec.unit)}"
    if result.state != "ok":
        text += f"  <span style='color:{STATE_COLORS[result.state]}'><b>{result.state.upper()}</b></span>"
    if result.anomaly:
        text += f"  <span style='color:{STATE_COLORS['warn']}'>anomaly: {result.anomaly_reason}</span>"
    if len(series) > 1:
        keys = (f"<span style='color:{SERIES_COLORS[n % len(SERIES_COLORS)]}'>━ {s}</span>" for n, s in enumerate(series))
        text += "  " + " ".join(keys)
    return text


def figure(result: PanelResult, *, start: float | None = None, end: float | None = None) -> go.Figure:
    """A static ``go.Figure`` of one panel result (analysis, ``dash.figure(panel)``)."""
    grid = PanelGrid([result.spec], fill_width=True, cols=1)
    grid.update([result], start=start, end=end)
    return grid.fig
