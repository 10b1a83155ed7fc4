"""Memory of a canary run: peak RSS growth for 1e5 requests (goal <= +20 MB).

    python bench/canary_memory.py [--quick]

One closed-loop arm (c=32) against the demo model's stable version, after a 2,000-request run has loaded
everything. RSS is sampled every 20 ms during the run and judging; the report stays alive until the end, so
"retained" is what a kept Report costs (samples are ~40 bytes a request). --quick sends 2e4 requests and scales
the growth to 1e5. The peer column is the same measure for a run one tenth the size (growth should scale at most
linearly with the compact sample columns, never with a per-request Python object).
"""

from __future__ import annotations

import sys
import threading
import time

import psutil
from canary_hey import one_body_demo
from run import bench_main

from mdash.canary import canary


def growth(url: str, dataset: str, n: int) -> tuple[float, float]:
    """(peak, retained) RSS growth in MB for one run of n requests."""
    proc = psutil.Process()
    before = proc.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        """Track the peak RSS until the run is done."""
        nonlocal peak
        while not done.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.02)

    watcher = threading.Thread(target=sample)
    watcher.start()
    report = canary(endpoint=url, model="iris", dataset=dataset, requests=n, concurrency=32, audit=False)
    done.set()
    watcher.join()
    retained = proc.memory_info().rss - before
    assert report.arms["canary"]["requests"] == n
    return (max(peak, proc.memory_info().rss) - before) / 2**20, retained / 2**20


def run(quick: bool = False) -> list[dict]:
    """Rows: peak and retained RSS growth for 1e5 requests."""
    n = 20_000 if quick else 100_000
    scale = 100_000 / n
    with one_body_demo() as (demo, dataset):
        growth(demo.stable_url, dataset, 2000)
        small = growth(demo.stable_url, dataset, n // 10)
        big = growth(demo.stable_url, dataset, n)
    label = "1e5 requests" + (" (2e4 scaled x5)" if quick else "")
    return [
        {"measure": f"peak RSS growth MB, {label}", "mdash": big[0] * scale, "peer": small[0] * scale,
         "ratio": None, "goal": "<= 20 MB", "met": big[0] * scale <= 20},
        {"measure": f"retained RSS MB with the report kept, {label}", "mdash": big[1] * scale,
         "peer": small[1] * scale, "ratio": None, "goal": "<= 20 MB", "met": big[1] * scale <= 20},
    ]




if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__))
