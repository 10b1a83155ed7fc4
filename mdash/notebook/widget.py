"""The live notebook dashboard: a row of controls over three tabs of Plotly FigureWidgets.

It only draws: fetching is the Dashboard's job, run by the shared ``Refresher`` on the kernel's event loop.
Closing the widget (or ``refresher.stop()``) ends the refresh task.
"""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as widgets

from mdash.fmt import fmt_duration
from mdash.notebook.figures import PanelGrid
from mdash.notebook.loop import Refresher
from mdash.panels import GROUPS, PanelSpec, Snapshot

RANGES = (300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0)
INTERVALS = (1.0, 2.0, 5.0, 10.0, 30.0)


def _choices(values: tuple[float, ...], current: float) -> list[tuple[str, float]]:
    """Dropdown options labelled like 15m / 2s, with the current value included even if unusual."""
    return [(fmt_duration(v), v) for v in sorted({*values, float(current)})]


class DashboardWidget(widgets.VBox):
    """Controls (model, time range, refresh interval, pause, refresh now) and Performance/Resources/Exceptions tabs."""

    def __init__(self, dashboard: Any, *, model: str | None = None, interval: float | None = None) -> None:
        self.dashboard = dashboard
        self.specs: list[PanelSpec] = list(dashboard.specs)
        models = list(dict.fromkeys(s.model for s in self.specs if s.model)) or [""]
        interval = float(interval or dashboard.config.interval)
        self.model_box = widgets.Dropdown(description="model", options=models, value=model or models[0])
        self.range_box = widgets.Dropdown(description="range", options=_choices(RANGES, dashboard.range_seconds))
        self.range_box.value = float(dashboard.range_seconds)
        self.interval_box = widgets.Dropdown(description="every", options=_choices(INTERVALS, interval))
        self.interval_box.value = interval
        self.pause_button = widgets.ToggleButton(description="Pause", icon="pause", tooltip="pause live refresh")
        self.refresh_button = widgets.Button(description="Refresh now", icon="refresh")
        for box in (self.model_box, self.range_box, self.interval_box):
            box.layout = widgets.Layout(width="190px")
            box.style = {"description_width": "45px"}
        self.status = widgets.HTML()
        self.tabs = widgets.Tab()
        self.grids: dict[tuple[str, str], PanelGrid] = {}  # (model, group) → one FigureWidget per tab
        self.refresher = Refresher(self._fetch, self.draw, interval=interval, on_error=self._show_error)
        controls = widgets.HBox(
            [self.model_box, self.range_box, self.interval_box, self.pause_button, self.refresh_button],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        super().__init__([controls, self.status, self.tabs])
        self.model_box.observe(self._on_model, "value")
        self.range_box.observe(self._on_range, "value")
        self.interval_box.observe(self._on_interval, "value")
        self.pause_button.observe(self._on_pause, "value")
        self.refresh_button.on_click(lambda _: self.refresher.refresh_now())
        self._build_tabs()
        self.status.value = self._status_html(None)

    @property
    def model(self) -> str:
        return self.model_box.value

    def _fetch(self) -> Snapshot:
        return self.dashboard.snapshot(models=[self.model] if self.model else None)

    def _build_tabs(self) -> None:
        """One FigureWidget per group for the selected model (kept, so switching back to a model is cheap)."""
        tabs = []
        for group in GROUPS:
            key = (self.model, group)
            if key not in self.grids:
                specs = [s for s in self.specs if s.group == group and s.model in (self.model, "")]
                if specs:
                    self.grids[key] = PanelGrid(specs, widget=True)
            grid = self.grids.get(key)
            tabs.append(grid.fig if grid else widgets.HTML(f"<i>no {group} panels for {html.escape(self.model)}</i>"))
        self.tabs.children = tabs
        self.tabs.titles = tuple(g.capitalize() for g in GROUPS)

    def grid(self, group: str) -> PanelGrid | None:
        """The grid drawing ``group`` for the selected model (None when that model has no such panels)."""
        return self.grids.get((self.model, group))

    def draw(self, snap: Snapshot) -> None:
        """Update the selected model's three figures from ``snap`` (one batch_update each) and the status line."""
        end = snap.taken_at
        for group in GROUPS:
            grid = self.grid(group)
            if grid is not None:
                grid.update(snap.panels, start=end - self.dashboard.range_seconds, end=end)
        self.status.value = self._status_html(snap)

    def _status_html(self, snap: Snapshot | None) -> str:
        if snap is None:
            return "<span style='color:#757575'>waiting for the first refresh…</span>"
        live = "paused" if self.refresher.paused else f"live every {fmt_duration(self.refresher.interval)}"
        parts = [
            f"<b>{live}</b>",
            f"updated {time.strftime('%H:%M:%S', time.localtime(snap.taken_at))}",
        ]
        if self.refresher.last_fetch_s is not None:
            parts.append(f"fetch {self.refresher.last_fetch_s * 1000:.0f} ms")
        parts.append(f"source {html.escape(snap.source)}")
        if snap.demo:
            parts.append("<span style='background:#fff3cd;padding:0 4px'>demo data</span>")
        states = [p.state for p in snap.panels if p.spec.model in (self.model, "")]
        bad = {s: states.count(s) for s in ("crit", "warn", "error", "stale") if s in states}
        if bad:
            parts.append(", ".join(f"{n} {s}" for s, n in bad.items()))
        text = " · ".join(parts)
        for err in snap.errors:
            text += f"<br><span style='color:#c62828'>{html.escape(err)}</span>"
        return text

    def _show_error(self, exc: BaseException) -> None:
        self.status.value = f"<span style='color:#c62828'>refresh failed: {html.escape(repr(exc))}</span>"

    def _on_model(self, change: dict) -> None:
        self._build_tabs()
        self.refresher.poke()

    def _on_range(self, change: dict) -> None:
        self.dashboard.range_seconds = float(change["new"])
        self.refresher.poke()

    def _on_interval(self, change: dict) -> None:
        self.refresher.interval = float(change["new"])
        self.refresher.poke()

    def _on_pause(self, change: dict) -> None:
        self.refresher.paused = bool(change["new"])
        self.pause_button.description = "Resume" if change["new"] else "Pause"
        self.pause_button.icon = "play" if change["new"] else "pause"
        if self.refresher.last is not None:
            self.status.value = self._status_html(self.refresher.last)
        self.refresher.poke()

    def close(self) -> None:
        """Closing the widget ends its refresh task and its figures."""
        self.refresher.close()
        for grid in self.grids.values():
            grid.fig.close()
        super().close()
