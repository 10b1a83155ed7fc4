"""The Python side of the notebook's Plotly figures after a refresh: trace values, threshold lines, state, units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from mdash.notebook.figures import BACKGROUNDS, STATE_COLORS, PanelGrid, figure
from mdash.panels import PanelResult, PanelSpec, Query

NOW = 1_790_000_000.0
LATENCY = PanelSpec("p99 latency", "performance", (Query("q"),), unit="ms", warn=100, crit=200, model="iris-canary")
RPS = PanelSpec("requests", "performance", (Query("q"),), unit="req/s", model="iris-canary")
ALERTS = PanelSpec("firing alerts", "exceptions", (Query("q"),), unit="alerts", kind="stat", crit=1)


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


def grid(*specs: PanelSpec) -> PanelGrid:
    return PanelGrid(specs or (LATENCY, RPS, ALERTS), widget=True)


def test_refresh_puts_each_series_values_and_times_into_its_panels_traces():
    g = grid()
    g.update([result(frame=frame(stable=[10.0, 20.0, np.nan], canary=[30.0, 40.0, 50.0])),
              result(RPS, frame=frame(rps=[5.0, 6.0, 7.0]), state="ok", value=7.0)], start=NOW - 900, end=NOW)
    stable, canary = g.traces(LATENCY.key)
    assert (stable.name, canary.name) == ("stable", "canary")
    assert list(canary.y) == [30.0, 40.0, 50.0]
    assert np.isnan(stable.y[2])  # a gap stays a gap, not a zero
    assert pd.Timestamp(canary.x[-1]) == pd.Timestamp(NOW, unit="s")
    (rps,) = g.traces(RPS.key)
    assert list(rps.y) == [5.0, 6.0, 7.0] and (rps.xaxis, rps.yaxis) == ("x2", "y2")
    start, end = (pd.Timestamp(t, unit="s").strftime("%Y-%m-%d %H:%M:%S") for t in (NOW - 900, NOW))
    assert g.fig.layout.xaxis.range == (start, end) == g.fig.layout.xaxis2.range
    assert "━ stable" in g.title(LATENCY.key)  # a colour key when a panel has several series


def test_threshold_lines_sit_at_warn_and_crit_of_their_own_panel():
    g = grid()
    lines = {s.name: s for s in g.fig.layout.shapes if s.type == "line"}
    assert set(lines) == {f"{LATENCY.key}:warn", f"{LATENCY.key}:crit"}  # RPS and the stat have none
    warn, crit = lines[f"{LATENCY.key}:warn"], lines[f"{LATENCY.key}:crit"]
    assert (warn.y0, warn.y1, crit.y0, crit.y1) == (100, 100, 200, 200)
    assert (warn.line.color, crit.line.color) == (STATE_COLORS["warn"], STATE_COLORS["crit"])
    assert (crit.xref, crit.yref, crit.x0, crit.x1) == ("x domain", "y", 0, 1)


@pytest.mark.parametrize("state", ["ok", "warn", "crit"])
def test_state_shows_in_title_background_and_meta(state):
    g = grid()
    g.update([result(state=state)])
    assert g.state(LATENCY.key) == state and g.state(RPS.key) == "nodata"
    assert g.background(LATENCY.key) == BACKGROUNDS.get(state, "white")
    assert "150 ms" in g.title(LATENCY.key)
    assert (state.upper() in g.title(LATENCY.key)) is (state != "ok")
    assert g.note(LATENCY.key).visible is False


def test_error_panel_drops_its_traces_and_shows_the_error_verbatim():
    g = grid()
    g.update([result(), result(RPS, frame=frame(rps=[1.0, 2.0, 3.0]), state="ok")])
    err = 'bad_data: 1:5: parse error: unexpected "}"'
    g.update([result(frame=pd.DataFrame(), value=None, state="error", error=err, age=None)])
    assert g.traces(LATENCY.key) == [] and len(g.traces(RPS.key)) == 1  # the neighbour keeps its line
    note = g.note(LATENCY.key)
    assert note.visible is True and err in note.text and note.font.color == STATE_COLORS["error"]
    assert g.state(LATENCY.key) == "error"


def test_stale_panel_keeps_the_last_good_data_and_says_how_old():
    g = grid()
    g.update([result(state="stale", age=125.0, error="connection refused")])
    assert list(g.traces(LATENCY.key)[0].y) == [40.0, 80.0, 150.0]
    assert g.note(LATENCY.key).text == "stale, data 2m old: connection refused"


def test_nodata_panel_says_so_with_the_spec_note():
    gpu = PanelSpec("GPU util", "resources", (Query("q"),), unit="percent", note="no DCGM exporter", model="m")
    g = grid(gpu)
    g.update([PanelResult(gpu)])
    assert g.note(gpu.key).text == "no data (no DCGM exporter)"
    assert g.fig.layout.yaxis.ticksuffix == "%"


def test_new_series_rebuilds_traces_and_later_ticks_reuse_them():
    g = grid()
    g.update([result(frame=frame(a=[1.0, 2.0, 3.0]))])
    (first,) = g.traces(LATENCY.key)
    g.update([result(frame=frame(a=[4.0, 5.0, 6.0]))])
    assert g.traces(LATENCY.key)[0] is first and list(first.y) == [4.0, 5.0, 6.0]
    g.update([result(frame=frame(a=[1.0, 1.0, 1.0], b=[2.0, 2.0, 2.0]))])
    assert [t.name for t in g.traces(LATENCY.key)] == ["a", "b"]
    assert g.fig.data[0].type == "indicator"  # the stat panel survives the rebuild


def test_each_tick_is_one_update_message_to_the_browser():
    g = grid()
    g.update([result()])  # creates the line traces
    sent: list[str] = []
    for kind in ("update", "restyle", "relayout"):
        original = getattr(g.fig, f"_send_{kind}_msg")

        def spy(*a, _kind=kind, _original=original, **k):
            sent.append(_kind)
            return _original(*a, **k)

        setattr(g.fig, f"_send_{kind}_msg", spy)
    g.update([result(frame=frame(p99=[1.0, 2.0, 3.0]), state="ok", value=3.0),
              PanelResult(ALERTS, frame(v=[0.0, 2.0]), value=2.0, state="crit")], start=NOW - 60, end=NOW)
    assert sent == ["update"]


def test_units_format_the_y_axes():
    ratio = PanelSpec("error rate", "exceptions", (Query("q"),), unit="ratio", warn=0.01, crit=0.05)
    memory = PanelSpec("RSS", "resources", (Query("q"),), unit="bytes")
    seconds = PanelSpec("latency", "performance", (Query("q"),), unit="s")
    layout = grid(ratio, memory, seconds, LATENCY).fig.layout
    assert layout.yaxis.tickformat == ".1%"
    assert (layout.yaxis2.tickformat, layout.yaxis2.ticksuffix) == (".4~s", "B")
    assert (layout.yaxis3.tickformat, layout.yaxis3.ticksuffix) == (".4~s", "s")
    assert layout.yaxis4.title.text == "ms"


def test_stat_panel_is_a_number_in_its_state_colour():
    g = grid()
    g.update([PanelResult(ALERTS, frame(v=[0.0, 2.0]), value=2.0, state="crit")])
    stat = g.fig.data[0]
    assert (stat.type, stat.value, stat.number.font.color) == ("indicator", 2.0, STATE_COLORS["crit"])
    assert g.state(ALERTS.key) == "crit"


def test_cells_do_not_overlap_and_the_figure_is_sized_for_its_grid():
    specs = [PanelSpec(f"p{i}", "performance", (Query("q"),), model="m") for i in range(5)]
    g = PanelGrid(specs, widget=True)
    assert (g.rows, g.cols) == (3, 2) and (g.fig.layout.width, g.fig.layout.height) == (960, 750)
    domains = [(g.fig.layout[f"xaxis{'' if i == 0 else i + 1}"].domain, g.fig.layout[f"yaxis{'' if i == 0 else i + 1}"].domain)
               for i in range(5)]
    for a in range(5):
        for b in range(a + 1, 5):
            (ax, ay), (bx, by) = domains[a], domains[b]
            assert ax[1] <= bx[0] or bx[1] <= ax[0] or ay[1] <= by[0] or by[1] <= ay[0]


def test_static_figure_of_one_panel_is_a_plain_figure_that_fills_the_page():
    fig = figure(result())
    assert type(fig) is go.Figure
    assert fig.layout.width is None and list(fig.data[0].y) == [40.0, 80.0, 150.0]
