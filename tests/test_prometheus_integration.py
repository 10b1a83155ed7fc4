"""Against a real Prometheus scraping a real exporter this test drives: the numbers mdash shows are the ones observed."""

from __future__ import annotations

import math
import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from conftest import killable_starter, needs_prometheus
from promtools import BUCKETS, Exporter

from mdash.config import Config, PrometheusConfig
from mdash.dashboard import Dashboard
from mdash.demo.prometheus import PrometheusServer
from mdash.errors import QueryError
from mdash.panels import PanelSpec, Query
from mdash.sources.prometheus import PrometheusSource

pytestmark = [needs_prometheus, pytest.mark.prometheus]

RULES = """groups:
- name: test
  rules:
  - alert: HighErrorRatio
    expr: sum(app_requests_total{status="500"}) > 0
    annotations: {summary: "errors seen"}
"""
LATENCIES = np.random.default_rng(7).lognormal(mean=math.log(0.08), sigma=0.7, size=500)


@pytest.fixture(scope="module")
def live():
    """One exporter with 500 observed latencies and a Prometheus scraping it every second (first scrape ≈ 6 s)."""
    exporter = Exporter()
    for v in LATENCIES:
        exporter.latency.observe(v)
    exporter.requests.labels("200").inc(100)
    exporter.requests.labels("500").inc(10)
    prom = PrometheusServer([exporter.target()], rules=RULES).start()
    try:
        prom.wait_for("app_latency_seconds_count", min_value=len(LATENCIES))
        yield exporter, prom
    finally:
        prom.stop()
        exporter.stop()


def prometheus_quantile(q: float, values: np.ndarray) -> float:
    """What histogram_quantile computes from these observations in BUCKETS (linear inside the bucket)."""
    counts = [int((values <= b).sum()) for b in BUCKETS] + [len(values)]
    rank = q * len(values)
    i = next(i for i, c in enumerate(counts) if c >= rank)
    lo, hi = (0.0 if i == 0 else BUCKETS[i - 1]), BUCKETS[i]
    below = 0 if i == 0 else counts[i - 1]
    return lo + (hi - lo) * (rank - below) / (counts[i] - below)


def test_p95_matches_the_observed_latencies_within_bucket_error(live):
    _, prom = live
    src = PrometheusSource(PrometheusConfig(url=prom.url))
    frame = src.instant("histogram_quantile(0.95, sum by (le) (app_latency_seconds_bucket))")
    p95 = frame.iloc[0, 0]
    true_p95 = float(np.quantile(LATENCIES, 0.95))
    bucket = next(i for i, b in enumerate(BUCKETS) if b >= true_p95)
    assert BUCKETS[bucket - 1] <= p95 <= BUCKETS[bucket]
    assert p95 == pytest.approx(prometheus_quantile(0.95, LATENCIES), rel=1e-9)


def test_error_ratio_and_request_rate_come_from_what_was_counted(live):
    exporter, prom = live
    exporter.requests.labels("200").inc(90)
    exporter.requests.labels("500").inc(10)
    prom.wait_for("sum(app_requests_total)", min_value=210)
    cfg = Config(prometheus=PrometheusConfig(url=prom.url), range_seconds=60)
    ratio = 'sum(app_requests_total{status="500"}) / sum(app_requests_total)'
    with Dashboard(cfg, points=61) as dash:
        dash.specs = [
            PanelSpec("error ratio", "performance", (Query(ratio),), unit="ratio", warn=0.05, crit=0.2),
            PanelSpec("requests/s", "performance", (Query("sum(rate(app_requests_total[1m]))"),), unit="req/s"),
            PanelSpec("errors total", "exceptions", (Query("app_requests_total", "{{status}}"),)),
        ]
        err, rps, totals = dash.snapshot().panels
    assert err.value == pytest.approx(20 / 210, rel=1e-12) and err.state == "warn"
    assert rps.value > 0 and rps.state == "ok"
    assert sorted(totals.frame.columns) == ["200", "500"]
    assert totals.frame["500"].dropna().iloc[-1] == 20.0


