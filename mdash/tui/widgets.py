"""The dashboard's widgets: a braille line graph of our own, panel cards, the status bar and the events feed.

Widgets never fetch: the app hands each one the latest PanelView and they draw it. A braille cell holds 2x4 dots,
so a graph ``w`` cells wide shows ``2w`` points; drawing 2x600 points takes well under a millisecond.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from mdash.fmt import fmt_age, fmt_value
from mdash.tui.view import Event, PanelView

PALETTE = ("cyan", "magenta", "yellow", "green", "blue", "bright_white")
"""Series colours: ANSI names, so 16-colour terminals show them as intended."""

LEVEL_STYLE = {"crit": "bold red", "warn": "yellow", "info": "cyan", "ok": "green"}
STATE_LABEL = {"warn": "WARN", "crit": "CRIT", "nodata": "no data", "error": "ERROR", "stale": "STALE"}

if TYPE_CHECKING:
    from mdash.panels import PanelSpec

_DOTS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint8)  # [dot row][dot col]


def braille(
    lines: Sequence[tuple[np.ndarray, np.ndarray]], width: int, height: int
) -> list[tuple[str, list[int]]]:
    """Rows of braille text plus, per cell, the index of the line drawn last there (-1: empty).

    Each line is (x, y) in dot coordinates (0 <= x < 2*width, 0 <= y < 4*height, y up); a NaN y is a gap.
    Consecutive points are joined dot by dot, vectorised, so 2x600 points draw in well under a millisecond.
    """
    bits = np.zeros((height, width), dtype=np.uint8)
    owner = np.full((height, width), -1, dtype=np.int16)
    top, right = height * 4 - 1, width * 2 - 1
    for s, (x, y) in enumerate(lines):
        ok = np.isfinite(x) & np.isfinite(y)
        pair = ok[:-1] & ok[1:]
        x0, y0, dx, dy = x[:-1][pair], y[:-1][pair], (x[1:] - x[:-1])[pair], (y[1:] - y[:-1])[pair]
        steps = np.maximum(np.abs(dx), np.abs(dy)).astype(int) + 1
        seg = np.repeat(np.arange(len(steps)), steps)
        f = (np.arange(len(seg)) - np.repeat(np.cumsum(steps) - steps, steps) + 1) / steps[seg]
        px = np.concatenate([x[ok], x0[seg] + dx[seg] * f])
        py = np.concatenate([y[ok], y0[seg] + dy[seg] * f])
        px = np.clip(np.rint(px), 0, right).astype(int)
        py = top - np.clip(np.rint(py), 0, top).astype(int)
        np.bitwise_or.at(bits, (py // 4, px // 2), _DOTS[py % 4, px % 2])
        owner[py // 4, px // 2] = s
    codes = bits.astype("<u4") + 0x2800
    return [(codes[r].tobytes().decode("utf-32-le"), owner[r].tolist()) for r in range(height)]


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


def dot_lines(view: PanelView, cells: int, height: int, lo: float, hi: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each series in dot coordinates; a NaN, or a time gap over 2.5x the usual spacing, breaks the line."""
    span_t = (view.end - view.start) or 1.0
    x = (view.ts - view.start) / span_t * (cells * 2 - 1)
    gaps = np.diff(view.ts)
    breaks = np.flatnonzero(gaps > 2.5 * float(np.median(gaps))) + 1 if len(gaps) else np.empty(0, dtype=int)
    x = np.insert(x, breaks, np.nan)
    scale = (height * 4 - 1) / ((hi - lo) or 1.0)
    lines = []
    for _, values in view.series:
        y = np.insert((values - lo) * scale, breaks, np.nan)
        lines.append((x, np.where(np.isfinite(x) & (x >= 0), y, np.nan)))
    return lines


