"""Direct mode agrees with a real Prometheus scraping the same exporter (the demo server).

Two checks on one run: (1) fed the very samples Prometheus stored, the direct engine reproduces Prometheus' rate
and histogram_quantile to 1e-9 (same semantics); (2) scraping independently, mdash's Scraper and Prometheus agree
on the request rate within 20 % and on p95 within 25 % (they sample the counters at different instants).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections import defaultdict

import pytest
from conftest import needs_prometheus

from mdash.demo.prometheus import ScrapeTarget
from mdash.demo.stack import DemoStack
from mdash.expr import Agg, Quantile, parse_selector, rate
from mdash.sources.scrape import Scraper

WINDOW = 10.0
SCOPE = parse_selector('job="demo"')
REQUEST_RATE = Agg("sum", rate("mdash_demo_requests_total", WINDOW)).scoped(SCOPE)
P95 = Quantile(0.95, Agg("sum", rate("mdash_demo_request_duration_seconds_bucket", WINDOW), by=("le",))).scoped(SCOPE)


def instant(prom_url: str, promql: str, at: float) -> list:
    q = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
    with urllib.request.urlopen(f"{prom_url}/api/v1/query?{q}", timeout=5) as r:
        return json.load(r)["data"]["result"]


def value(result: list) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def pages_from_prometheus(prom_url: str, at: float) -> list[tuple[float, str]]:
    """The raw samples Prometheus stored for the demo job, regrouped into one exposition page per scrape."""
    by_time: dict[float, list[str]] = defaultdict(list)
    for metric in ("mdash_demo_requests_total", "mdash_demo_request_duration_seconds_bucket"):
        for series in instant(prom_url, f'{metric}{{job="demo"}}[60s]', at):
            labels = ",".join(f'{k}="{v}"' for k, v in series["metric"].items() if k != "__name__")
            for ts, val in series["values"]:
                by_time[float(ts)].append(f"{metric}{{{labels}}} {val}")
    return [(ts, "\n".join(lines) + "\n") for ts, lines in sorted(by_time.items())]


@needs_prometheus
def test_direct_engine_matches_prometheus_on_the_same_exporter(prometheus_factory):
    with DemoStack(prometheus=False, canary_latency_ms=20, traffic_rps=60) as demo:
        port = demo.ports["canary"]
        prom = prometheus_factory([ScrapeTarget("demo", f"127.0.0.1:{port}")], interval="1s")
        scraper = Scraper(f"{demo.canary_url}/metrics")
        try:
            deadline = time.monotonic() + 40
            first_prom = None
            while time.monotonic() < deadline:
                scraper.scrape()
                if first_prom is None and instant(prom.url, 'up{job="demo"} == 1', time.time()):
                    first_prom = time.time()
                if first_prom is not None and time.time() - first_prom > WINDOW + 2:
                    break
                time.sleep(1.0)  # scrape at Prometheus' interval
            assert first_prom is not None, "Prometheus never scraped the demo server"
            at = time.time()

            prom_rate = value(instant(prom.url, REQUEST_RATE.promql(), at))
            prom_p95 = value(instant(prom.url, P95.promql(), at))

            replay = Scraper("replay")
            for ts, text in pages_from_prometheus(prom.url, at):
                replay.ingest(text, ts)
            assert replay.evaluate(REQUEST_RATE, at, at, 1).iloc[-1, 0] == pytest.approx(prom_rate, rel=1e-9)
            assert replay.evaluate(P95, at, at, 1).iloc[-1, 0] == pytest.approx(prom_p95, rel=1e-9)

            ours_rate = scraper.evaluate(REQUEST_RATE, at, at, 1).iloc[-1, 0]
            ours_p95 = scraper.evaluate(P95, at, at, 1).iloc[-1, 0]
            assert ours_rate == pytest.approx(prom_rate, rel=0.20)
            assert ours_p95 == pytest.approx(prom_p95, rel=0.25)
            assert 0.02 < prom_p95 < 0.2  # the injected ~20 ms median latency is what both see
        finally:
            scraper.close()
