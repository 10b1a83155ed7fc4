"""Canary judge calibration: A/A false-fail rate and detection of a +20 % p50 shift, over seeded runs.

    python bench/canary_calibration.py [--quick]

Simulated, not live: each run resamples (with replacement, seeded) 500 requests per arm from a real recorded
demo run (fixtures/canary/report-demo-aa.json: 2 x 1,500 requests to the demo model at 300 req/s), so it has
the real latency shape, answers and labels. A/A: both arms from the same pool. Detection: the canary's latencies
scaled by 1.2. The peer is the same judge without effect-size margins (significance alone), which is what a
plain per-metric test would do.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from run import bench_main

from mdash.canary import CanarySettings, Report
from mdash.canary.traffic import ArmSamples

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "canary" / "report-demo-aa.json"
PER_ARM = 500


def pool() -> tuple[dict[str, np.ndarray], list[int] | None]:
    """All recorded rows of both arms as columns, and the dataset's expected labels."""
    doc = json.loads(FIXTURE.read_text())
    arms = [ArmSamples.from_dict(doc["samples"][a]).arrays() for a in ("canary", "baseline")]
    return {k: np.concatenate([a[k] for a in arms]) for k in arms[0]}, doc["samples"]["expected"]


def draw(rows: dict[str, np.ndarray], rng: np.random.Generator, scale: float = 1.0) -> ArmSamples:
    """One simulated arm: PER_ARM recorded rows drawn with replacement, latencies scaled."""
    pick = rng.integers(0, rows["status"].size, PER_ARM)
    arm = ArmSamples(elapsed_s=PER_ARM / 300)
    for name in ArmSamples.COLUMNS:
        col = rows[name][pick]
        if name in ("latency_us", "raw_us"):
            col = (col * scale).astype(np.int64)
        if name == "t_us":
            col = np.arange(PER_ARM, dtype=np.int64) * 3333
        getattr(arm, name).extend(col.tolist())
    return arm


def rates(runs: int, settings: CanarySettings) -> tuple[float, float]:
    """(A/A false-fail rate, +20 % detection rate) over ``runs`` seeds."""
    rows, expected = pool()
    false_fail = detected = 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        s = dataclasses.replace(settings, seed=seed)
        aa = Report.build(s, {"canary": draw(rows, rng), "baseline": draw(rows, rng)}, expected, [], 0.0)
        false_fail += aa.verdict == "fail"
        ab = Report.build(s, {"canary": draw(rows, rng, 1.2), "baseline": draw(rows, rng)}, expected, [], 0.0)
        detected += any(m.name == "latency" and m.verdict == "high" for m in ab.metrics)
    return false_fail / runs, detected / runs


def run(quick: bool = False) -> list[dict]:
    """Rows: false-fail and detection rates, with and without effect margins."""
    runs = 30 if quick else 100
    ours = rates(runs, CanarySettings(endpoint="http://127.0.0.1:1"))
    naive = rates(runs, CanarySettings(endpoint="http://127.0.0.1:1", latency_tolerance=0, latency_min_shift_ms=0,
                                       error_tolerance=0, quality_tolerance=0, noise_tolerance=0,
                                       shift_tolerance=0))
    return [
        {"measure": f"A/A false-fail rate ({runs} seeded runs, {PER_ARM}/arm)", "mdash": ours[0], "peer": naive[0],
         "ratio": None, "goal": "<= 0.01", "met": ours[0] <= 0.01},
        {"measure": f"detection of +20 % p50 ({runs} runs, {PER_ARM}/arm)", "mdash": ours[1], "peer": naive[1],
         "ratio": None, "goal": ">= 0.95", "met": ours[1] >= 0.95},
    ]




if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__))
