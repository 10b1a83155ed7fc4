"""A fixed-data stand-in with Dashboard's interface, so TUI screens are deterministic (snapshot and Pilot tests).

It is used only where the real thing cannot give the same screen twice; the end-to-end test runs the real demo.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
from rich.console import Console

from mdash.panels import Alert, PanelResult, PanelSpec, Query, Snapshot

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


def _spec(model: str, group: str, title: str, legends: tuple[str, ...], unit: str, warn=None, crit=None, note=""):
    return PanelSpec(title=title, group=group, queries=tuple(Query(f"{title}_{lg}", lg) for lg in legends),
                     unit=unit, warn=warn, crit=crit, model=model, note=note)


def specs_for(model: str) -> list[PanelSpec]:
    return [
        _spec(model, "performance", "Latency", ("p50", "p95", "p99"), "ms", warn=100, crit=250),
        _spec(model, "performance", "Throughput", ("req/s",), "req/s"),
        _spec(model, "resources", "CPU", ("cpu",), "%", warn=80, crit=95),
        _spec(model, "resources", "Memory", ("rss",), "bytes"),
        _spec(model, "exceptions", "Error rate", ("errors",), "ratio", warn=0.01, crit=0.05),
        _spec(model, "exceptions", "Timeouts", ("timeouts",), "req/s", note="from canary probes"),
    ]


# (model, title) -> (state, error) for the panels that show each failure mode
FAILURES = {
    ("iris-canary", "Timeouts"): ("error", "GET http://127.0.0.1:9/metrics: connection refused"),
    ("iris-stable", "Memory"): ("stale", "Prometheus query timed out after 5.0s"),
    ("iris-stable", "Timeouts"): ("nodata", ""),
}


def _curve(title: str, legend_i: int, canary: bool, t: np.ndarray) -> np.ndarray:
    phase = t / 97.0 + legend_i
    base = {"Latency": 40.0 * (1 + legend_i), "Throughput": 50.0, "CPU": 35.0, "Memory": 180e6,
            "Error rate": 0.004, "Timeouts": 0.2}[title]
    wiggle = 0.25 * np.sin(phase) + 0.1 * np.sin(phase * 3.1)
    values = base * (1 + wiggle)
    if canary and title in ("Latency", "Error rate"):
        worse = 2.0 if title == "Latency" else 14.0
        values = values * (1 + worse * (t > t[-1] - (t[-1] - t[0]) / 3))  # the canary got worse lately
    return values


@dataclass
class FakeModel:
    name: str
    endpoint: str
    version: str
    baseline: str | None = None
    metrics: str | None = None


class FakeDashboard:
    """Same interface as mdash.dashboard.Dashboard; panels answer fixed curves and fixed failures."""

    def __init__(self, *, models=("iris-stable", "iris-canary"), clock=lambda: T0, demo: bool = True,
                 interval: float = 1.0, readonly: bool = False) -> None:
        cfg_models = [FakeModel(m, f"http://127.0.0.1:8{i}00", m.rsplit("-", 1)[-1]) for i, m in enumerate(models)]
        self.config = SimpleNamespace(models=cfg_models, interval=interval, range_seconds=900.0, readonly=readonly,
                                      demo=demo, rollback=None, prometheus=None)
        self.specs = [s for m in models for s in specs_for(m)]
        self.range_seconds = 900.0
        self.points = 120
        self.source = "http://127.0.0.1:9090"
        self.clock = clock
        self.calls: deque[tuple[tuple[str, ...] | None, frozenset[str] | None]] = deque(maxlen=50)
        self.gate: threading.Event | None = None  # set to an unset Event to make snapshot() hang like a dead source
        self.fail_all = ""  # non-empty: every panel errors with this text (source down)
        self.empty = False  # True: every panel has no data (a source that has not scraped yet)
        self.alerts: list[Alert] = []

    def snapshot(self, *, models=None, groups=None, keys=None) -> Snapshot:
        self.calls.append((tuple(models) if models else None, frozenset(keys) if keys else None))
        if self.gate is not None:
            self.gate.wait()
        now = self.clock()
        t = np.linspace(now - self.range_seconds, now, self.points)
        index = pd.to_datetime(t, unit="s", utc=True)
        panels = []
        for spec in self.specs:
            if (models and spec.model not in models) or (groups and spec.group not in groups):
                continue
            if keys is not None and spec.key not in keys:
                continue
            state, error = FAILURES.get((spec.model, spec.title), ("", ""))
            if self.fail_all:
                state, error = "error", self.fail_all
            elif self.empty:
                state, error = "nodata", ""
            canary = spec.model.endswith("canary")
            if state in ("error", "nodata"):
                panels.append(PanelResult(spec=spec, state=state, error=error))
                continue
            frame = pd.DataFrame({q.legend: _curve(spec.title, i, canary, t) for i, q in enumerate(spec.queries)},
                                 index=index)
            age = 0.0
            if state == "stale":
                frame = frame[frame.index <= index[-1] - pd.Timedelta(seconds=120)]
                age = 120.0
            value = float(frame.iloc[-1, 0])
            panels.append(PanelResult(spec=spec, frame=frame, value=value, state=state or spec.judge(value), age=age,
                                      error=error, anomaly=canary and spec.title == "Latency",
                                      anomaly_reason="p50 3.1x its 1h median" if canary else ""))
        return Snapshot(taken_at=now, source=self.source, panels=panels, alerts=list(self.alerts), demo=True)

    def close(self) -> None:
        pass


async def settle(pilot) -> None:
    """Let the app handle what is queued and finish every worker, including fetches a fetch started."""
    await pilot.pause()
    while len(pilot.app.workers):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def screen_text(app) -> str:
    """The current screen as plain text (what export_screenshot draws, without the SVG)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True,
                      color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def fixed_report(verdict: str = "fail"):
    """A canary Report-shaped object with two judged metrics."""
    metrics = [SimpleNamespace(name="p99 latency", verdict="fail", reason="canary 212 ms vs baseline 88 ms (U test p=0.001)"),
               SimpleNamespace(name="error rate", verdict="pass", reason="0/200 vs 0/200 (Fisher p=1.0)")]
    return SimpleNamespace(verdict=verdict, metrics=metrics)


def fake_canary(*, progress=None, cancel=None, requests=200, **kw):
    """Calls progress like the engine does, then returns a fixed report."""
    for arm in ("baseline", "canary"):
        for done in (requests // 2, requests):
            progress(SimpleNamespace(arm=arm, done=done, total=requests, errors=0, rps=123.4, p50_ms=12.0, p99_ms=40.0))
    fake_canary.calls.append(kw | {"requests": requests})
    return fixed_report()


fake_canary.calls = []


def plan(model: str, reason: str, **kw):
    return SimpleNamespace(method="POST", url="https://deploy.example/hooks/rollback",
                           headers={"Content-Type": "application/json", "X-Mdash-Signature": "sha256=<redacted>"},
                           body={"model": model, "reason": reason, "to_version": None}, curl="curl ...")
