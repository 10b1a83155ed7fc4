"""Seeded canary runs against the real demo model pair: A/A passes, each injected fault fails its metric."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from mdash.canary import canary
from mdash.cli import main
from mdash.demo.stack import DemoStack

IRIS = "fixtures/canary/iris.jsonl"


@pytest.fixture(autouse=True)
def audit_in_tmp(tmp_path, monkeypatch):
    """Keep the audit log of these runs out of the user's state directory."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))


def demo(**faults) -> DemoStack:
    """A seeded demo pair without background traffic (so the servers' fault draws are reproducible)."""
    return DemoStack(prometheus=False, traffic=False, seed=0, **faults)


def run(stack: DemoStack, requests: int = 300, baseline: str | None = None, **kw):
    """Open loop below saturation: latency then measures the servers, not CPU contention of this machine."""
    kw.setdefault("latency_tolerance", 0.5)  # two processes on two shared cores differ by up to ~20 %
    return canary(endpoint=kw.pop("endpoint", stack.canary_url), baseline=baseline or stack.stable_url,
                  model="iris", dataset=IRIS, requests=requests, rate=requests, seed=3, **kw)


def failing(report) -> set[str]:
    return {m.name for m in report.metrics if m.verdict in ("high", "low")}


@pytest.fixture(scope="module")
def healthy():
    with demo() as stack:
        yield stack


def test_stable_against_itself_passes(healthy):
    report = run(healthy, endpoint=healthy.stable_url, latency_tolerance=0.1)  # the default tolerance
    assert report.verdict == "pass", report.summary()
    assert report.arms["canary"]["quality"]["accuracy"] > 0.95


def test_slower_canary_fails_on_latency():
    with demo(canary_latency_ms=1.0) as stack:
        stack.set_faults("canary", latency_jitter=0)
        report = run(stack, latency_tolerance=0.3)
    lat = report.arms["canary"]["latency_ms"]["p50"] / report.arms["baseline"]["latency_ms"]["p50"]
    assert lat > 1.3, report.summary()
    assert report.verdict == "fail" and failing(report) == {"latency"}, report.summary()


def test_two_points_more_errors_fail_on_the_error_rate():
    with demo(canary_errors=0.02) as stack:
        report = run(stack, requests=500)
    assert report.verdict == "fail", report.summary()
    assert failing(report) <= {"error_rate", "error_limit"} and failing(report), report.summary()
    assert "HTTP 500" in report.arms["canary"]["errors_by_reason"]


def test_twenty_percent_wrong_predictions_fail_on_accuracy():
    with demo(canary_noise=0.45) as stack:
        report = run(stack, requests=450)
    acc = report.arms["baseline"]["quality"]["accuracy"] - report.arms["canary"]["quality"]["accuracy"]
    assert 0.12 < acc < 0.3, report.summary()
    assert "accuracy" in failing(report) and not failing(report) & {"latency", "error_rate"}, report.summary()


def test_a_canary_process_killed_mid_run_fails_with_the_cause():
    def kill(p):
        if p.arm == "canary" and p.done >= 60 and stack.pids.get("canary"):
            os.kill(stack.pids.pop("canary"), signal.SIGKILL)

    with demo() as stack:
        report = run(stack, requests=300, progress=kill)
    assert report.verdict in ("fail", "inconclusive")
    assert report.arms["canary"]["errors"] > 100, report.summary()
    assert "connection refused" in report.summary()


def test_cli_report_replays_to_identical_output(healthy, tmp_path, capsys):
    out = tmp_path / "report.json"
    argv = ["canary", "--endpoint", healthy.stable_url, "--baseline", healthy.stable_url, "--model", "iris",
            "--dataset", IRIS, "--requests", "200", "--rate", "400", "--seed", "9", "--json", "--report", str(out)]
    assert main(argv) == 0
    first = capsys.readouterr().out
    doc = json.loads(first)
    assert doc["schema"] == "mdash.canary/1" and doc["verdict"] == "pass" and "samples" not in doc
    assert set(doc["arms"]["canary"]["latency_ms"]) == {"p50", "p90", "p95", "p99", "p999", "max"}
    assert main(["canary", "replay", str(out), "--json"]) == 0
    assert capsys.readouterr().out == first


def test_cli_names_the_malformed_dataset_line_and_exits_3(healthy, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(Path(IRIS).read_text().splitlines()[0] + "\n{not json\n")
    code = main(["canary", "--endpoint", healthy.canary_url, "--model", "iris", "--dataset", str(bad)])
    assert code == 3
    assert f"{bad}:2: not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["localhost:1", "http://127.0.0.1:9"])
def test_cli_exits_3_when_the_endpoint_is_unusable(url, capsys):
    assert main(["canary", "--endpoint", url, "--model", "iris", "--dataset", IRIS]) == 3
    err = capsys.readouterr().err
    assert err.startswith("mdash: ") and err.count("\n") == 1 and "Traceback" not in err


def test_cli_takes_endpoint_baseline_and_served_name_from_the_config_model(healthy, tmp_path, capsys):
    cfg = tmp_path / "mdash.toml"
    cfg.write_text(f'[[models]]\nname = "iris-canary"\nendpoint = "{healthy.stable_url}"\n'
                   f'baseline = "{healthy.stable_url}"\nserved_name = "iris"\n')
    argv = ["canary", "--config", str(cfg), "--model", "iris-canary", "--dataset", IRIS,
            "--requests", "100", "--rate", "300", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "pass" and set(doc["arms"]) == {"canary", "baseline"}


def test_cli_names_the_models_a_config_has_when_the_model_is_unknown(tmp_path, capsys):
    cfg = tmp_path / "mdash.toml"
    cfg.write_text('[[models]]\nname = "iris"\nendpoint = "http://127.0.0.1:9"\n')
    assert main(["canary", "--config", str(cfg), "--model", "nope"]) == 3
    assert "no [[models]] entry named 'nope' (models: iris)" in capsys.readouterr().err


def test_terminal_progress_is_a_rich_bar_per_arm():
    from mdash.canary import Progress
    from mdash.commands.canary import LiveProgress

    with LiveProgress() as live:
        live(Progress(arm="canary", done=5, total=10, errors=1, rps=50.0, p50_ms=1.5, p99_ms=9.0))
        live(Progress(arm="baseline", done=10, total=10, errors=0, rps=60.0, p50_ms=1.2, p99_ms=None))
        tasks = {t.description: t for t in live.progress.tasks}
    assert (tasks["canary"].completed, tasks["canary"].total) == (5, 10)
    assert "p50 1.50 ms  p99 9.00 ms  errors 1" in tasks["canary"].fields["stats"]
    assert tasks["baseline"].finished and "p99 - ms" in tasks["baseline"].fields["stats"]
