"""Screenshots of the dashboard on fixed data, compared with the SVGs in tests/__snapshots__ (pytest-textual-snapshot).

Update after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at the diff.
"""

from __future__ import annotations

import time

import pytest
from tui_fakes import T0, FakeDashboard, settle

from mdash.tui.app import Actions, MdashApp


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Feed times are local time: pin the zone so the screenshots are the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_app(models=("iris-stable", "iris-canary", "fraud")) -> MdashApp:
    return MdashApp(FakeDashboard(models=models), live=False, clock=lambda: T0, actions=Actions())


def test_dashboard_at_80x24(snap_compare):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=settle)


def test_dashboard_at_160x48(snap_compare):
    assert snap_compare(make_app(), terminal_size=(160, 48), run_before=settle)


def test_single_model_with_feed_at_160x48(snap_compare):
    async def scrolled(pilot) -> None:
        await settle(pilot)
        pilot.app.query_one(".pane").scroll_end(animate=False)
        await pilot.pause()

    assert snap_compare(make_app(models=("iris-canary",)), terminal_size=(160, 48), run_before=scrolled)


def test_zoomed_panel_at_80x24(snap_compare):
    async def zoomed(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=zoomed)
