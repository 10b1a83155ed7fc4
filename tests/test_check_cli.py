"""`mdash check` tells the truth about Prometheus, endpoints and panel queries, and exits non-zero on any failure."""

from __future__ import annotations

import pytest
from conftest import needs_prometheus

from mdash.cli import main
from mdash.demo.prometheus import free_port
from mdash.demo.stack import DemoStack


def write(tmp_path, text: str) -> str:
    path = tmp_path / "mdash.toml"
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def demo():
    """The real demo model server pair (no Prometheus, no traffic): real V2 health and metadata routes."""
    with DemoStack(prometheus=False, traffic=False) as stack:
        yield stack


@needs_prometheus
def test_all_good_reports_version_endpoint_and_each_query(tmp_path, capsys, prometheus_factory, demo):
    prom = prometheus_factory([])
    path = write(tmp_path, f"""
[prometheus]
url = "{prom.url}"
[[models]]
name = "iris"
endpoint = "{demo.stable_url}"
preset = "mdash-demo"
[[panels]]
title = "one"
query = "vector(1)"
""")
    assert main(["check", "--config", path]) == 0
    out = capsys.readouterr().out
    assert "ok    prometheus" in out and "version 2." in out
    assert f"ok    endpoint    iris {demo.stable_url}: ready" in out
    assert "ok    query       /performance/one: accepted" in out
    assert out.rstrip().endswith("all checks passed")


@needs_prometheus
def test_rejected_query_fails_the_check_with_prometheus_text(tmp_path, capsys, prometheus_factory):
    prom = prometheus_factory([])
    path = write(tmp_path, f'[prometheus]\nurl = "{prom.url}"\n[[panels]]\ntitle = "bad"\nquery = "rate(up)"\n')
    assert main(["check", "--config", path]) == 1
    out = capsys.readouterr().out
    assert "FAIL  query       /performance/bad: HTTP 400 bad_data" in out and "1 problem(s)" in out


def test_unreachable_prometheus_and_endpoint_fail(capsys):
    down = f"http://127.0.0.1:{free_port()}"
    assert main(["check", "--prometheus", down, "--endpoint", down, "--model", "iris"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  prometheus  cannot reach Prometheus at {down}" in out
    assert f"FAIL  endpoint    iris {down}: down" in out


def test_nothing_to_check_is_a_config_error(capsys):
    assert main(["check"]) == 2
    assert "nothing to check" in capsys.readouterr().err


def test_auto_preset_with_nothing_to_read_fails_instead_of_guessing(capsys):
    down = f"http://127.0.0.1:{free_port()}"
    assert main(["check", "--metrics", f"{down}/metrics", "--endpoint", down]) == 1
    out = capsys.readouterr().out
    assert "FAIL  preset" in out and "cannot detect the server" in out


def test_auto_preset_detected_from_a_real_scrape_is_reported(capsys, demo):
    assert main(["check", "--endpoint", demo.stable_url, "--metrics", f"{demo.stable_url}/metrics"]) == 0
    out = capsys.readouterr().out
    assert "ok    preset" in out and "mdash-demo (detected)" in out
