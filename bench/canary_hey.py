"""Canary traffic engine vs Debian's ``hey`` at concurrency 32 against the same local V2 endpoint.

    python bench/canary_hey.py [--quick]

Both POST the same iris body 4,000 times (2,000 with --quick) to the demo model's stable version, in
back-to-back pairs (5; 2 with --quick) alternating who goes first. Ratios are medians of the per-pair ratios,
since this shared machine's load drifts. Goals: requests/s >= 0.8x hey, p50 within 20 %.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from run import bench_main  # bench/run.py: the same flags and table for every benchmark

from mdash.canary import canary
from mdash.demo.stack import DemoStack

BODY = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.9, 3.0, 5.1, 1.8]}]}
CONCURRENCY = 32


@contextmanager
def one_body_demo() -> Iterator[tuple[DemoStack, str]]:
    """The demo pair without background traffic, and a dataset file holding the one body every client sends."""
    with tempfile.TemporaryDirectory() as tmp, DemoStack(prometheus=False, traffic=False) as demo:
        dataset = Path(tmp) / "one.jsonl"
        dataset.write_text(json.dumps(BODY) + "\n")
        yield demo, dataset


def hey(url: str, n: int) -> tuple[float, float]:
    """(requests/s, p50 ms) from one hey run."""
    out = subprocess.run(["hey", "-n", str(n), "-c", str(CONCURRENCY), "-m", "POST", "-T", "application/json",
                          "-d", json.dumps(BODY), url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000
    return rps, p50


def ours(base: str, n: int, dataset: str) -> tuple[float, float]:
    """(requests/s, p50 ms) from one mdash canary run (canary arm only, closed loop)."""
    report = canary(endpoint=base, model="iris", dataset=dataset, requests=n, concurrency=CONCURRENCY,
                    audit=False, warmup=50)
    arm = report.arms["canary"]
    assert arm["errors"] == 0, arm["errors_by_reason"]
    return arm["throughput_rps"], arm["latency_ms"]["p50"]


def run(quick: bool = False) -> list[dict]:
    """Rows: requests/s and p50 of mdash vs hey."""
    if shutil.which("hey") is None:
        return [{"measure": "canary vs hey", "mdash": "skipped: no hey binary (apt-get install hey)", "met": None}]
    n, repeat = (2000, 2) if quick else (4000, 5)
    with one_body_demo() as (demo, dataset):
        url = f"{demo.stable_url}/v2/models/iris/infer"
        hey(url, 500)  # warm the server
        a, b = [], []
        for i in range(repeat):  # back-to-back pairs, alternating who goes first
            pair = [lambda: a.append(ours(demo.stable_url, n, dataset)), lambda: b.append(hey(url, n))]
            for step in pair[:: 1 if i % 2 == 0 else -1]:
                step()
    rps, p50 = statistics.median(x[0] for x in a), statistics.median(x[1] for x in a)
    hrps, hp50 = statistics.median(x[0] for x in b), statistics.median(x[1] for x in b)
    # ratios per back-to-back pair, then their median: the machine's load drifts between pairs
    rps_ratio = statistics.median(x[0] / y[0] for x, y in zip(a, b, strict=True))
    p50_ratio = statistics.median(x[1] / y[1] for x, y in zip(a, b, strict=True))
    return [
        {"measure": f"requests/s at c={CONCURRENCY} ({n} POSTs)", "mdash": rps, "peer": hrps, "ratio": rps_ratio,
         "goal": ">= 0.8x hey", "met": rps_ratio >= 0.8},
        {"measure": f"p50 latency ms at c={CONCURRENCY}", "mdash": p50, "peer": hp50, "ratio": p50_ratio,
         "goal": "within 20 % of hey", "met": abs(p50_ratio - 1) <= 0.2},
    ]




if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__))
