"""The dashboard's widgets: a braille line graph of our own, panel cards, the status bar and the events feed.

Widgets never fetch: the app hands each one the latest PanelView and they draw it. A braille cell holds 2x4 dots,
so a graph ``w`` cells wide shows ``2w`` points; drawing 2x600 points takes well under a millisecond.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from mdash.panels import PanelSpec
from mdash.tui.view import Event, PanelView, fmt_age, fmt_value

PALETTE = ("cyan", "magenta", "yellow", "green", "blue", "bright_white")
"""Series colours: ANSI names, so 16-colour terminals show them as intended."""

LEVEL_STYLE = {"crit": "bold red", "warn": "yellow", "info": "cyan", "ok": "green"}
STATE_LABEL = {"warn": "WARN", "crit": "CRIT", "nodata": "no data", "error": "ERROR", "stale": "STALE"}

_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [dot row][dot column] -> bit


def braille(
    lines: Sequence[Sequence[tuple[float, float] | None]], width: int, height: int
) -> list[tuple[str, list[int]]]:
    """Rows of braille text plus, per cell, the index of the line drawn last there (-1: empty).

    Each line is a list of (x, y) dot coordinates (0 <= x < 2*width, 0 <= y < 4*height, y up) or None for a
    gap; consecutive points are joined so steep changes stay visible.
    """
    bits = [[0] * width for _ in range(height)]
    owner = [[-1] * width for _ in range(height)]
    top = height * 4 - 1
    right = width * 2 - 1

    def dot(x: int, y: int, s: int) -> None:
        x, y = min(right, max(0, x)), top - min(top, max(0, y))
        row, dy = divmod(y, 4)
        col, dx = divmod(x, 2)
        bits[row][col] |= _DOTS[dy][dx]
        owner[row][col] = s

    for s, points in enumerate(lines):
        prev: tuple[float, float] | None = None
        for point in points:
            if point is None:
                prev = None
                continue
            if prev is None:
                dot(round(point[0]), round(point[1]), s)
            else:
                steps = int(max(abs(point[0] - prev[0]), abs(point[1] - prev[1]))) + 1
                for k in range(1, steps + 1):
                    f = k / steps
                    dot(round(prev[0] + (point[0] - prev[0]) * f), round(prev[1] + (point[1] - prev[1]) * f), s)
            prev = point
    return [("".join(chr(0x2800 + b) for b in bits[r]), owner[r]) for r in range(height)]


def y_bounds(series: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """The y range to draw: from 0 when nothing is negative (honest for latencies), None when all are NaN."""
    finite = [v[np.isfinite(v)] for v in series]
    finite = [f for f in finite if len(f)]
    if not finite:
        return None
    lo = min(float(f.min()) for f in finite)
    hi = max(float(f.max()) for f in finite)
    lo = min(lo, 0.0)
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    return lo, hi


def dot_lines(view: PanelView, cells: int, height: int, lo: float, hi: float) -> list[list[tuple[float, float] | None]]:
    """Each series in dot coordinates; a NaN, or a time gap over 2.5x the usual spacing, breaks the line."""
    span_t = (view.end - view.start) or 1.0
    gaps = np.diff(view.ts)
    max_gap = 2.5 * float(np.median(gaps)) if len(gaps) else math.inf
    xs = (view.ts - view.start) / span_t * (cells * 2 - 1)
    scale = (height * 4 - 1) / ((hi - lo) or 1.0)
    lines = []
    for _, values in view.series:
        points: list[tuple[float, float] | None] = []
        last_t = None
        for t, x, v in zip(view.ts, xs, values, strict=True):
            if not math.isfinite(v) or x < 0:
                points.append(None)
                continue
            if last_t is not None and t - last_t > max_gap:
                points.append(None)
            points.append((float(x), (v - lo) * scale))
            last_t = t
        lines.append(points)
    return lines


def graph_text(view: PanelView, width: int, height: int, *, dim: bool = False) -> Text:
    """The panel's series as a braille graph with a small y-axis gutter, ``height`` lines of ``width`` cells."""
    gutter = 7 if width >= 24 else 0
    cells = max(1, width - gutter)
    text = Text(no_wrap=True, overflow="crop")
    bounds = y_bounds([v for _, v in view.series])
    if bounds is None:
        return text
    lo, hi = bounds
    rows = braille(dot_lines(view, cells, height, lo, hi), cells, height)
    for r, (chars, owner) in enumerate(rows):
        if gutter:
            label = fmt_value(hi, view.spec.unit, short=True) if r == 0 else (
                fmt_value(lo, view.spec.unit, short=True) if r == height - 1 else "")
            text.append(f"{label[: gutter - 1]:>{gutter - 1}}▕", style="dim")
        start = 0
        for i in range(1, cells + 1):
            if i == cells or owner[i] != owner[start]:
                idx = owner[start]
                style = "dim" if idx < 0 else PALETTE[idx % len(PALETTE)] + (" dim" if dim else "")
                text.append(chars[start:i], style=style)
                start = i
        if r < height - 1:
            text.append("\n")
    return text


