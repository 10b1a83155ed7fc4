"""The no-widget view: static ``go.Figure``s redrawn in place through ``display(..., display_id=True)`` handles.

Used where a FigureWidget cannot render (anywidget or ipywidgets missing, nbconvert, frontends without the widget
manager). It keeps the live refresh, only the controls are gone: use the NotebookDashboard's methods instead.
"""

from __future__ import annotations

import html
import time
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from IPython.display import HTML, display
from plotly.offline import get_plotlyjs

from mdash.notebook.figures import PanelGrid
from mdash.notebook.loop import Refresher
from mdash.panels import GROUPS, Snapshot


def widgets_available() -> bool:
    """True when FigureWidget can render here: ipywidgets and anywidget import and a kernel is running."""
    try:
        import anywidget  # noqa: F401
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def mime_bundle(fig: go.Figure) -> dict[str, Any]:
    """The figure as HTML output that draws with the plotly.js shown once by ``show()``.

    HTML, not Plotly's JSON mimetype: JupyterLab's plotly renderer ignores updates to an output it already drew,
    so a JSON output would never move. Passed with ``raw=True`` because ``display(fig, display_id=...)`` would go
    through plotly's own ``_ipython_display_``, which drops the display id.
    """
    return {
        "text/html": pio.to_html(fig, full_html=False, include_plotlyjs=False, config={"displaylogo": False}),
        "text/plain": f"<mdash panels: {', '.join(fig.layout.meta['states'])}>",
    }


class StaticDashboard:
    """One static figure per group of ``model``'s panels, each under its own display handle, refreshed live."""

    def __init__(self, dashboard: Any, *, model: str | None = None, interval: float | None = None) -> None:
        self.dashboard = dashboard
        models = [m for m in dict.fromkeys(s.model for s in dashboard.specs) if m]
        self.model = model or (models[0] if models else "")
        specs = [s for s in dashboard.specs if s.model in (self.model, "")]
        self.grids = {g: PanelGrid([s for s in specs if s.group == g]) for g in GROUPS if any(s.group == g for s in specs)}
        self.handles: dict[str, Any] = {}
        self.refresher = Refresher(
            lambda: dashboard.snapshot(models=[self.model] if self.model else None),
            self.draw,
            interval=float(interval or dashboard.config.interval),
            on_error=lambda exc: self._header(f"refresh failed: {exc!r}"),
        )

    def show(self) -> None:
        """Draw a first snapshot now, then display plotly.js once, the header and each group's figure with a handle.

        The first draw is synchronous so that where later updates never arrive (nbconvert, nbclient: they are
        sent after the cell finished) the output still shows real data.
        """
        snap = self.refresher.fetch()
        self.refresher.last = snap
        self.draw(snap)
        display(HTML(f"<script type='text/javascript'>{get_plotlyjs()}</script>"))  # once, so HTML draws offline
        self.handles["header"] = display(HTML(self._header_html(self._stamp(snap))), display_id=True)
        for group, grid in self.grids.items():
            display(HTML(f"<h3>{group.capitalize()}</h3>"))
            self.handles[group] = display(mime_bundle(grid.fig), raw=True, display_id=True)

    def draw(self, snap: Snapshot) -> None:
        """Redraw each group's figure from ``snap`` and push it through its display handle."""
        end = snap.taken_at
        for group, grid in self.grids.items():
            grid.update(snap.panels, start=end - self.dashboard.range_seconds, end=end)
            handle = self.handles.get(group)
            if handle is not None:
                handle.update(mime_bundle(grid.fig), raw=True)
        self._header(self._stamp(snap))

    def _stamp(self, snap: Snapshot) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(snap.taken_at))
        return f"updated {stamp} · source {snap.source}" + (" · demo data" if snap.demo else "")

    def _header_html(self, text: str) -> str:
        return f"<b>mdash · {html.escape(self.model)}</b> (static view) · {html.escape(text)}"

    def _header(self, text: str) -> None:
        handle = self.handles.get("header")
        if handle is not None:
            handle.update(HTML(self._header_html(text)))

    def close(self) -> None:
        """End the refresh loop and its worker thread."""
        self.refresher.close()
