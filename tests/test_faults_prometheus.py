"""Fault matrix, Prometheus side: a real Prometheus stopped and restarted under a refreshing Dashboard, and every
kind of bad answer (through the loopback FaultProxy) shown as the right panel state with a clear error."""

from __future__ import annotations

import gc
import json
import re
import time
import tracemalloc

import pytest
from conftest import needs_prometheus
from faultproxy import FaultProxy

from mdash.config import Config, PrometheusConfig
from mdash.dashboard import Dashboard
from mdash.demo.prometheus import PrometheusServer
from mdash.panels import PanelSpec, Query
from mdash.render import to_json

pytestmark = [needs_prometheus, pytest.mark.prometheus]

PANELS = [
    PanelSpec("one query", "performance", (Query("vector(0.2)", "load"),), warn=0.5),
    PanelSpec("two queries", "exceptions", (Query("vector(1)", "a"), Query("vector(2)", "b"))),
]
HUGE_LIMIT_MB = 40  # tracemalloc peak of one 10,000-series snapshot (measured ~20 MB), the in-process proxy included


class Clock:
    """Wall time plus a settable offset, so ages grow without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="module")
def prometheus():
    with PrometheusServer([]) as server:  # constant PromQL needs no scrape: ready in ~0.1 s
        yield server


@pytest.fixture(scope="module")
def proxy(prometheus):
    with FaultProxy(prometheus.url, delay=1.5) as p:
        yield p


@pytest.fixture
def through(proxy):
    """The proxy, back in pass mode after each test."""
    yield proxy
    proxy.mode = "pass"


def dashboard(url: str, timeout: float = 5.0, **kw) -> Dashboard:
    return Dashboard(Config(prometheus=PrometheusConfig(url=url, timeout=timeout), panels=list(PANELS)), **kw)


def states(snap) -> dict[str, tuple[str, str]]:
    return {p.spec.title: (p.state, p.error) for p in snap.panels}


def test_prometheus_stopped_mid_refresh_goes_stale_with_age_and_a_restart_recovers_alone(prometheus_factory):
    server = prometheus_factory([])
    clock = Clock()
    with dashboard(server.url, clock=clock) as dash:
        first = dash.snapshot()
        assert {s for s, _ in states(first).values()} == {"ok"} and first.reachable
        server.stop()
        for minutes in (1, 2):
            clock.offset = 60.0 * minutes
            snap = dash.snapshot()
            assert not snap.reachable and "cannot reach Prometheus" in snap.errors[0]
            for p in snap.panels:
                assert p.state == "stale" and "Connection refused" in p.error, p
                assert p.age >= 60 * minutes - 1
            assert snap.by_key()[PANELS[0].key].value == 0.2  # the last good value is still shown
        server.start()  # a fresh Prometheus on the same port; nobody touches the dashboard
        back = dash.snapshot()
    assert back.reachable and back.errors == []
    assert {title: s for title, (s, _) in states(back).items()} == {
        "one query": "ok", "two queries": "ok", "firing alerts": "ok"}
    assert all(p.error == "" and p.age < 5 for p in back.panels)


ERROR_MODES = {
    "slow": r"no answer from http://127\.0\.0\.1:\d+ within 0\.5 s",
    "503": r"HTTP 503, not a Prometheus API answer: 'Service Unavailable: upstream overloaded'",
    "bad_data": r"HTTP 400 bad_data: 1:1: parse error: unexpected character",
    "nonjson": r"HTTP 200, not a Prometheus API answer: '<html><body>502 Bad Gateway",
    "truncated": r"HTTP 200, not a Prometheus API answer: '\{\"status\":\"success\"",
    "garbled": r"not a Prometheus query answer \((ValueError|AttributeError)",
    "drop": r"cannot reach Prometheus at http://127\.0\.0\.1:\d+: .*Remote end closed connection",
}


@pytest.mark.parametrize("mode", list(ERROR_MODES))
def test_a_bad_answer_is_an_error_then_stale_after_good_data_and_pass_recovers(through, mode):
    with dashboard(through.url, timeout=0.5) as dash:
        through.mode = mode
        started = time.monotonic()
        fresh = dash.snapshot()
        took = time.monotonic() - started
        through.mode = "pass"
        good = dash.snapshot()
        through.mode = mode
        later = dash.snapshot()
        through.mode = "pass"
        back = dash.snapshot()
    assert took < 2.0, f"a {mode} answer held the refresh for {took:.1f} s (timeout 0.5 s)"
    queried = [p for p in fresh.panels if p.spec.title != "firing alerts"]
    for p in queried:
        assert p.state == "error" and re.search(ERROR_MODES[mode], p.error), (p.spec.title, p.error)
    assert {s for s, _ in states(good).values()} == {"ok"}
    for p in later.panels:
        if p.spec.title == "firing alerts" and mode in ("truncated", "garbled"):
            continue  # the proxy corrupts only query answers; /api/v1/alerts still answers
        assert p.state == "stale" and p.value is not None and p.age is not None, (p.spec.title, p.state)
        assert re.search(ERROR_MODES[mode], p.error) or p.spec.title == "firing alerts", p.error
    assert later.reachable == (mode != "drop")  # only an unreachable server is a source-level error
    assert {s for s, _ in states(back).values()} == {"ok"} and back.errors == []
    json.loads(to_json(later))  # every state renders to the documented JSON


@pytest.mark.parametrize("mode", ["nan", "empty"])
def test_nan_inf_everywhere_and_empty_results_are_no_data_without_error(through, mode):
    with dashboard(through.url) as dash:
        through.mode = mode
        snap = dash.snapshot()
    for p in snap.panels:
        if p.spec.title == "firing alerts":
            assert p.state == "ok"
            continue
        assert (p.state, p.value, p.error) == ("nodata", None, ""), (p.spec.title, p)
        assert p.age is None and not p.anomaly
    doc = json.loads(to_json(snap))  # NaN and ±Inf become null, never invalid JSON
    assert all(v is None for panel in doc["panels"][:2] for s in panel["series"] for _, v in s["points"])
    if mode == "nan":
        assert all(len(panel["series"]) >= 1 for panel in doc["panels"][:2])


def test_ten_thousand_series_render_with_bounded_memory_that_does_not_grow(through):
    through.mode = "huge"
    with dashboard(through.url, timeout=10, points=5) as dash:
        dash.specs = [PANELS[0]]
        (first,) = dash.snapshot().panels
        assert first.state == "ok" and first.frame.shape[1] == 10_000 and first.value == 0.2
        gc.collect()
        tracemalloc.start()
        try:
            (p,) = dash.snapshot().panels
            _, peak = tracemalloc.get_traced_memory()
            state, shape = p.state, p.frame.shape
            del p  # only the dashboard's last good frame may stay alive
            gc.collect()
            after_two = tracemalloc.get_traced_memory()[0]
            for _ in range(2):
                dash.snapshot()
            gc.collect()
            after_four = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    assert state == "ok" and shape[1] == 10_000
    assert peak < HUGE_LIMIT_MB * 2**20, f"peak {peak / 2**20:.1f} MB"
    assert after_four - after_two < 2**20, f"grew {(after_four - after_two) / 2**20:.2f} MB in two snapshots"
