"""Open-loop (fixed-rate) canary traffic: achieved rate vs requested, up to 1,000 req/s, beside hey's -q.

    python bench/canary_openloop.py [--quick]

One arm against the demo model's stable version; each rate runs for 5 s (2 s with --quick). The peer is hey
with 10 workers each limited to rate/10 req/s (its own rate limiter, closed loop per worker). Goal: mdash's
achieved rate within 2 % of the requested rate.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

from canary_hey import BODY, one_body_demo
from run import bench_main

from mdash.canary import canary


def hey_rate(url: str, rate: float, n: int) -> float | None:
    """hey's achieved req/s with its per-worker rate limit (None without hey)."""
    if shutil.which("hey") is None:
        return None
    out = subprocess.run(["hey", "-n", str(n), "-c", "10", "-q", str(rate / 10), "-m", "POST", "-T",
                          "application/json", "-d", json.dumps(BODY), url], capture_output=True, text=True,
                         check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def run(quick: bool = False) -> list[dict]:
    """Rows: achieved rate at 100, 500 and 1,000 req/s."""
    seconds = 2 if quick else 5
    rows = []
    with one_body_demo() as (demo, dataset):
        for rate in (100, 500, 1000):
            n = int(rate * seconds)
            report = canary(endpoint=demo.stable_url, model="iris", dataset=dataset, requests=n, rate=rate,
                            audit=False, warmup=20)
            got = report.arms["canary"]["throughput_rps"]
            peer = hey_rate(f"{demo.stable_url}/v2/models/iris/infer", rate, n)
            rows.append({"measure": f"achieved req/s at {rate} req/s ({seconds} s)", "mdash": got, "peer": peer,
                         "ratio": got / rate, "goal": "within 2 % of the rate",
                         "met": abs(got / rate - 1) <= 0.02})
    return rows




if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__))
