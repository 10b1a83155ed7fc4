"""Dashboard.snapshot against a real Prometheus (constant PromQL needs no scrape, so the server is ready in ~0.1 s)."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import needs_prometheus

from mdash.config import Config, ModelConfig, PrometheusConfig
from mdash.dashboard import NEEDS_PROMETHEUS, Dashboard
from mdash.panels import PanelSpec, Query
from mdash.sources.prometheus import MAX_POINTS

pytestmark = [needs_prometheus, pytest.mark.prometheus]


def spec(title: str, promql: str, group: str = "performance", model: str = "", **kw) -> PanelSpec:
    return PanelSpec(title, group, (Query(promql),), model=model, **kw)


@pytest.fixture
def prom(prometheus_factory):
    return prometheus_factory([])


def dashboard(url: str, specs: list[PanelSpec], **kw) -> Dashboard:
    dash = Dashboard(Config(prometheus=PrometheusConfig(url=url, timeout=2)), **kw)
    dash.specs = specs
    return dash


def test_latest_value_is_judged_against_thresholds_in_the_right_direction(prom):
    with dashboard(prom.url, [
        spec("ok", "vector(0.1)", warn=0.2, crit=0.5),
        spec("warn", "vector(0.3)", warn=0.2, crit=0.5),
        spec("crit", "vector(0.6)", warn=0.2, crit=0.5),
        spec("accuracy", "vector(0.85)", warn=0.9, crit=0.8, better="higher"),
        spec("no traffic", "vector(0) / 0"),
    ]) as dash:
        snap = dash.snapshot()
    assert [(p.spec.title, p.state) for p in snap.panels] == [
        ("ok", "ok"), ("warn", "warn"), ("crit", "crit"), ("accuracy", "warn"), ("no traffic", "nodata"),
    ]
    assert snap.panels[2].value == 0.6 and snap.panels[4].value is None
    assert snap.source == prom.url and snap.reachable


def test_bad_promql_fails_its_panel_only_with_prometheus_text(prom):
    with dashboard(prom.url, [spec("good", "vector(1)"), spec("bad", "sum(rate(up[1m])")]) as dash:
        good, bad = dash.snapshot().panels
    assert (good.state, good.value) == ("ok", 1.0)
    assert bad.state == "error" and bad.error == "HTTP 400 bad_data: 1:17: parse error: unclosed left parenthesis"


def test_failed_panel_keeps_its_last_good_frame_as_stale_and_ages(prom):
    now = [time.time()]
    dash = dashboard(prom.url, [spec("one", "vector(1)")], clock=lambda: now[0])
    with dash:
        (first,) = dash.snapshot().panels
        assert first.state == "ok" and first.age < 2
        prom.stop()
        now[0] += 60
        snap = dash.snapshot()
        (stale,) = snap.panels
        assert stale.state == "stale" and stale.value == 1.0
        assert stale.frame.equals(first.frame) and stale.age >= 59
        assert "cannot reach Prometheus" in stale.error
        assert not snap.reachable and snap.errors == [stale.error]
        now[0] += 60
        assert dash.snapshot().panels[0].age >= 119


def test_a_spike_on_the_latest_point_is_flagged_as_an_anomaly(prom):
    now = time.time()
    end = math.ceil(now)
    promql = f"1 + 100 * (time() >= bool {end - 2})"  # flat history, then a jump on the newest step
    with dashboard(prom.url, [spec("spiky", promql), spec("flat", "vector(1)")], clock=lambda: now, points=60) as dash:
        dash.range_seconds = 300
        spiky, flat = dash.snapshot().panels
    assert spiky.value == 101 and spiky.anomaly and "departs from a constant 1" in spiky.anomaly_reason
    assert not flat.anomaly and flat.anomaly_reason == ""


def test_snapshot_fetches_only_the_asked_models_groups_and_keys(prom):
    specs = [
        spec("a perf", "vector(1)", model="a"),
        spec("a res", "vector(2)", "resources", model="a"),
        spec("b perf", "vector(3)", model="b"),
        spec("shared", "vector(4)", "exceptions"),
    ]
    with dashboard(prom.url, specs) as dash:
        assert [p.spec.title for p in dash.snapshot(models=["a"]).panels] == ["a perf", "a res", "shared"]
        assert [p.spec.title for p in dash.snapshot(groups=["resources", "exceptions"]).panels] == ["a res", "shared"]
        assert [p.value for p in dash.snapshot(keys={"b/performance/b perf"}).panels] == [3.0]


def test_points_are_capped_at_prometheus_limit(prom):
    with dashboard(prom.url, [spec("one", "vector(1)")], points=50_000) as dash:
        dash.range_seconds = 86400
        (panel,) = dash.snapshot().panels
    assert panel.state == "ok" and MAX_POINTS - 2 <= len(panel.frame) <= MAX_POINTS


def test_snapshots_from_several_threads_at_once_all_complete(prom):
    dash = dashboard(prom.url, [spec(f"p{i}", f"vector({i})") for i in range(6)], max_workers=4)
    with dash, ThreadPoolExecutor(4) as pool:
        snaps = list(pool.map(lambda _: dash.snapshot(), range(8)))
    assert all([p.value for p in s.panels] == [float(i) for i in range(6)] for s in snaps)


def test_direct_mode_marks_custom_promql_as_needing_prometheus():
    cfg = Config(models=[ModelConfig("m")], panels=[spec("custom", "up")])
    with Dashboard(cfg) as dash:
        (panel,) = [p for p in dash.snapshot().panels if p.spec.title == "custom"]
    assert dash.source == "direct" and (panel.state, panel.error) == ("nodata", NEEDS_PROMETHEUS)
