"""Parse a 10,000-sample /metrics page: mdash's parser vs prometheus_client's (goal <= 50 ms).

    python bench/parse.py [--quick]

The page mixes histograms, counters and gauges with 3-4 labels per series, like a busy model server. "cold" is one
parse with nothing cached; "warm" is a Scraper's repeated scrape of the same page (label sets cached).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mdash.sources.scrape import parse

BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf")


def page(samples: int = 10_000) -> str:
    """A synthetic exposition page with exactly ``samples`` samples."""
    lines: list[str] = []
    n = 0
    series = 0
    while n < samples:
        labels = f'model="model-{series % 50}",version="v{series % 3}",handler="/v2/models/m{series}/infer"'
        lines += ["# HELP req_seconds Request latency.", "# TYPE req_seconds histogram"] if series == 0 else []
        for le in BUCKETS:
            lines.append(f'req_seconds_bucket{{{labels},le="{le}"}} {series * 7 + len(le)}.0')
        lines.append(f"req_seconds_count{{{labels}}} {series * 7 + 9}.0")
        lines.append(f"req_seconds_sum{{{labels}}} {series * 0.37:.6f}")
        lines.append(f'requests_total{{{labels},code="200"}} {series * 11}.0')
        lines.append(f"in_flight{{{labels}}} {series % 5}.0")
        n += len(BUCKETS) + 4
        series += 1
    return "\n".join(lines[: samples + 2]) + "\n"


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def run(quick: bool = False) -> list[dict]:
    text = page()
    repeat = 3 if quick else 9
    assert len(parse(text).samples) == 10_000
    ours = timed(lambda: parse(text), repeat)
    cache: dict = {}
    parse(text, cache)
    warm = timed(lambda: parse(text, cache), repeat)
    peer = timed(lambda: [s for f in text_string_to_metric_families(text) for s in f.samples], max(3, repeat // 3))
    return [
        {"measure": "parse 10k-sample page, cold (ms)", "mdash": ours, "peer": peer, "ratio": ours / peer,
         "goal": "<= 50 ms", "met": ours <= 50},
        {"measure": "parse 10k-sample page, warm scrape (ms)", "mdash": warm, "peer": peer, "ratio": warm / peer,
         "goal": "<= 50 ms", "met": warm <= 50},
    ]


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import bench_main  # bench/run.py: the same flags and table for every benchmark

    return bench_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
