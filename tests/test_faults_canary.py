"""Fault matrix, canary side: the real demo pair behind the FaultProxy flapping, answering 200 with bodies that are
not V2 predictions, and a baseline killed mid-run. Each ends in a verdict whose reasons or warnings name the cause.

(A canary killed mid-run is proven in test_canary_demo.py and test_canary_traffic.py.)"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest
from faultproxy import FaultProxy

from mdash.canary import canary
from mdash.demo.stack import DemoStack

IRIS = "fixtures/canary/iris.jsonl"
FLAP = ("drop", "pass", "503", "pass")


@pytest.fixture(autouse=True)
def audit_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))


@pytest.fixture(scope="module")
def stack():
    with DemoStack(prometheus=False, traffic=False, seed=0) as demo:
        yield demo


@pytest.fixture
def proxy(stack):
    with FaultProxy(stack.canary_url) as p:
        yield p


@pytest.fixture
def unlabelled(tmp_path) -> str:
    """The iris requests without their expected labels, as a user without ground truth would send."""
    path = tmp_path / "requests.jsonl"
    lines = [json.dumps(json.loads(line)["request"]) for line in Path(IRIS).read_text().splitlines()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run(endpoint: str, baseline: str, dataset: str = IRIS, **kw):
    kw.setdefault("latency_tolerance", 100.0)  # the proxy adds a hop to one arm; latency is not judged here
    return canary(endpoint=endpoint, baseline=baseline, model="iris", dataset=dataset, requests=240, rate=200,
                  seed=5, **kw)


def failing(report) -> set[str]:
    return {m.name for m in report.metrics if m.verdict in ("high", "low")}


def test_an_endpoint_flapping_between_drops_503_and_answers_fails_on_errors_with_both_causes(stack, proxy):
    stop, flapping = threading.Event(), threading.Event()

    def flap() -> None:
        i = 0
        while not stop.wait(0.04):
            proxy.mode, i = FLAP[i % len(FLAP)], i + 1

    flapper = threading.Thread(target=flap, daemon=True)

    def start_flapping(progress) -> None:  # after the warm-up, so the run itself starts
        if not flapping.is_set():
            flapping.set()
            flapper.start()

    try:
        report = run(proxy.url, stack.stable_url, progress=start_flapping)
    finally:
        stop.set()
        if flapper.is_alive():
            flapper.join(timeout=5)
    assert report.verdict == "fail" and {"error_rate", "error_limit"} <= failing(report), report.summary()
    reasons = report.arms["canary"]["errors_by_reason"]
    assert reasons.get("HTTP 503", 0) > 0, reasons
    assert any("Disconnect" in k or "reset" in k for k in reasons), reasons  # the dropped connections
    assert "HTTP 503" in report.reason or "HTTP 503" in report.summary()
    assert report.arms["baseline"]["errors"] == 0
    json.loads(report.to_json())  # the report of a flapping run still serialises


def test_200_answers_that_are_not_v2_predictions_fail_on_quality_and_are_named(stack, proxy):
    proxy.mode = "notv2"
    report = run(proxy.url, stack.stable_url)
    assert report.verdict == "fail", report.summary()
    assert {"accuracy", "agreement"} <= failing(report)
    assert report.arms["canary"]["errors"] == 0  # HTTP said fine: only reading the bodies shows the fault
    assert any("240 of the canary's 240 2xx answers could not be read as v2 predictions" in w
               for w in report.warnings), report.warnings


def test_html_200_answers_without_labels_fail_instead_of_passing(stack, proxy, unlabelled):
    proxy.mode = "nonjson"  # e.g. a maintenance page served by a proxy in front of the model
    report = run(proxy.url, stack.stable_url, dataset=unlabelled)
    assert report.verdict == "fail" and "agreement" in failing(report), report.summary()
    agreement = next(m for m in report.metrics if m.name == "agreement")
    assert "canary 0.0 % (0/240)" in agreement.reason
    assert any("could not be read as v2 predictions" in w for w in report.warnings)


def test_a_healthy_canary_through_the_proxy_still_passes(stack, proxy, unlabelled):
    report = run(proxy.url, stack.stable_url, dataset=unlabelled)
    assert report.verdict == "pass", report.summary()
    assert not any("could not be read" in w for w in report.warnings)


def test_a_baseline_killed_mid_run_is_named_in_the_report():
    with DemoStack(prometheus=False, traffic=False, seed=0) as demo:
        def kill(progress) -> None:
            if progress.arm == "baseline" and progress.done >= 40 and demo.pids.get("stable"):
                os.kill(demo.pids.pop("stable"), signal.SIGKILL)

        report = run(demo.canary_url, demo.stable_url, progress=kill)
    assert report.verdict in ("pass", "fail", "inconclusive")
    assert report.arms["baseline"]["errors"] > 100 and report.arms["canary"]["errors"] == 0
    warning = next(w for w in report.warnings if w.startswith("the baseline failed"))
    assert "connection refused" in warning and "the comparison rests on its" in warning
    assert warning in report.summary()
