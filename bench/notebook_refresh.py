"""One notebook refresh tick: 12 panels x 300 points drawn into live FigureWidgets, vs rebuilding them each tick.

    python bench/notebook_refresh.py [--quick]

mdash draws a Snapshot into the tab's one FigureWidget in place (``PanelGrid.update``: one ``batch_update``, one
message). The peer is what a straightforward notebook dashboard does each tick: construct a fresh plotly
``go.FigureWidget`` per panel from the data (plotly 7). Each tick gets new frames, as a real refresh does. No
browser is attached (ipywidgets' DummyComm), so this is the kernel-side cost. A second row counts the widget
state a browser must load for the 12-panel tab: every plotly 7 FigureWidget carries plotly's ~5 MB JS bundle.
Goal: the refresh tick <= 200 ms (median).
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from run import bench_main

from mdash.notebook.figures import PanelGrid
from mdash.panels import PanelResult, PanelSpec, Query

PANELS, POINTS = 12, 300
GOAL_MS = 200.0
UNITS = ("ms", "req/s", "ratio", "bytes", "s", "cores")


def specs() -> list[PanelSpec]:
    return [PanelSpec(f"panel {i}", "performance", (Query(f"q{i}"),), unit=UNITS[i % len(UNITS)], warn=0.8, crit=0.9,
                      model="bench") for i in range(PANELS)]


def snapshots(n: int, seed: int = 0) -> list[list[PanelResult]]:
    """``n`` refreshes' worth of fresh results (new frames each time), 300 points per panel."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        index = pd.to_datetime(1.79e9 + 3.0 * (np.arange(POINTS) + k), unit="s", utc=True)
        out.append([PanelResult(s, pd.DataFrame({"v": rng.random(POINTS)}, index=index), value=0.5, state="ok")
                    for s in specs()])
    return out


def rebuild(results: list[PanelResult]) -> list[go.FigureWidget]:
    """The peer: one new FigureWidget per panel, built from the data, every tick."""
    figs = []
    for r in results:
        figs.append(go.FigureWidget(
            data=[go.Scatter(x=r.frame.index, y=r.frame[c].to_numpy(), mode="lines", name=str(c)) for c in r.frame],
            layout={"title": {"text": r.spec.title}, "height": 250, "width": 480, "yaxis": {"title": r.spec.unit}},
        ))
    return figs


def timed(fn, ticks: list[list[PanelResult]]) -> float:
    """Median milliseconds of ``fn(results)`` over the ticks."""
    times = []
    for results in ticks:
        t0 = time.perf_counter()
        fn(results)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def state_mb(figs: list[go.FigureWidget]) -> float:
    """Megabytes of widget state the browser receives to show these figures."""
    return sum(len(json.dumps(f.get_state(), default=str)) for f in figs) / 1e6


def run(quick: bool) -> list[dict]:
    n = 5 if quick else 20
    ticks = snapshots(n + 2)
    grid = PanelGrid(specs(), widget=True)
    rebuild(ticks[0])  # plotly's validators load on first use: keep that out of both medians
    grid.update(ticks[1])
    ours = timed(lambda results: grid.update(results, start=1.79e9, end=1.79e9 + 900), ticks[2:])
    peer = timed(rebuild, ticks[2:])
    ours_mb, peer_mb = state_mb([grid.fig]), state_mb(rebuild(ticks[-1]))
    return [
        {"measure": f"refresh tick, {PANELS} panels x {POINTS} pts (ms, median of {n}); peer: new go.FigureWidget "
                    "per panel per tick", "mdash": ours, "peer": peer, "ratio": ours / peer,
         "goal": f"<= {GOAL_MS:.0f} ms", "met": ours <= GOAL_MS},
        {"measure": f"widget state to load the {PANELS}-panel tab (MB); peer: one FigureWidget per panel",
         "mdash": ours_mb, "peer": peer_mb, "ratio": ours_mb / peer_mb, "goal": "< peer", "met": ours_mb < peer_mb},
    ]


if __name__ == "__main__":
    raise SystemExit(bench_main(run, __doc__))
