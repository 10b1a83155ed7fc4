"""Memory of the refresh loop stays flat: history is thinned to 2 points per cell and the feed is capped."""

from __future__ import annotations

import gc
import tracemalloc

from tui_fakes import T0, FakeDashboard, settle

from mdash.tui.app import Actions, MdashApp
from mdash.tui.widgets import PanelCard


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def refreshes(app: MdashApp, pilot, clock: Clock, n: int) -> None:
    """n refreshes over data that repeats every 10: Textual's and Rich's bounded LRU caches (labels, cell
    widths) warm up within a few cycles, so any growth after that is ours."""
    for i in range(n):
        clock.now = T0 + i % 10
        app.dashboard.fail_all = "connection refused" if i % 10 == 0 else ""  # churn the events feed too
        app.refresh_data()
        await settle(pilot)


async def test_refresh_loop_memory_growth_is_bounded():
    clock = Clock()
    dash = FakeDashboard(clock=clock)
    app = MdashApp(dash, live=False, clock=clock, actions=Actions())
    tracemalloc.start()  # from the start: objects born untraced and replaced later would look like growth
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await refreshes(app, pilot, clock, 100)  # warm-up: fills the feed (capped) and the caches
            growth = []
            for _ in range(2):
                gc.collect()
                before = tracemalloc.get_traced_memory()[0]
                await refreshes(app, pilot, clock, 30)
                gc.collect()
                growth.append(tracemalloc.get_traced_memory()[0] - before)
            assert app.fetches >= 160
            assert max(growth) < 20_000, f"the refresh loop kept {growth} bytes per 30 refreshes"
            assert len(app.events.events) == app.events.events.maxlen  # full, and capped
            for card in app.query(PanelCard):
                assert card.view is None or len(card.view.ts) <= 2 * app.size.width
    finally:
        tracemalloc.stop()
