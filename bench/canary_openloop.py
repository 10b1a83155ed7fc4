"""Open-loop (fixed-rate) canary traffic: achieved rate vs requested, up to 1,000 req/s, beside hey's -q.

    python bench/canary_openloop.py [--quick]

One arm against the demo model's stable version; each rate runs for 5 s (2 s with --quick). The peer is hey
with 10 workers each limited to rate/10 req/s (its own rate limiter, closed loop per worker). Goal: mdash's
achieved rate within 2 % of the requested rate.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mdash.canary import canary
from mdash.demo.stack import DemoStack

BODY = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.9, 3.0, 5.1, 1.8]}]}


def hey_rate(url: str, rate: float, n: int) -> float | None:
    if shutil.which("hey") is None:
        return None
    out = subprocess.run(["hey", "-n", str(n), "-c", "10", "-q", str(rate / 10), "-m", "POST", "-T",
                          "application/json", "-d", json.dumps(BODY), url], capture_output=True, text=True,
                         check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def run(quick: bool = False) -> list[dict]:
    seconds = 2 if quick else 5
    rows = []
    with tempfile.TemporaryDirectory() as tmp, DemoStack(prometheus=False, traffic=False) as demo:
        dataset = Path(tmp) / "one.jsonl"
        dataset.write_text(json.dumps(BODY) + "\n")
        for rate in (100, 500, 1000):
            n = int(rate * seconds)
            report = canary(endpoint=demo.stable_url, model="iris", dataset=str(dataset), requests=n, rate=rate,
                            audit=False, warmup=20)
            got = report.arms["canary"]["throughput_rps"]
            peer = hey_rate(f"{demo.stable_url}/v2/models/iris/infer", rate, n)
            rows.append({"measure": f"achieved req/s at {rate} req/s ({seconds} s)", "mdash": got, "peer": peer,
                         "ratio": got / rate, "goal": "within 2 % of the rate",
                         "met": abs(got / rate - 1) <= 0.02 and not report.warnings})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    from run import table

    print(table(run(parser.parse_args(argv).quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
