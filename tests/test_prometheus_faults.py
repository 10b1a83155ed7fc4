"""Faults a real Prometheus can't produce on demand, from real sockets or answers recorded from a real Prometheus."""

from __future__ import annotations

import json
import math
import time

import pytest
from promtools import Exporter, Replay, Silent, recorded

from mdash.config import Config, PrometheusConfig
from mdash.dashboard import Dashboard
from mdash.demo.prometheus import free_port
from mdash.errors import QueryError, SourceError
from mdash.panels import PanelSpec, Query
from mdash.render import snapshot_dict
from mdash.sources.prometheus import PrometheusSource


@pytest.fixture
def replay():
    server = Replay()
    yield server
    server.stop()


def source(url: str, timeout: float = 5.0) -> PrometheusSource:
    return PrometheusSource(PrometheusConfig(url=url, timeout=timeout))


def panel(title: str, promql: str, **kw) -> PanelSpec:
    return PanelSpec(title=title, group="performance", queries=(Query(promql),), **kw)


def test_refused_connection_fails_fast_without_retries():
    src = source(f"http://127.0.0.1:{free_port()}")
    started = time.perf_counter()
    with pytest.raises(SourceError, match="cannot reach Prometheus at .*: Connection refused") as err:
        src.range("up", 0, 60, 15)
    assert time.perf_counter() - started < 0.5
    assert not isinstance(err.value, QueryError)


def test_silent_server_times_out_after_the_configured_timeout():
    silent = Silent()
    try:
        src = source(silent.url, timeout=0.3)
        started = time.perf_counter()
        with pytest.raises(QueryError, match=r"no answer from .* within 0.3 s"):
            src.instant("up")
        assert time.perf_counter() - started < 1.5
    finally:
        silent.stop()


@pytest.mark.parametrize("case", ["bad_data", "query_timeout_503"])
def test_prometheus_error_text_is_kept_verbatim(replay, case):
    answer = recorded(case)
    body = json.loads(answer["body"])
    replay.answers[answer["params"]["query"]] = answer
    with pytest.raises(QueryError) as err:
        source(replay.url).range(answer["params"]["query"], 0, 60, 15)
    assert str(err.value) == f"HTTP {answer['status']} {body['errorType']}: {body['error']}"
    assert answer["status"] in (400, 503)


def test_non_json_answer_names_the_status_and_shows_the_body():
    exporter = Exporter()  # a real server that is not a Prometheus API: it answers its metrics page
    try:
        with pytest.raises(QueryError, match=r"HTTP 200, not a Prometheus API answer: '# HELP"):
            source(exporter.url).instant("up")
    finally:
        exporter.stop()


def test_nan_and_inf_values_parse_as_floats_and_become_null_in_json(replay):
    for case in ("instant_nan", "instant_inf"):
        answer = recorded(case)
        replay.answers[answer["params"]["query"]] = answer
    nan_q, inf_q = recorded("instant_nan")["params"]["query"], recorded("instant_inf")["params"]["query"]
    inf = source(replay.url).instant(inf_q, legend="{{sign}}")
    assert list(inf.columns) == ["+", "-"]
    assert inf["+"].iloc[0] == math.inf and inf["-"].iloc[0] == -math.inf
    with Dashboard(Config(prometheus=PrometheusConfig(url=replay.url))) as dash:
        dash.specs = [panel("nan", nan_q), panel("inf", inf_q)]
        snap = dash.snapshot()
    doc = snapshot_dict(snap)
    nan_panel, inf_panel = doc["panels"]
    assert nan_panel["state"] == "nodata" and nan_panel["value"] is None
    assert nan_panel["series"][0]["points"][0][1] is None
    assert inf_panel["value"] is None and all(p[1] is None for s in inf_panel["series"] for p in s["points"])


def test_empty_result_gives_an_empty_frame_and_nodata(replay):
    answer = recorded("range_empty")
    replay.answers[answer["params"]["query"]] = answer
    frame = source(replay.url).range(answer["params"]["query"], 0, 60, 15)
    assert frame.empty and str(frame.index.tz) == "UTC"
    with Dashboard(Config(prometheus=PrometheusConfig(url=replay.url))) as dash:
        dash.specs = [panel("empty", answer["params"]["query"])]
        (result,) = dash.snapshot().panels
    assert (result.state, result.value, result.error) == ("nodata", None, "")


def test_one_failing_query_fails_only_its_panel(replay):
    good, bad, down = recorded("range_two_series"), recorded("bad_data"), recorded("query_timeout_503")
    for answer in (good, bad, down):
        replay.answers[answer["params"]["query"]] = answer
    replay.answers["/api/v1/alerts"] = recorded("alerts")
    with Dashboard(Config(prometheus=PrometheusConfig(url=replay.url))) as dash:
        dash.specs = [
            panel("requests", good["params"]["query"]),
            panel("bad", bad["params"]["query"]),
            panel("slow", down["params"]["query"]),
            *[s for s in dash.specs if s.title == "firing alerts"],
        ]
        snap = dash.snapshot()
    states = {p.spec.title: (p.state, p.error) for p in snap.panels}
    assert states["requests"] == ("ok", "")
    assert states["bad"][0] == "error" and "bad_data" in states["bad"][1]
    assert states["slow"] == ("error", "HTTP 503 timeout: query timed out in query queue")
    assert states["requests"] != states["bad"]
    assert states["firing alerts"][0] == "warn"
    assert [a.name for a in snap.alerts] == ["AlwaysFiring"]
    assert snap.reachable and snap.errors == []