def test_firing_alerts_feed_the_exceptions_group(live):
    _, prom = live
    prom.wait_for('ALERTS{alertname="HighErrorRatio", alertstate="firing"}')
    with Dashboard(Config(prometheus=PrometheusConfig(url=prom.url))) as dash:
        snap = dash.snapshot(groups=["exceptions"])
    (panel,) = snap.panels
    assert (panel.spec.title, panel.value, panel.state) == ("firing alerts", 1.0, "warn")
    assert [(a.name, a.state, a.annotations["summary"]) for a in snap.alerts] == [("HighErrorRatio", "firing", "errors seen")]


def test_build_info_and_notebook_query(live):
    _, prom = live
    src = PrometheusSource(PrometheusConfig(url=prom.url))
    assert src.buildinfo()["version"].startswith("2.")
    assert "app_latency_seconds_bucket" in src.metric_names('{job="app"}')
    with Dashboard(Config(prometheus=PrometheusConfig(url=prom.url), range_seconds=120)) as dash:
        frame = dash.query("app_latency_seconds_count")
    assert str(frame.index.tz) == "UTC" and frame.iloc[-1, 0] == len(LATENCIES)


def test_a_panels_queries_travel_as_one_request_and_come_back_apart(live):
    _, prom = live
    src = PrometheusSource(PrometheusConfig(url=prom.url))
    now = float(math.ceil(time.time()))
    queries = [("sum by (status) (app_requests_total)", "{{status}}"), ("vector(3)", "three")]
    joined = src.range_many(queries, now - 60, now, 15)
    alone = [src.range(q, now - 60, now, 15, legend) for q, legend in queries]
    for got, want in zip(joined, alone, strict=True):
        assert list(got.columns) == list(want.columns)
        assert np.allclose(got.to_numpy(dtype=float), want.to_numpy(dtype=float), equal_nan=True)
    assert sorted(joined[0].columns) == ["200", "500"] and list(joined[1].columns) == ["three"]
    src.close()


def test_one_bad_query_among_joined_ones_gets_prometheus_own_text_and_the_rest_still_answer(live):
    _, prom = live
    src = PrometheusSource(PrometheusConfig(url=prom.url))
    good, bad = src.range_many([("vector(1)", "one"), ("sum(up", "")], 0, 60, 15)
    assert list(good.columns) == ["one"]
    assert isinstance(bad, QueryError) and re.search(r"HTTP 400 bad_data: 1:\d+: parse error", str(bad))
    assert "label_replace" not in str(bad)  # the user's query, not the joined one
    sent = []
    real = src._range_call
    src._range_call = lambda promql, *a: sent.append(promql) or real(promql, *a)
    queries = [("vector(1)", "one"), ("sum(up", ""), ("vector(2)", "two")]
    good, bad, two = src.range_many(queries, 0, 60, 15)
    assert list(good.columns) == ["one"] and list(two.columns) == ["two"] and isinstance(bad, QueryError)
    assert sent[0] == "sum(up" and len(sent) == 2  # the refused query alone, the others still joined: not 1 + 3
    src.close()


STARTER = """
import json, os, sys, time
from mdash.demo.prometheus import PrometheusServer
p = PrometheusServer([]).start()
if sys.argv[1] == "fork" and os.fork() == 0:  # a forked child keeps the reaper's pipe open after we die
    time.sleep(60)
    os._exit(0)
print(json.dumps({"pids": [p.proc.pid], "folder": p._tmp.name}), flush=True)
time.sleep(600)
"""


@needs_prometheus
@pytest.mark.parametrize("fork", ["alone", "fork"])
def test_prometheus_is_stopped_and_its_folder_removed_when_its_starter_is_killed(fork):
    """SIGKILL runs no `finally`: the reaper (watching a pipe from the starter, and the starter) stops Prometheus."""
    with killable_starter(STARTER, fork) as (starter, got):
        prometheus, folder = psutil.Process(got["pids"][0]), got["folder"]
        assert prometheus.is_running() and Path(folder, "prometheus.yml").exists()
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait(10)
        prometheus.wait(15)  # raises TimeoutExpired if nothing stops it
        deadline = time.monotonic() + 5
        while Path(folder).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(folder).exists(), "the reaper left the tsdb folder behind"


@needs_prometheus
def test_a_normal_stop_leaves_no_reaper_behind():
    server = PrometheusServer([]).start()
    reaper = psutil.Process(server._reaper.pid)
    assert "reaper.py" in " ".join(reaper.cmdline())
    server.stop()
    assert not reaper.is_running()
