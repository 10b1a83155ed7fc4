"""Faults injected into the demo canary at run time show in the right preset panels within two refreshes."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

from conftest import needs_prometheus

from mdash.config import ModelConfig
from mdash.demo.stack import DemoStack
from mdash.presets import default_panels
from mdash.sources.scrape import Scraper

REFRESH = 2.0


def latest(scraper: Scraper, model: ModelConfig, title: str) -> float:
    spec = next(s for s in default_panels(model, "mdash-demo") if s.title == title)
    now = scraper.clock()
    frame = scraper.evaluate(spec.queries[0].expr, now, now, 1.0)
    return float(frame.iloc[-1, 0]) if not frame.empty else float("nan")


def test_canary_latency_and_errors_show_in_direct_mode_within_two_refreshes():
    with DemoStack(prometheus=False, traffic_rps=40) as demo:
        models = {m.version: m for m in demo.config().models}
        scrapers = {v: Scraper(m.metrics) for v, m in models.items()}
        try:
            for s in scrapers.values():
                s.scrape()
            demo.set_faults("canary", latency_ms=150, latency_jitter=0, errors=0.3)
            for _ in range(2):  # two dashboard refreshes
                time.sleep(REFRESH)
                for s in scrapers.values():
                    s.scrape()
            p95 = {v: latest(scrapers[v], models[v], "latency") for v in models}
            errors = {v: latest(scrapers[v], models[v], "error ratio") for v in models}
        finally:
            for s in scrapers.values():
                s.close()
    assert p95["canary"] > 0.1 > p95["stable"], p95
    assert errors["canary"] > 0.1 and errors["stable"] == 0.0, errors


@needs_prometheus
def test_stack_prometheus_has_data_within_15_s_and_shows_canary_faults_within_two_refreshes():
    with DemoStack(prometheus=True, traffic_rps=40) as demo:
        assert demo.config().prometheus.url == demo.prometheus_url
        assert demo.wait_for_data(15)  # both models have latency data in Prometheus
        demo.set_faults("canary", latency_ms=150, latency_jitter=0, errors=0.3)
        time.sleep(2 * REFRESH)  # two dashboard refreshes
        at = time.time()
        got = {}
        for m in demo.config().models:
            specs = {s.title: s for s in default_panels(m, "mdash-demo")}
            for title in ("latency", "error ratio"):
                query = urllib.parse.urlencode({"query": specs[title].queries[0].promql, "time": f"{at:.3f}"})
                with urllib.request.urlopen(f"{demo.prometheus_url}/api/v1/query?{query}", timeout=5) as r:
                    got[m.version, title] = float(json.load(r)["data"]["result"][0]["value"][1])
    assert got["canary", "latency"] > 0.1 > got["stable", "latency"], got
    assert got["canary", "error ratio"] > 0.05 and got["stable", "error ratio"] == 0.0, got


@needs_prometheus
def test_demo_prometheus_fires_an_alert_for_canary_errors_only_and_the_dashboard_shows_it():
    from mdash.dashboard import Dashboard

    with DemoStack(prometheus=True, traffic_rps=40, canary_errors=0.3) as demo:
        demo.prometheus.wait_for('ALERTS{alertname="ModelErrorRatioHigh",alertstate="firing"}', timeout=45)
        with Dashboard(demo.config()) as dash:
            snap = dash.snapshot(groups=["exceptions"])
    firing = [a for a in snap.alerts if a.state == "firing"]
    assert {a.labels["job"] for a in firing if a.name == "ModelErrorRatioHigh"} == {"iris-canary"}
    panel = next(p for p in snap.panels if p.spec.title == "firing alerts")
    assert panel.value >= 1 and panel.state == "warn"