def legend_text(view: PanelView, width: int) -> Text:
    """Coloured series names with their latest values, cut to ``width``."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, (legend, value) in enumerate(view.latest()):
        if i:
            text.append("  ")
        text.append("━ ", style=PALETTE[i % len(PALETTE)])
        text.append(f"{legend or view.spec.title} ")
        text.append(fmt_value(value, view.spec.unit, short=True), style="bold")
    if view.spec.note:
        text.append(f"  ({view.spec.note})", style="dim")
    text.truncate(width, overflow="ellipsis")
    return text


class PanelCard(Widget, can_focus=True):
    """One panel: title, latest value coloured by state, a live multi-series graph and its legend."""

    DEFAULT_CSS = """
    PanelCard { height: 7; border: round $panel-lighten-2; padding: 0 1; }
    PanelCard:focus { border: heavy $primary-lighten-2; }
    PanelCard.-warn { border: round $warning; }
    PanelCard.-crit, PanelCard.-error { border: round $error; }
    PanelCard.-stale, PanelCard.-nodata { border: round $panel-lighten-1; }
    PanelCard.-warn:focus { border: heavy $warning; }
    PanelCard.-crit:focus, PanelCard.-error:focus { border: heavy $error; }
    """

    def __init__(self, spec: PanelSpec, **kwargs) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.view: PanelView | None = None
        self.border_title = spec.title

    def show(self, view: PanelView) -> None:
        """Take a new view: update the state class, the titles, and repaint."""
        self.view = view
        for state in ("ok", "warn", "crit", "nodata", "error", "stale"):
            self.set_class(view.state == state, f"-{state}")
        colour = {"ok": "green", "warn": "yellow", "crit": "red", "error": "red"}.get(view.state, "")
        value = fmt_value(view.value, view.spec.unit)
        self.border_title = Text.assemble(f"{self.spec.title} ", (value, f"bold {colour}".strip()))
        label = STATE_LABEL.get(view.state, "")
        if view.state == "stale":
            label = f"STALE {fmt_age(view.age)}"
        if view.anomaly_reason:
            label = f"{label} anomaly".strip()
        self.border_subtitle = label
        self.refresh()

    def render(self) -> Text:
        view = self.view
        width, height = self.content_size.width, self.content_size.height
        if view is None:
            return Text("waiting for data…", style="dim")
        if view.state == "error" or not any(np.isfinite(v).any() for _, v in view.series):
            return _message(view)
        if height < 2:
            return legend_text(view, width)
        graph = graph_text(view, width, height - 1, dim=view.state == "stale")
        if view.state == "stale":
            tail = Text(f"stale {fmt_age(view.age)}: {view.error or 'source not answering'}", style="yellow")
            tail.truncate(width, overflow="ellipsis")
        else:
            tail = legend_text(view, width)
        return Text.assemble(graph, "\n", tail)


def _message(view: PanelView) -> Text:
    """A panel with no line to draw: the source's error text verbatim, a single stat, or why there is no data."""
    if view.state == "error":
        text = Text("ERROR ", style="bold red")
        text.append(view.error or "the source gave no detail", style="red")
    elif view.value is not None:
        colour = {"ok": "green", "warn": "yellow", "crit": "red"}.get(view.state, "")
        text = Text(fmt_value(view.value, view.spec.unit), style=f"bold {colour}".strip())
        if view.spec.note:
            text.append(f"  {view.spec.note}", style="dim")
    else:
        text = Text("no data", style="bold")
        detail = view.error or view.spec.note
        if detail:
            text.append(f"\n{detail}", style="dim")
    return text


class StatusBar(Static):
    """The one-line header: demo banner, source, refresh interval, range, age of the last update, filter."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """


class EventFeed(Static):
    """The exceptions feed: alerts, anomalies, errors, canary and rollback events, newest last, each with its time."""

    DEFAULT_CSS = """
    EventFeed { height: auto; min-height: 3; max-height: 12; border: round $panel-lighten-2; padding: 0 1; }
    """

    def show(self, events: Sequence[Event]) -> None:
        """Draw these events (already filtered and cut to fit)."""
        if not events:
            self.update(Text("no events yet", style="dim"))
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, e in enumerate(events):
            if i:
                text.append("\n")
            text.append(time.strftime("%H:%M:%S ", time.localtime(e.at)), style="dim")
            text.append(e.text, style=LEVEL_STYLE.get(e.level, ""))
        self.update(text)
