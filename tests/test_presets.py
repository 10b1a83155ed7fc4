"""Presets: detection from one scrape, panels per group, direct-mode evaluation on each server's fixture, and
every generated query accepted by a real Prometheus."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import needs_prometheus

from mdash.config import ModelConfig
from mdash.errors import ConfigError
from mdash.presets import PRESETS, default_panels, detect, metric_names
from mdash.sources.scrape import Scraper, parse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "metrics"
MODEL = ModelConfig("m", selector='job="serving", instance=~".+"')


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text()


@pytest.mark.parametrize("name", list(PRESETS))
def test_detect_recognizes_each_server_from_its_fixture(name):
    assert detect(fixture(name)) == name


def test_detect_falls_back_to_generic_http_and_survives_a_broken_page():
    assert detect("some_unrelated_metric 1\n") == "generic-http"
    assert detect("nv_inference_request_success{model=broken 1\n") == "triton"


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_fixture_documents_its_source_and_holds_every_metric_its_preset_reads(name):
    text = fixture(name)
    assert text.startswith("# ") and ("http" in text.splitlines()[0] or "mdash" in text.splitlines()[0])
    optional = {"revision_request_count"}  # KServe errors exist only behind Knative
    assert metric_names(name) - optional <= parse(text).families()


@pytest.mark.parametrize("name", list(PRESETS))
def test_direct_mode_computes_every_panel_from_two_scrapes_of_the_fixture(name):
    text = fixture(name)
    grown = re.sub(r"(\s)(\d+(?:\.\d+)?(?:e\+\d+)?)$", lambda m: f"{m.group(1)}{float(m.group(2)) * 2}", text, flags=re.M)
    scraper = Scraper("fixture")
    scraper.ingest(text, 1000.0)
    scraper.ingest(grown, 1015.0)
    names = parse(text).families()
    for spec in default_panels(MODEL, name):
        for q in spec.queries:
            if not q.expr.metrics() <= names:
                continue
            frame = scraper.evaluate(q.expr, 1015.0, 1015.0, 1.0)
            assert not frame.empty, f"{name}: {spec.title}: {q.promql}"


def test_default_panels_cover_the_three_groups_scoped_by_the_model_selector():
    specs = default_panels(ModelConfig("iris", selector='job="iris-canary"'), "mdash-demo")
    groups = {s.group for s in specs}
    assert groups == {"performance", "resources", "exceptions"}
    titles = [s.title for s in specs]
    assert {"latency", "requests/s", "error ratio", "accuracy", "recall (macro)", "F1 (macro)"} <= set(titles)
    assert {"errors by code", "errors by reason", "timeouts", "process CPU", "process RSS"} <= set(titles)
    assert all('job="iris-canary"' in q.promql for s in specs for q in s.queries)
    assert all(s.model == "iris" for s in specs)
    latency = next(s for s in specs if s.title == "latency")
    assert [q.legend for q in latency.queries] == ["p95", "p50", "p99"] and latency.unit == "s"


def test_mean_only_and_multiprocess_notes_say_what_is_missing():
    triton = {s.title: s for s in default_panels(MODEL, "triton")}
    assert "mean only" in triton["latency"].note and "/ 1e+06" in triton["latency"].queries[0].promql
    mlserver = {s.title: s for s in default_panels(MODEL, "mlserver")}
    assert "multiprocess" in mlserver["process CPU"].note and "cadvisor" in mlserver["process CPU"].note
    assert "mean only" in mlserver["model latency"].note


def test_presets_combine_with_plus_and_unknown_names_are_refused():
    combined = default_panels(MODEL, "mlserver+node")
    assert {"latency", "CPU busy", "disk I/O"} <= {s.title for s in combined}
    with pytest.raises(ConfigError, match="preset 'tgi' is unknown"):
        default_panels(MODEL, "tgi")
    with pytest.raises(ConfigError, match="selector"):
        default_panels(ModelConfig("x", selector="job=unquoted"), "mdash-demo")


@needs_prometheus
def test_a_real_prometheus_accepts_every_generated_query(prometheus_factory):
    prom = prometheus_factory([])
    failures = []
    for name in PRESETS:
        for spec in default_panels(MODEL, name):
            for q in spec.queries:
                url = f"{prom.url}/api/v1/query?{urllib.parse.urlencode({'query': q.promql})}"
                try:
                    with urllib.request.urlopen(url, timeout=5) as r:
                        assert json.load(r)["status"] == "success"
                except urllib.error.HTTPError as exc:
                    failures.append(f"{name}/{spec.title}: {q.promql} -> {json.load(exc).get('error', '')}")
    assert not failures, "\n".join(failures)


def test_mdash_presets_lists_presets_and_prints_promql_for_one(capsys):
    from mdash.cli import main

    assert main(["presets"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in PRESETS)
    assert main(["presets", "bentoml", "--selector", 'job="bento"']) == 0
    out = capsys.readouterr().out
    assert 'histogram_quantile(0.95, sum by (le) (rate(bentoml_service_request_duration_seconds_bucket{job="bento"}[1m])))' in out
    assert main(["presets", "nope"]) == 2 and "unknown" in capsys.readouterr().err
