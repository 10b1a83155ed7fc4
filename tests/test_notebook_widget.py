"""The live notebook views (FigureWidget dashboard and static fallback) against the real demo and a real Prometheus."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import tracemalloc

import numpy as np
import pytest
from conftest import needs_prometheus
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from mdash.dashboard import Dashboard
from mdash.demo.stack import DemoStack
from mdash.notebook import NotebookDashboard
from mdash.notebook.fallback import StaticDashboard, widgets_available
from mdash.notebook.widget import DashboardWidget
from mdash.panels import PanelSpec, Query

pytestmark = needs_prometheus

UP = PanelSpec("scraped", "resources", (Query('up{job="iris-stable"}', "up"),), unit="", crit=0.5,
               better="higher", model="iris-stable")
BROKEN = PanelSpec("broken query", "exceptions", (Query("sum(rate(", "x"),), model="iris-stable")
CANARY_UP = PanelSpec("scraped", "resources", (Query('up{job="iris-canary"}', "up"),), model="iris-canary")


@pytest.fixture(scope="module")
def stack():
    with DemoStack(prometheus=True, traffic_rps=5) as demo:
        assert demo.wait_for_data(timeout=30), "the demo never produced latency data"
        yield demo


@pytest.fixture
def dashboard(stack):
    config = stack.config()
    config.panels = [UP, BROKEN, CANARY_UP]
    with Dashboard(config) as dash:
        yield dash


async def until(condition, timeout: float = 10.0) -> None:
    """Yield to the loop until ``condition()`` holds (fails the test after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_a_tick_draws_real_values_and_states_into_the_model_figures(dashboard):
    w = DashboardWidget(dashboard, model="iris-stable")
    snap = await w.refresher.tick()
    resources, exceptions = w.grid("resources"), w.grid("exceptions")
    assert resources.state(UP.key) == "ok"
    (up,) = resources.traces(UP.key)
    assert len(up.y) > 0 and set(np.asarray(up.y)[-3:]) == {1.0}
    assert exceptions.state(BROKEN.key) == "error"
    assert "parse error" in exceptions.note(BROKEN.key).text  # Prometheus' own words, not a generic failure
    assert CANARY_UP.key not in resources.slots  # only the selected model is drawn
    assert w.tabs.children == tuple(w.grid(g).fig for g in ("performance", "resources", "exceptions"))
    assert "updated" in w.status.value and snap.source in w.status.value
    w.close()


async def test_live_loop_ticks_until_stopped_and_refresh_now_does_not_wait_for_the_interval(dashboard):
    w = DashboardWidget(dashboard, model="iris-stable", interval=60)
    w.refresher.start()
    await until(lambda: w.refresher.ticks >= 1)
    w.refresh_button.click()
    await until(lambda: w.refresher.ticks >= 2, timeout=10)  # far sooner than the 60 s interval
    task = w.refresher._task
    w.refresher.stop()
    await until(task.done)
    assert task.cancelled() and not w.refresher.running
    w.close()


async def test_pause_keeps_cycling_without_fetching(dashboard):
    w = DashboardWidget(dashboard, model="iris-stable", interval=60)
    w.refresher.start()
    await until(lambda: w.refresher.ticks >= 1)
    w.pause_button.value = True
    cycles, ticks = w.refresher.cycles, w.refresher.ticks
    w.refresh_button.click()
    await until(lambda: w.refresher.cycles > cycles)
    assert w.refresher.ticks == ticks and w.pause_button.description == "Resume"
    w.pause_button.value = False
    await until(lambda: w.refresher.ticks > ticks)
    w.close()


async def test_closing_the_widget_ends_its_refresh_task(dashboard):
    w = DashboardWidget(dashboard, model="iris-stable", interval=60)
    w.refresher.start()
    task = w.refresher._task
    await until(lambda: w.refresher.ticks >= 1)
    w.close()
    await until(task.done)
    assert task.cancelled()


async def test_range_control_sets_the_query_range_and_the_time_axis(dashboard):
    w = DashboardWidget(dashboard, model="iris-stable")
    w.range_box.value = 300.0
    assert dashboard.range_seconds == 300.0
    await w.refresher.tick()
    grid = w.grid("resources")
    axis = grid.fig.layout[f"xaxis{grid.slots[UP.key] + 1 if grid.slots[UP.key] else ''}"]
    lo, hi = (np.datetime64(t) for t in axis.range)
    assert (hi - lo) == np.timedelta64(300, "s")
    w.close()


async def test_model_control_swaps_the_tabs_to_that_models_figures(dashboard):
    w = DashboardWidget(dashboard, model="iris-stable")
    w.model_box.value = "iris-canary"
    await w.refresher.tick()
    resources = w.grid("resources")
    assert w.tabs.children[1] is resources.fig
    assert CANARY_UP.key in resources.slots and UP.key not in resources.slots
    assert resources.state(CANARY_UP.key) == "ok"
    assert [t for t in w.tabs.titles] == ["Performance", "Resources", "Exceptions"]
    w.close()


async def test_refresh_loop_memory_stays_flat_over_many_ticks(dashboard):
    w = DashboardWidget(dashboard, model="iris-stable")
    snap = await w.refresher.tick()
    for _ in range(5):
        w.draw(snap)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(30):
        w.draw(snap)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 64 * 1024, f"memory grew by {grown} bytes over 30 ticks"
    w.close()


async def test_static_fallback_shows_data_at_once_then_redraws_in_place_through_display_handles(dashboard):
    InteractiveShell.instance()
    with capture_output() as cap:
        view = StaticDashboard(dashboard, model="iris-stable")
        view.show()
        shown = len(cap.outputs)
        await view.refresher.tick()
    ids = {o.transient["display_id"]: o for o in cap.outputs[:shown] if o.transient}
    resources_id = view.handles["resources"].display_id
    escaped = UP.key.replace("/", "\\u002f")  # plotly escapes "/" inside its <script>
    up_ok = f'"{escaped}":"ok"'
    assert up_ok in ids[resources_id].data["text/html"]  # drawn before display: nbconvert shows real data
    updates = cap.outputs[shown:]
    assert updates and all(o.update for o in updates)  # redrawn in place, nothing appended
    drawn = [o for o in updates if o.transient["display_id"] == resources_id]
    assert len(drawn) == 1 and up_ok in drawn[0].data["text/html"]
    assert "Plotly.newPlot" in drawn[0].data["text/html"]
    header = [o for o in updates if o.transient["display_id"] == view.handles["header"].display_id]
    assert "updated" in header[-1].data["text/html"]
    (up,) = view.grids["resources"].traces(UP.key)
    assert up.y[-1] == 1.0
    view.close()


async def test_auto_mode_falls_back_to_static_without_anywidget(dashboard, monkeypatch):
    monkeypatch.setitem(sys.modules, "anywidget", None)  # import anywidget now raises ImportError
    assert widgets_available() is False
    InteractiveShell.instance()
    with capture_output():
        dash = NotebookDashboard(dashboard)
        dash.show("iris-stable")
        dash.stop()
    assert isinstance(dash.view, StaticDashboard) and not dash.view.refresher.running
