"""Pilot tests of the dashboard's keys and refresh loop, on fixed data with an injected clock (no wall-time sleeps)."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Input, TabbedContent
from tui_fakes import T0, FakeDashboard, screen_text, settle

from mdash.tui.app import Actions, MdashApp
from mdash.tui.screens import CanaryScreen, HelpScreen, RollbackScreen, ZoomScreen
from mdash.tui.widgets import PanelCard


class Clock:
    """A settable clock shared by the fake dashboard and the app."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_app(models=("iris-stable", "iris-canary"), **kw) -> tuple[MdashApp, FakeDashboard, Clock]:
    clock = Clock()
    dash = FakeDashboard(models=models, clock=clock)
    kw.setdefault("live", False)
    app = MdashApp(dash, clock=clock, actions=Actions(), **kw)
    return app, dash, clock


def status(app: MdashApp) -> str:
    return str(app.query_one("#status").render())


def keys_of(app: MdashApp, model: str) -> set[str]:
    return {s.key for s in app.dashboard.specs if s.model == model}


async def test_first_refresh_fetches_only_the_visible_tab_and_draws_every_state():
    app, dash, _ = make_app(models=("iris-stable", "iris-canary", "fraud"))
    async with app.run_test(size=(100, 60)) as pilot:
        await settle(pilot)
        models, keys = dash.calls[-1]
        assert set(models) == {"iris-stable", "iris-canary"}
        assert keys == keys_of(app, "iris-stable") | keys_of(app, "iris-canary")
        cards = {c.spec.key: c for c in app.query(PanelCard)}
        assert cards["fraud/performance/Latency"].view is None  # hidden tab: not fetched
        states = {c.view.state for c in cards.values() if c.view}
        assert {"ok", "crit", "error", "stale", "nodata"} <= states
        text = screen_text(app)
        assert "ERROR GET http://127.0.0.1:9/metrics:" in text and "connection refused" in text


async def test_switching_tab_fetches_that_tabs_panels():
    app, dash, _ = make_app(models=("iris-stable", "iris-canary", "fraud"))
    async with app.run_test(size=(100, 60)) as pilot:
        await settle(pilot)
        app.query_one(TabbedContent).active = "tab-1"
        await settle(pilot)
        assert dash.calls[-1] == (("fraud",), frozenset(keys_of(app, "fraud")))


async def test_q_quits():
    app, _, _ = make_app()
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


async def test_p_pauses_refreshing_and_resumes_with_a_fetch():
    app, dash, _ = make_app(live=True)
    app.interval = 3600.0  # the timer exists but never fires during the test
    async with app.run_test() as pilot:
        await settle(pilot)
        assert app._timer is not None
        await pilot.press("p")
        before = len(dash.calls)
        await pilot.press("r")
        await settle(pilot)
        assert app.paused and app._timer is None and len(dash.calls) == before
        assert "PAUSED" in status(app)
        await pilot.press("p")
        await settle(pilot)
        assert not app.paused and app._timer is not None and len(dash.calls) == before + 1


async def test_plus_and_minus_change_the_refresh_interval():
    app, _, _ = make_app()
    async with app.run_test() as pilot:
        assert app.interval == 1.0
        await pilot.press("plus")
        assert app.interval == 2.0 and "every 2s" in status(app)
        await pilot.press("minus", "minus")
        assert app.interval == 0.5 and "every 500ms" in status(app)


async def test_t_cycles_the_time_range_and_refetches():
    app, dash, _ = make_app()
    async with app.run_test() as pilot:
        await settle(pilot)
        before = len(dash.calls)
        await pilot.press("t")
        await settle(pilot)
        assert dash.range_seconds == 3600 and "range 1h" in status(app) and len(dash.calls) == before + 1
        for _ in range(4):
            await pilot.press("t")
        assert dash.range_seconds == 900


async def test_slash_filters_panels_and_only_matching_ones_are_fetched():
    app, dash, _ = make_app()
    async with app.run_test(size=(100, 60)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "l", "a", "t")
        await pilot.press("enter")
        await settle(pilot)
        assert not app.query_one("#filter", Input).display
        assert dash.calls[-1][1] == {"iris-stable/performance/Latency", "iris-canary/performance/Latency"}
        assert "filter “lat”" in status(app)
        assert isinstance(app.focused, PanelCard) and app.focused.spec.title == "Latency"
        await pilot.press("slash", "escape")
        await settle(pilot)
        assert app.filter_text == "" and len(dash.calls[-1][1]) == 12


async def test_only_panels_scrolled_into_view_are_fetched():
    app, dash, _ = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        fetched = dash.calls[-1][1]
        assert "iris-stable/performance/Latency" in fetched
        assert "iris-stable/exceptions/Timeouts" not in fetched  # below the fold
        app.query_one(".pane").scroll_end(animate=False)
        await settle(pilot)
        assert "iris-stable/exceptions/Timeouts" in dash.calls[-1][1]
        assert "iris-stable/performance/Latency" not in dash.calls[-1][1]


async def test_tab_and_shift_tab_move_between_panels():
    app, _, _ = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        app.query(PanelCard).first().focus()
        await pilot.pause()
        first = app.focused
        await pilot.press("tab")
        second = app.focused
        assert isinstance(second, PanelCard) and second is not first
        await pilot.press("shift+tab")
        assert app.focused is first


