"""Fault matrix, the two live views: a real Prometheus stopped while the TUI (App.run_test, live timer) and the
notebook's NotebookDashboard (its refresh task on the running loop) refresh a real Dashboard. Both show the panels
stale with their age and the cause, keep running, and recover on their own when Prometheus is back: no key, no
click, nothing re-run."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import needs_prometheus
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from mdash.config import Config, PrometheusConfig
from mdash.dashboard import Dashboard
from mdash.notebook import NotebookDashboard
from mdash.panels import PanelSpec, Query
from mdash.tui.app import Actions, MdashApp
from mdash.tui.widgets import PanelCard

pytestmark = [needs_prometheus, pytest.mark.prometheus]

SPECS = [
    PanelSpec("load", "performance", (Query("vector(0.25)", "load"),), warn=0.5, model="svc"),
    PanelSpec("errors", "exceptions", (Query("vector(2)", "5xx"),), unit="req/s", model="svc"),
]
KEYS = {s.key for s in SPECS}


class Clock:
    """Wall time plus a settable offset, shared by the Dashboard and the view, so ages grow without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def until(condition, timeout: float = 15.0, what: str = "condition") -> None:
    """Yield to the running app / refresh task until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        await asyncio.sleep(0.05)


def dashboard(url: str, clock: Clock) -> Dashboard:
    dash = Dashboard(Config(prometheus=PrometheusConfig(url=url, timeout=2)), clock=clock)
    dash.specs = list(SPECS)
    return dash


async def test_tui_shows_stale_panels_with_age_while_prometheus_is_down_and_recovers_by_itself(prometheus_factory):
    server = prometheus_factory([])
    clock = Clock()
    with dashboard(server.url, clock) as dash:
        app = MdashApp(dash, interval=0.5, clock=clock, live=True, actions=Actions())
        async with app.run_test(size=(120, 40)):
            cards = [c for c in app.query(PanelCard) if c.spec.key in KEYS]

            def states() -> set[str]:
                return {c.view.state if c.view else "none" for c in cards}

            await until(lambda: states() == {"ok"}, what="first data")
            await asyncio.to_thread(server.stop)
            clock.offset = 120.0
            await until(lambda: states() == {"stale"}, what="stale panels")
            for card in cards:
                assert card.view.age >= 119 and card.view.value is not None  # the last good data stays on screen
                assert "cannot reach Prometheus" in card.view.error and "Connection refused" in card.view.error
                assert str(card.border_subtitle).startswith("STALE 2m")
            assert app.is_running and app.fetch_error == ""  # the fetch itself never failed: no crash, no modal
            fetched = app.fetches

            await asyncio.to_thread(server.start)  # same port, fresh tsdb; nobody presses a key
            await until(lambda: states() == {"ok"}, what="recovery")
            assert app.fetches > fetched and all(c.view.error == "" and c.view.age < 5 for c in cards)


async def test_notebook_dashboard_shows_stale_panels_while_prometheus_is_down_and_recovers_by_itself(
        prometheus_factory):
    server = prometheus_factory([])
    clock = Clock()
    InteractiveShell.instance()
    with capture_output():
        nb = NotebookDashboard(dashboard(server.url, clock))
        nb.show("svc", mode="widget", interval=0.2)
    view = nb.view
    try:
        def states() -> set[str]:
            return {view.grid(s.group).state(s.key) for s in SPECS}

        await until(lambda: states() == {"ok"}, what="first data")
        await asyncio.to_thread(server.stop)
        clock.offset = 120.0
        await until(lambda: states() == {"stale"}, what="stale panels")
        for spec in SPECS:
            note = view.grid(spec.group).note(spec.key).text
            assert note.startswith("stale, data 2m") and "cannot reach Prometheus" in note, note
        assert "cannot reach Prometheus" in view.status.value and view.refresher.running
        ticks = view.refresher.ticks

        await asyncio.to_thread(server.start)  # nobody clicks Refresh
        await until(lambda: states() == {"ok"}, what="recovery")
        assert view.refresher.ticks > ticks and "cannot reach" not in view.status.value
        assert all(view.grid(s.group).state(s.key) == "ok" for s in SPECS)
    finally:
        nb.close()
