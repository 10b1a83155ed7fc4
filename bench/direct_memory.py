"""Direct-mode memory per series after 1 h of 1 s scrapes (the hour simulated with an injected clock).

    python bench/direct_memory.py [--quick]

mdash's Scraper keeps one float64 per series per scrape in a shared ring buffer (``max_points``, default 1800).
The peer is the obvious design: a ``deque(maxlen=max_points)`` of ``(timestamp, value)`` tuples per series.
Memory is measured with tracemalloc (Python + numpy allocations).
"""

from __future__ import annotations

import collections
import gc
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parse import page  # noqa: E402 - the parse bench's synthetic page

from mdash.sources.scrape import Scraper, parse  # noqa: E402

MAX_POINTS = 1800


def pages(n: int, samples: int):
    """n scrapes of one page whose counter values grow each second."""
    base = page(samples).replace(".0\n", ".{i}\n")
    for i in range(n):
        yield float(i), base.replace("{i}", str(i % 10))


def measure_scraper(n: int, samples: int) -> tuple[float, int]:
    gc.collect()
    tracemalloc.start()
    scraper = Scraper("http://127.0.0.1:1/metrics", max_points=MAX_POINTS)
    for at, text in pages(n, samples):
        scraper.ingest(text, at)
    scraper.text = ""  # the last page is a transient, not history
    gc.collect()
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return used / scraper.series, scraper.series


def measure_deques(n: int, samples: int) -> float:
    gc.collect()
    tracemalloc.start()
    history: dict = {}
    cache: dict = {}
    for at, text in pages(n, samples):
        for name, labels, value in parse(text, cache).samples:
            d = history.get((name, labels))
            if d is None:
                d = history[(name, labels)] = collections.deque(maxlen=MAX_POINTS)
            d.append((at, value))
    gc.collect()
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return used / len(history)


def run(quick: bool = False) -> list[dict]:
    n, samples = (900, 100) if quick else (3600, 300)
    ours, series = measure_scraper(n, samples)
    peer = measure_deques(n, samples)
    cap = MAX_POINTS * 8
    label = f"bytes/series after {n} scrapes at 1 s ({series} series, max_points={MAX_POINTS})"
    return [{"measure": label, "mdash": ours, "peer": peer, "ratio": ours / peer,
             "goal": f"<= {cap * 1.25:.0f} (cap {cap} + labels)", "met": ours <= cap * 1.25}]


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import bench_main  # bench/run.py: the same flags and table for every benchmark

    return bench_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