async def test_enter_zooms_the_focused_panel_and_fetches_only_it():
    app, dash, _ = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        card = [c for c in app.query(PanelCard) if c.spec.key == "iris-canary/performance/Latency"][0]
        card.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ZoomScreen)
        assert dash.calls[-1][1] == {"iris-canary/performance/Latency"}
        assert dash.points == 200  # 2 points per cell of the full-width graph
        text = screen_text(app)
        assert "iris-canary · performance · Latency" in text and "crit 250 ms" in text
        assert "p99" in text.split("series")[1]  # the per-series statistics table
        await pilot.press("escape")
        assert not isinstance(app.screen, ZoomScreen)


async def test_question_mark_opens_help_and_escape_closes_it():
    app, _, _ = make_app()
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_readonly_disables_canary_and_rollback():
    app, _, _ = make_app(readonly=True)
    async with app.run_test() as pilot:
        await pilot.press("c")
        await pilot.press("b")
        await pilot.pause()
        assert not isinstance(app.screen, CanaryScreen | RollbackScreen)
        assert any("read-only" in n.message for n in app._notifications)
        assert "read-only" in status(app)


async def test_a_hanging_source_never_blocks_keys_and_fetches_never_overlap():
    app, dash, clock = make_app()
    dash.gate = threading.Event()  # snapshot() blocks until set, like a dead Prometheus
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app._inflight is not None
        await pilot.press("r", "r", "t", "plus")  # keys still work; the refreshes are skipped
        assert len(dash.calls) == 1 and app.interval == 2.0
        clock.now += 30
        app._tick()
        assert "source slow 30s" in status(app)
        dash.gate.set()
        await settle(pilot)
        assert app._inflight is None and app.last_snapshot is not None


async def test_source_failure_is_shown_per_panel_logged_and_recovered():
    app, dash, clock = make_app()
    async with app.run_test(size=(100, 60)) as pilot:
        await settle(pilot)
        dash.fail_all = "Prometheus at http://127.0.0.1:9090 refused the connection"
        await pilot.press("r")
        await settle(pilot)
        assert {c.view.state for c in app.query(PanelCard)} == {"error"}
        assert any("refused the connection" in e.text for e in app.events.events)
        dash.fail_all = ""
        clock.now += 5
        await pilot.press("r")
        await settle(pilot)
        assert "ok" in {c.view.state for c in app.query(PanelCard)}
        assert any(e.text.startswith("resolved:") and "refused" in e.text for e in app.events.events)


async def test_header_shows_source_demo_banner_and_age_of_last_update():
    app, _, clock = make_app()
    async with app.run_test() as pilot:
        await settle(pilot)
        text = status(app)
        assert "DEMO DATA" in text and "http://127.0.0.1:9090" in text and "updated 0s ago" in text
        clock.now += 42
        app._tick()
        assert "updated 42s ago" in status(app)


async def test_command_palette_offers_the_dashboard_actions():
    app, _, _ = make_app()
    async with app.run_test() as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"mdash: Pause", "mdash: Canary", "mdash: Rollback", "mdash: Export", "mdash: Zoom"} <= titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        for ch in "mdash: Pause":
            await pilot.press("space" if ch == " " else ch)
        await pilot.pause(0.2)
        await pilot.press("enter")
        await pilot.pause()
        assert app.paused


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_panels_fit_the_terminal_width(size):
    app, _, _ = make_app(models=("solo",))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        cards = [c for c in app.query(PanelCard) if c.spec.group == "performance"]
        assert app.query_one(".group-performance").styles.grid_size_columns == min(2, size[0] // 40)  # 2 panels
        assert cards[0].region.y == cards[1].region.y and cards[0].region.width >= 38
        assert all(c.region.right <= size[0] for c in app.query(PanelCard))


async def test_the_first_screen_shows_while_the_dashboard_is_still_being_built():
    built = threading.Event()
    clock = Clock()

    def connect():
        built.wait(10)  # like config + demo start-up + pandas imports
        return FakeDashboard(clock=clock)

    app = MdashApp(connect=connect, live=False, clock=clock, actions=Actions())
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert "connecting to the data source" in status(app) and len(app.query(PanelCard)) == 0
        built.set()
        await settle(pilot)
        assert len(app.query(PanelCard)) == 12 and app.last_snapshot is not None and "DEMO DATA" in status(app)


async def test_a_bad_config_closes_the_app_with_its_error():
    from mdash.errors import ConfigError

    def connect():
        raise ConfigError("mdash.toml: [prometheus] url: expected a URL, got 'nope'")

    app = MdashApp(connect=connect, live=False, actions=Actions())
    async with app.run_test() as pilot:
        await settle(pilot)
    assert isinstance(app.connect_error, ConfigError) and app.return_code == 2


async def test_a_demo_with_no_samples_yet_says_it_is_warming_up_once():
    app, dash, _ = make_app()
    dash.empty = True  # the demo's Prometheus has not scraped yet
    async with app.run_test() as pilot:
        await settle(pilot)
        assert {c.view.state for c in app.query(PanelCard) if c.view} == {"nodata"}
        assert [n.title for n in app._notifications] == ["demo warming up"]
        app.refresh_data()
        await settle(pilot)
        assert len(app._notifications) == 1  # said once, not at every refresh


async def test_a_demo_with_data_or_a_real_source_shows_no_warm_up_note():
    for demo, empty in ((True, False), (False, True)):
        app, dash, _ = make_app()
        app.demo, dash.empty = demo, empty
        async with app.run_test() as pilot:
            await settle(pilot)
            assert not [n for n in app._notifications if n.title == "demo warming up"]
