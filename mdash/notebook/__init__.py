"""mdash in Jupyter: ``dash = mdash.connect(...)`` then ``dash.show()`` for live Plotly panels.

``connect()`` with no argument starts the embedded demo (a stable/canary model pair and, when installed, a real
Prometheus) and stops it when the dashboard is closed or the kernel exits.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

from mdash.panels import PanelResult, Snapshot

__all__ = ["NotebookDashboard", "connect"]


def connect(
    config: Any = None,
    *,
    prometheus: str | None = None,
    endpoint: str | None = None,
    metrics: str | None = None,
    preset: str | None = None,
    model: str | None = None,
    demo: dict[str, Any] | None = None,
) -> NotebookDashboard:
    """A NotebookDashboard for a Config, an ``mdash.toml`` path and/or flags; nothing given: the embedded demo.

    ``demo`` passes options to the embedded demo (``DemoStack``), e.g. ``{"canary_latency_ms": 20}`` for a slow
    canary or ``{"prometheus": False}`` to compute panels from the servers' /metrics pages directly.
    """
    from mdash.config import Config, load
    from mdash.dashboard import Dashboard

    if isinstance(config, Config):
        cfg = config
    else:
        cfg = load(config, prometheus=prometheus, endpoint=endpoint, metrics=metrics, preset=preset, model=model)
    stack = None
    if cfg.is_empty:
        from mdash.demo.stack import DemoStack

        stack = DemoStack(**(demo or {})).start()
        try:
            if not stack.wait_for_data(timeout=30):
                import warnings

                warnings.warn("the demo models have no latency data yet after 30 s (a busy machine?): panels fill "
                              "in as data arrives; re-run analysis cells in a minute", stacklevel=2)
            cfg = stack.config()
        except BaseException:
            stack.stop()
            raise
    return NotebookDashboard(Dashboard(cfg), stack=stack)


class NotebookDashboard:
    """The core Dashboard plus notebook views: show(), stop(), snapshot(), query(), figure(), canary, rollback."""

    def __init__(self, dashboard: Any, *, stack: Any = None) -> None:
        self.dashboard = dashboard
        self.stack = stack
        self.view: Any = None
        self.last: Snapshot | None = None
        # the demo's processes must not outlive the kernel even if close() is never called (runs at exit too)
        self._finalizer = weakref.finalize(self, _shutdown, dashboard, stack)

    @property
    def config(self) -> Any:
        return self.dashboard.config

    @property
    def models(self) -> list[str]:
        return [m for m in dict.fromkeys(s.model for s in self.dashboard.specs) if m]

    def show(self, model: str | None = None, *, mode: str | None = None, interval: float | None = None) -> None:
        """Display the live dashboard and start refreshing (the view is ``self.view``; nothing is returned, so
        a trailing ``dash.show()`` does not display it twice).

        ``mode``: "widget", "static" (figures redrawn through display handles, for frontends without widgets) or
        "auto" (the default, or ``$MDASH_NOTEBOOK_VIEW``): widgets when anywidget and a kernel are there.
        """
        from IPython.display import display

        from mdash.notebook.fallback import widgets_available

        mode = mode or os.environ.get("MDASH_NOTEBOOK_VIEW") or "auto"
        if mode not in ("auto", "widget", "static"):
            from mdash.errors import ConfigError

            raise ConfigError(f"show(mode={mode!r}): use \"auto\", \"widget\" or \"static\"")
        self.stop()
        if mode == "widget" or (mode == "auto" and widgets_available()):
            from mdash.notebook.widget import DashboardWidget

            self.view = DashboardWidget(self.dashboard, model=model, interval=interval)
            display(self.view)
        else:
            from mdash.notebook.fallback import StaticDashboard

            self.view = StaticDashboard(self.dashboard, model=model, interval=interval)
            self.view.show()
        self.view.refresher.start()

    def stop(self) -> None:
        """Stop live refresh (figures keep their last data); show() starts a new view."""
        if self.view is not None:
            self.view.refresher.stop()

    def snapshot(self, **kw: Any) -> Snapshot:
        """One blocking Snapshot (models=, groups=, keys= narrow it), kept as ``self.last``."""
        self.last = self.dashboard.snapshot(**kw)
        return self.last

    def query(self, promql: str, start: Any = None, end: Any = None, step: Any = None) -> Any:
        """Run PromQL over a range and get a DataFrame (one column a series), for analysis in pandas."""
        return self.dashboard.query(promql, start, end, step)

    def figure(self, panel: str | PanelResult, model: str | None = None) -> Any:
        """A static ``go.Figure`` of a panel, by PanelResult, key or title (from the last snapshot, or a new one)."""
        from mdash.notebook.figures import figure

        if isinstance(panel, PanelResult):
            return figure(panel)
        snap = self.last or self.snapshot()
        matches = [
            p for p in snap.panels
            if panel in (p.spec.key, p.spec.title) and (model is None or p.spec.model == model)
        ]
        if not matches:
            from mdash.errors import ConfigError

            titles = sorted({p.spec.title for p in snap.panels})
            raise ConfigError(f"figure({panel!r}): no such panel; use a key or one of: {', '.join(titles)}")
        return figure(matches[0])

    def canary(self, **kw: Any) -> Any:
        """Run a canary (blocking) and return its Report; in the demo, canary vs stable is the default."""
        from mdash.canary import canary

        return canary(**{**self._canary_defaults(), **kw})

    def canary_form(self, **kw: Any) -> Any:
        """A form that runs a canary with a progress bar and shows its report."""
        from mdash.notebook.actions import CanaryForm

        return CanaryForm(**{**self._canary_defaults(), **kw})

    def _canary_defaults(self) -> dict[str, Any]:
        if self.stack is not None:
            return {"endpoint": self.stack.canary_url, "baseline": self.stack.stable_url, "model": self.stack.model_name}
        for m in self.config.models:
            if m.endpoint and m.baseline:
                return {"endpoint": m.endpoint, "baseline": m.baseline, "model": m.server_name}
        return {}

    def rollback_button(self, model: str | None = None, **kw: Any) -> Any:
        """A Roll back button for ``model`` that shows the request and asks to type the model name to confirm."""
        from mdash.notebook.actions import RollbackPanel

        kw.setdefault("settings", self.config.rollback)
        kw.setdefault("readonly", bool(self.config.readonly))
        return RollbackPanel(model or self.models[-1], **kw)

    def to_html(self, path: str) -> Any:
        """Write the last (or a new) snapshot as a self-contained HTML report."""
        from mdash.notebook.report import write_html

        return write_html(self.last or self.snapshot(), path)

    def close(self) -> None:
        """Stop refreshing, close the Dashboard and stop the embedded demo, if any."""
        if self.view is not None:
            self.view.close()
        self._finalizer()

    def __enter__(self) -> NotebookDashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        demo = " (demo)" if self.stack is not None else ""
        return f"<mdash.NotebookDashboard{demo} source={self.dashboard.source} models={self.models}>"


def _shutdown(dashboard: Any, stack: Any) -> None:
    dashboard.close()
    if stack is not None:
        stack.stop()
