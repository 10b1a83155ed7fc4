"""Dashboard.snapshot() of 18 panels / 30 queries against a local real Prometheus vs the same queries one by one.

    python bench/snapshot.py [--quick]

A prometheus_client exporter in this process serves three models' latency histograms, request counters and
process metrics while a background thread feeds them; a real Prometheus scrapes it every second. Both sides
ask the same range queries (15 min, 300 points) through the same client; the peer runs them sequentially.
Goals: median snapshot <= 80 ms, and <= 0.5 of the one-by-one time.
"""

from __future__ import annotations

import random
import statistics
import sys
import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, start_http_server

from mdash.config import Config, PrometheusConfig
from mdash.dashboard import Dashboard
from mdash.demo.prometheus import PrometheusServer, ScrapeTarget, free_port
from mdash.panels import PanelSpec, Query
from mdash.sources.prometheus import PrometheusSource, step_for

MODELS = ("m0", "m1", "m2")
QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)


def panels() -> list[PanelSpec]:
    """Six panels per model, 30 queries in all: the default-panel shape of a busy model server."""
    out = []
    for m in MODELS:
        sel = f'model="{m}"'
        out += [
            PanelSpec("latency", "performance", tuple(
                Query(f"histogram_quantile({q}, sum by (le) (rate(lat_seconds_bucket{{{sel}}}[1m])))", f"p{q * 100:g}")
                for q in QUANTILES), unit="s", model=m),
            PanelSpec("requests/s", "performance", (Query(f"sum(rate(req_total{{{sel}}}[1m]))"),), model=m),
            PanelSpec("error ratio", "performance", (Query(
                f'sum(rate(req_total{{{sel},status="500"}}[1m])) / sum(rate(req_total{{{sel}}}[1m]))'),),
                unit="ratio", model=m),
            PanelSpec("errors by status", "exceptions", (Query(f"sum by (status) (rate(req_total{{{sel}}}[1m]))", "{{status}}"),), model=m),
            PanelSpec("process CPU", "resources", (Query("rate(process_cpu_seconds_total[1m])"),), model=m),
            PanelSpec("process RSS", "resources", (Query("process_resident_memory_bytes"),), unit="bytes", model=m),
        ]
    return out


def feed(stop: threading.Event, lat: Histogram, req: Counter) -> None:
    rng = random.Random(0)
    while not stop.wait(0.01):
        for m in MODELS:
            lat.labels(m).observe(rng.lognormvariate(-2.5, 0.6))
            req.labels(m, "500" if rng.random() < 0.02 else "200").inc()


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def run(quick: bool = False) -> list[dict]:
    registry = CollectorRegistry()
    lat = Histogram("lat_seconds", "latency", ["model"], registry=registry)
    req = Counter("req", "requests", ["model", "status"], registry=registry)
    ProcessCollector(registry=registry)
    port = free_port()
    httpd, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=(stop, lat, req), daemon=True)
    feeder.start()
    try:
        with PrometheusServer([ScrapeTarget("bench", f"127.0.0.1:{port}")]) as prom:
            prom.wait_for("sum(rate(req_total[1m])) > 0", timeout=60)
            specs = panels()
            queries = [q for s in specs for q in s.queries]
            assert len(specs) >= 12 and len(queries) >= 30
            repeat = 7 if quick else 25
            with Dashboard(Config(prometheus=PrometheusConfig(url=prom.url))) as dash:
                dash.specs = specs
                snap = dash.snapshot()  # warm the connection pool
                assert all(p.state != "error" for p in snap.panels), [p.error for p in snap.panels if p.error]
                ours = timed(dash.snapshot, repeat)
            src = PrometheusSource(PrometheusConfig(url=prom.url))

            def one_by_one() -> None:
                end = float(int(time.time()) + 1)
                step = step_for(900, 300)
                for q in queries:
                    src.range(q.promql, end - 900, end, step, q.legend)

            one_by_one()
            peer = timed(one_by_one, repeat)
            src.close()
    finally:
        stop.set()
        feeder.join(timeout=5)
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    shape = f"{len(specs)} panels / {len(queries)} queries"
    return [
        {"measure": f"snapshot wall time, {shape} (ms)", "mdash": ours, "peer": peer, "ratio": ours / peer,
         "goal": "<= 80 ms", "met": ours <= 80},
        {"measure": f"snapshot vs the same queries one by one, {shape}", "mdash": ours, "peer": peer,
         "ratio": ours / peer, "goal": "ratio <= 0.5", "met": ours / peer <= 0.5},
    ]


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import bench_main  # bench/run.py: the same flags and table for every benchmark

    return bench_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
