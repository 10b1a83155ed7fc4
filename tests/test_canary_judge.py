"""The canary judge on synthetic samples: right metric, right direction, effect margins, guards, determinism."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from mdash.canary import CanarySettings, Report
from mdash.canary.judge import Metric, decide, hodges_lehmann
from mdash.canary.traffic import ArmSamples

CLASSES = [11, 22, 33]  # label hashes of three answers


def arm(latency_ms, errors=0.0, wrong=0.0, seed=0, payloads=50) -> ArmSamples:
    """An arm of len(latency_ms) requests: HTTP 500 on a fraction, wrong answers on another."""
    rng = np.random.default_rng(seed)
    n = len(latency_ms)
    s = ArmSamples(elapsed_s=1.0)
    payload = np.arange(n) % payloads
    status = np.where(rng.random(n) < errors, 500, 200)
    label = np.array(CLASSES)[payload % 3]
    flip = rng.random(n) < wrong
    label[flip] = np.array(CLASSES)[(payload[flip] + 1) % 3]
    lat = (np.asarray(latency_ms) * 1000).astype(np.int64)
    s.t_us.extend((np.arange(n) * 2000).tolist())
    s.latency_us.extend(lat.tolist())
    s.raw_us.extend(lat.tolist())
    s.status.extend(status.tolist())
    s.payload.extend(payload.tolist())
    s.label.extend(np.where(status == 200, label, 0).tolist())
    s.value.extend(np.where(status == 200, payload % 3, np.nan).tolist())
    return s


def lognormal(n, median_ms, seed):
    return np.random.default_rng(seed).lognormal(np.log(median_ms), 0.4, n)


def judge(canary, baseline=None, expected=None, **kw) -> Report:
    settings = CanarySettings(endpoint="http://127.0.0.1:1", **kw)
    samples = {"canary": canary, **({"baseline": baseline} if baseline else {})}
    return Report.build(settings, samples, expected, [], 0.0)


def metric(report: Report, name: str) -> Metric:
    return next(m for m in report.metrics if m.name == name)


def failing(report: Report) -> set[str]:
    return {m.name for m in report.metrics if m.verdict in ("high", "low")}


def test_identical_distributions_pass_every_metric():
    rep = judge(arm(lognormal(500, 5, 1), seed=1), arm(lognormal(500, 5, 2), seed=2))
    assert rep.verdict == "pass", rep.summary()
    assert rep.exit_code == 0


def test_thirty_percent_slower_canary_fails_on_latency_only():
    rep = judge(arm(lognormal(500, 6.5, 1), seed=1), arm(lognormal(500, 5, 2), seed=2))
    assert rep.verdict == "fail" and failing(rep) == {"latency"}
    m = metric(rep, "latency")
    assert m.verdict == "high" and 1.0 < m.estimate < 2.0 and m.ci[0] < m.estimate < m.ci[1]
    assert "slower" in m.reason and "beyond the tolerance" in m.reason


def test_a_faster_canary_is_an_improvement_not_a_failure():
    rep = judge(arm(lognormal(500, 3, 1), seed=1), arm(lognormal(500, 5, 2), seed=2))
    assert metric(rep, "latency").verdict == "pass" and "faster" in metric(rep, "latency").reason


def test_a_tiny_but_significant_shift_passes_within_the_tolerance():
    base = lognormal(20_000, 5, 2)
    rep = judge(arm(lognormal(20_000, 5, 1) * 1.04, seed=1), arm(base, seed=2))
    m = metric(rep, "latency")
    assert m.p_value < 1e-6 and m.verdict == "pass"
    assert "within the tolerance" in m.reason


def test_more_errors_fail_on_the_error_rate():
    rep = judge(arm(lognormal(1000, 5, 1), errors=0.05, seed=1), arm(lognormal(1000, 5, 2), seed=2))
    assert "error_rate" in failing(rep) and "latency" not in failing(rep)
    assert "HTTP 500" in metric(rep, "error_rate").reason


def test_wrong_answers_fail_accuracy_against_a_labelled_dataset():
    expected = [CLASSES[i % 3] for i in range(50)]
    rep = judge(arm(lognormal(500, 5, 1), wrong=0.2, seed=1), arm(lognormal(500, 5, 2), seed=2), expected)
    assert {"accuracy", "f1"} <= failing(rep)
    assert rep.arms["baseline"]["quality"]["accuracy"] == 1.0
    assert 0.7 < rep.arms["canary"]["quality"]["accuracy"] < 0.9


def test_too_few_samples_are_inconclusive_never_a_pass():
    rep = judge(arm(lognormal(20, 5, 1), seed=1), arm(lognormal(20, 5, 2), seed=2))
    assert rep.verdict == "inconclusive" and rep.exit_code == 2
    assert metric(rep, "latency").verdict == "nodata" and "need 50" in metric(rep, "latency").reason


def test_without_baseline_only_absolute_limits_are_judged():
    rep = judge(arm(lognormal(300, 5, 1), errors=0.03, seed=1), max_p99_ms=1.0)
    assert {m.name for m in rep.metrics} == {"p99_limit", "error_limit"}
    assert failing(rep) == {"p99_limit", "error_limit"}
    assert "above the 1 ms limit" in metric(rep, "p99_limit").reason


def test_a_min_accuracy_without_labels_is_nodata_and_inconclusive():
    rep = judge(arm(lognormal(300, 5, 1), seed=1), min_accuracy=0.9)
    assert metric(rep, "accuracy_limit").verdict == "nodata" and rep.verdict == "inconclusive"


def test_hodges_lehmann_matches_the_brute_force_median_of_pairwise_differences():
    rng = np.random.default_rng(3)
    c, b = rng.integers(0, 10_000, 41), rng.integers(0, 10_000, 37)
    est, lo, hi = hodges_lehmann(c, b, 0.95)
    diffs = np.sort([x - y for x, y in itertools.product(c, b)])
    assert est == np.median(diffs)
    k = int(np.floor(diffs.size / 2 - 1.959964 * np.sqrt(diffs.size * (41 + 37 + 1) / 12)))
    assert (lo, hi) == (diffs[k - 1], diffs[diffs.size - k])


def test_holm_correction_keeps_a_borderline_p_value_from_failing_among_many():
    ms = [Metric(f"m{i}", "pass", "", p_value=p, margin_exceeded=True) for i, p in
          enumerate([0.02, 0.5, 0.6, 0.7])]
    decide(ms, 0.05)
    assert all(m.verdict == "pass" for m in ms)
    ms[0].p_value = 0.001
    decide(ms, 0.05)
    assert ms[0].verdict == "high"


def test_the_same_samples_and_seed_replay_to_identical_json():
    expected = [CLASSES[i % 3] for i in range(50)]
    rep = judge(arm(lognormal(400, 5, 1), wrong=0.1, errors=0.01, seed=1),
                arm(lognormal(400, 5, 2), seed=2), expected, seed=7)
    text = rep.to_json()
    assert Report.replay(json.loads(text)).to_json() == text
    assert json.loads(text)["schema"] == "mdash.canary/1"


def test_a_report_without_samples_cannot_be_replayed():
    from mdash.errors import DatasetError

    rep = judge(arm(lognormal(100, 5, 1)), arm(lognormal(100, 5, 2)))
    with pytest.raises(DatasetError, match="replay needs a report"):
        Report.replay(rep.to_dict(samples=False))


def test_a_report_recorded_from_the_demo_replays_to_the_saved_document():
    with open("fixtures/canary/report-demo-aa.json") as fh:
        saved = json.load(fh)
    assert Report.replay("fixtures/canary/report-demo-aa.json").to_dict() == saved
    assert saved["verdict"] == "pass" and saved["arms"]["canary"]["requests"] == 1500


@pytest.mark.parametrize(("key", "value"), [("model", float("inf")), ("rate", float("nan")), ("requests", True),
                                            ("endpoint", None), ("alpha", "0.05")])
def test_a_report_whose_settings_have_a_wrong_type_is_refused_naming_the_key(key, value):
    """Found by hypothesis: settings.model = Infinity replayed, then the report could not be written as JSON."""
    from mdash.errors import DatasetError

    with open("fixtures/canary/report-demo-aa.json") as fh:
        doc = json.load(fh)
    doc["settings"][key] = value
    with pytest.raises(DatasetError, match=f"settings.{key} = "):
        Report.replay(doc)