def graph_rows(view: PanelView, width: int, height: int, *, dim: bool = False) -> list[list[tuple[str, str]]]:
    """The series as ``height`` rows of (text, style) runs exactly ``width`` cells wide, after a y-axis gutter;
    [] when there is nothing finite to draw."""
    gutter = 7 if width >= 24 else 0
    cells = max(1, width - gutter)
    bounds = y_bounds([v for _, v in view.series])
    if bounds is None:
        return []
    lo, hi = bounds
    flat = not any((v[np.isfinite(v)] > lo).any() for _, v in view.series)  # no scale to show above the line
    out = []
    for r, (chars, owner) in enumerate(braille(dot_lines(view, cells, height, lo, hi), cells, height)):
        runs = []
        if gutter:
            label = ("" if flat else fmt_value(hi, view.spec.unit, short=True)) if r == 0 else (
                fmt_value(lo, view.spec.unit, short=True) if r == height - 1 else "")
            runs.append((f"{label[: gutter - 1]:>{gutter - 1}}▕", "dim"))
        start = 0
        for i in range(1, cells + 1):
            if i == cells or owner[i] != owner[start]:
                idx = owner[start]
                runs.append((chars[start:i], "dim" if idx < 0 else PALETTE[idx % len(PALETTE)] + (" dim" if dim else "")))
                start = i
        out.append(runs)
    return out


@lru_cache(maxsize=64)
def _style(name: str) -> Style:
    return Style.parse(name)


def legend_text(view: PanelView, width: int) -> Text:
    """Coloured series names with their latest values, cut to ``width``."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, (legend, value) in enumerate(view.latest()):
        if i:
            text.append(" ")
        text.append("━", style=PALETTE[i % len(PALETTE)])
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
        self._strips: list[Strip] | None = None
        self._strips_size = (0, 0)

    def show(self, view: PanelView) -> None:
        """Take a new view: update the state class (only when it changed), the titles, and repaint."""
        if self.view is None or self.view.state != view.state:
            for state in ("ok", "warn", "crit", "nodata", "error", "stale"):
                self.set_class(view.state == state, f"-{state}")
        self.view = view
        self._strips = None
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

    def lines(self, width: int, height: int) -> tuple[list[list[tuple[str, str]]], Text]:
        """The content: graph rows (exact-width runs) and the text under them (legend, or the message that
        replaces the graph when there is nothing to draw)."""
        view = self.view
        if view is None:
            return [], Text("waiting for data…", style="dim")
        if view.state == "error" or not any(np.isfinite(v).any() for _, v in view.series):
            return [], _message(view)
        if height < 2:
            return [], legend_text(view, width)
        rows = graph_rows(view, width, height - 1, dim=view.state == "stale")
        if view.state == "stale":
            tail = Text(f"stale {fmt_age(view.age)}: {view.error or 'source not answering'}", style="yellow")
            tail.truncate(width, overflow="ellipsis")
        else:
            tail = legend_text(view, width)
        return rows, tail

    def render_line(self, y: int) -> Strip:
        """Line API: strips are built once per view and size; graph rows skip text wrapping (and Rich's width
        caches) because every braille cell is exactly one cell wide."""
        width, height = self.content_size.width, self.content_size.height
        base = self.rich_style
        if self._strips is None or self._strips_size != (width, height):
            rows, tail = self.lines(width, height)
            strips = [Strip([Segment(text, _style(style)) for text, style in runs], width).apply_style(base)
                      for runs in rows]
            console = self.app.console
            for line in tail.wrap(console, width, overflow="ellipsis")[: max(0, height - len(strips))]:
                strips.append(Strip(list(line.render(console))).crop_extend(0, width, base).apply_style(base))
            self._strips, self._strips_size = strips, (width, height)
        return self._strips[y] if y < len(self._strips) else Strip.blank(width, base)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None


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

    _shown: tuple[Event, ...] | None = None

    def show(self, events: Sequence[Event]) -> None:
        """Draw these events (already filtered and cut to fit); a re-layout only when the line count changes."""
        events = tuple(events)
        if events == self._shown:
            return
        relayout = self._shown is None or len(events) != len(self._shown)
        self._shown = events
        if not events:
            self.update(Text("no events yet", style="dim"), layout=relayout)
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, e in enumerate(events):
            if i:
                text.append("\n")
            text.append(time.strftime("%H:%M:%S ", time.localtime(e.at)), style="dim")
            text.append(e.text, style=LEVEL_STYLE.get(e.level, ""))
        self.update(text, layout=relayout)
