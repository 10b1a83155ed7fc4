"""The Python side of the notebook's Plotly figures after a refresh: trace values, threshold lines, state, units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from mdash.notebook.figures import BACKGROUNDS, STATE_COLORS, figure, new_figure, update_figure
from mdash.panels import PanelResult, PanelSpec, Query

NOW = 1_790_000_000.0
LATENCY = PanelSpec("p99 latency", "performance", (Query("q"),), unit="ms", warn=100, crit=200, model="iris-canary")


def frame(**columns: list[float]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    index = pd.to_datetime(NOW - 15 * np.arange(n)[::-1], unit="s", utc=True)
    return pd.DataFrame(columns, index=index)


def result(spec: PanelSpec = LATENCY, **kw) -> PanelResult:
    kw.setdefault("frame", frame(p99=[40.0, 80.0, 150.0]))
    kw.setdefault("value", 150.0)
    kw.setdefault("state", "warn")
    kw.setdefault("age", 3.0)
    return PanelResult(spec, **kw)


def widget(spec: PanelSpec = LATENCY) -> go.FigureWidget:
    return new_figure(spec, widget=True)


def test_refresh_puts_each_series_values_and_times_into_its_trace():
    fig = widget()
    r = result(frame=frame(stable=[10.0, 20.0, np.nan], canary=[30.0, 40.0, 50.0]))
    update_figure(fig, r, start=NOW - 900, end=NOW)
    assert [t.name for t in fig.data] == ["stable", "canary"]
    assert list(fig.data[1].y) == [30.0, 40.0, 50.0]
    assert np.isnan(fig.data[0].y[2])  # a gap stays a gap, not a zero
    assert pd.Timestamp(fig.data[1].x[-1]) == pd.Timestamp(NOW, unit="s")
    assert fig.layout.showlegend is True
    start, end = (pd.Timestamp(t, unit="s").strftime("%Y-%m-%d %H:%M:%S") for t in (NOW - 900, NOW))
    assert fig.layout.xaxis.range == (start, end)


def test_threshold_lines_sit_at_warn_and_crit_in_their_colours():
    fig = widget()
    lines = {s.name: s for s in fig.layout.shapes}
    assert (lines["warn"].y0, lines["warn"].y1) == (100, 100)
    assert (lines["crit"].y0, lines["crit"].y1) == (200, 200)
    assert lines["warn"].line.color == STATE_COLORS["warn"] and lines["crit"].line.color == STATE_COLORS["crit"]
    assert lines["crit"].xref == "paper" and (lines["crit"].x0, lines["crit"].x1) == (0, 1)
    no_thresholds = PanelSpec("rps", "performance", (Query("q"),), unit="req/s")
    assert widget(no_thresholds).layout.shapes == ()


@pytest.mark.parametrize("state", ["ok", "warn", "crit"])
def test_state_shows_in_title_background_and_meta(state):
    fig = widget()
    update_figure(fig, result(state=state))
    assert fig.layout.meta == {"key": "iris-canary/performance/p99 latency", "state": state}
    assert fig.layout.plot_bgcolor == BACKGROUNDS.get(state, "white")
    assert "150 ms" in fig.layout.title.text
    assert (state.upper() in fig.layout.title.text) is (state != "ok")
    assert fig.layout.annotations[0].visible is False


def test_error_panel_drops_its_traces_and_shows_the_error_verbatim():
    fig = widget()
    update_figure(fig, result())
    err = 'bad_data: 1:5: parse error: unexpected "}"'
    update_figure(fig, result(frame=pd.DataFrame(), value=None, state="error", error=err, age=None))
    assert len(fig.data) == 0
    note = fig.layout.annotations[0]
    assert note.visible is True and err in note.text
    assert note.font.color == STATE_COLORS["error"]
    assert fig.layout.meta["state"] == "error"


def test_stale_panel_keeps_the_last_good_data_and_says_how_old():
    fig = widget()
    update_figure(fig, result(state="stale", age=125.0, error="connection refused"))
    assert list(fig.data[0].y) == [40.0, 80.0, 150.0]
    assert fig.layout.annotations[0].text == "stale, data 2m old: connection refused"


def test_nodata_panel_says_so_with_the_spec_note():
    spec = PanelSpec("GPU util", "resources", (Query("q"),), unit="percent", note="no DCGM exporter", model="m")
    fig = widget(spec)
    update_figure(fig, PanelResult(spec))
    assert fig.layout.annotations[0].text == "no data (no DCGM exporter)"
    assert fig.layout.yaxis.ticksuffix == "%"


def test_new_series_rebuilds_traces_and_later_ticks_reuse_them():
    fig = widget()
    update_figure(fig, result(frame=frame(a=[1.0, 2.0, 3.0])))
    first = fig.data[0]
    update_figure(fig, result(frame=frame(a=[4.0, 5.0, 6.0])))
    assert fig.data[0] is first and list(first.y) == [4.0, 5.0, 6.0]
    update_figure(fig, result(frame=frame(a=[1.0, 1.0, 1.0], b=[2.0, 2.0, 2.0])))
    assert [t.name for t in fig.data] == ["a", "b"]


def test_each_tick_is_one_update_message_to_the_browser():
    fig = widget()
    update_figure(fig, result())  # creates the trace
    sent: list[str] = []
    for kind in ("update", "restyle", "relayout"):
        original = getattr(fig, f"_send_{kind}_msg")

        def spy(*a, _kind=kind, _original=original, **k):
            sent.append(_kind)
            return _original(*a, **k)

        setattr(fig, f"_send_{kind}_msg", spy)
    update_figure(fig, result(frame=frame(p99=[1.0, 2.0, 3.0]), state="ok", value=3.0), start=NOW - 60, end=NOW)
    assert sent == ["update"]


def test_units_format_the_y_axis():
    ratio = PanelSpec("error rate", "exceptions", (Query("q"),), unit="ratio", warn=0.01, crit=0.05)
    memory = PanelSpec("RSS", "resources", (Query("q"),), unit="bytes")
    assert widget(ratio).layout.yaxis.tickformat == ".1%"
    assert (widget(memory).layout.yaxis.tickformat, widget(memory).layout.yaxis.ticksuffix) == (".3s", "B")
    assert widget().layout.yaxis.title.text == "ms"


def test_stat_panel_is_a_number_in_its_state_colour():
    spec = PanelSpec("firing alerts", "exceptions", (Query("q"),), unit="alerts", kind="stat", crit=1)
    fig = widget(spec)
    update_figure(fig, PanelResult(spec, frame(v=[0.0, 2.0]), value=2.0, state="crit"))
    assert fig.data[0].value == 2.0
    assert fig.data[0].number.font.color == STATE_COLORS["crit"]
    assert fig.layout.meta["state"] == "crit"


def test_static_figure_is_a_plain_figure_that_fills_the_page():
    fig = figure(result())
    assert type(fig) is go.Figure
    assert fig.layout.width is None and list(fig.data[0].y) == [40.0, 80.0, 150.0]
