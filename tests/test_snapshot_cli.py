"""`mdash snapshot`: the documented JSON (mdash.snapshot/1), CSV and table, and its exit codes 0 / 2 / 3."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import needs_prometheus

from mdash.cli import main
from mdash.demo.prometheus import free_port

PANELS = """
[[panels]]
title = "latency"
query = "vector(0.25)"
unit = "s"
warn = 0.2

[[panels]]
title = "no traffic"
query = "vector(0) / 0"

[[panels]]
title = "broken"
group = "exceptions"
query = "sum(up"
"""


def config(tmp_path, url: str) -> str:
    path = tmp_path / "mdash.toml"
    path.write_text(f'[prometheus]\nurl = "{url}"\ntimeout = 2\n[refresh]\nrange = "5m"\n{PANELS}')
    return str(path)


@needs_prometheus
def test_json_follows_the_documented_schema_and_exits_0_despite_panel_errors(tmp_path, capsys, prometheus_factory):
    prom = prometheus_factory([])
    assert main(["snapshot", "--config", config(tmp_path, prom.url), "--format", "json", "--points", "11"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"schema", "taken_at", "source", "panels"}
    assert doc["schema"] == "mdash.snapshot/1" and doc["source"] == prom.url
    panels = {p["title"]: p for p in doc["panels"]}
    assert set(panels) == {"latency", "no traffic", "broken", "firing alerts"}
    latency = panels["latency"]
    assert set(latency) == {"model", "group", "title", "unit", "state", "value", "series", "error"}
    assert (latency["state"], latency["value"], latency["unit"], latency["error"]) == ("warn", 0.25, "s", None)
    (series,) = latency["series"]
    assert len(series["points"]) == 11 and all(v == 0.25 for _, v in series["points"])
    assert series["points"][-1][0] - series["points"][0][0] == pytest.approx(300, abs=1)
    assert panels["no traffic"]["value"] is None and panels["no traffic"]["series"][0]["points"][0][1] is None
    assert panels["broken"]["state"] == "error" and "bad_data" in panels["broken"]["error"]


@needs_prometheus
def test_csv_and_table_show_every_panel(tmp_path, capsys, prometheus_factory):
    path = config(tmp_path, prometheus_factory([]).url)
    assert main(["snapshot", "--config", path, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["title"], r["state"]) for r in rows[:3]] == [("latency", "warn"), ("no traffic", "nodata"), ("broken", "error")]
    assert rows[0]["value"] == "0.25"
    assert main(["snapshot", "--config", path]) == 0
    table = capsys.readouterr().out
    assert "latency" in table and "250 ms" in table and "bad_data" in table


def test_unreachable_prometheus_exits_3_with_a_message(tmp_path, capsys):
    path = config(tmp_path, f"http://127.0.0.1:{free_port()}")
    assert main(["snapshot", "--config", path, "--format", "json"]) == 3
    out = capsys.readouterr()
    assert "no data source answered: cannot reach Prometheus" in out.err and "Traceback" not in out.err
    assert all(p["state"] == "error" for p in json.loads(out.out)["panels"])


def test_bad_range_flag_exits_2(capsys):
    assert main(["snapshot", "--prometheus", "http://127.0.0.1:1", "--range", "forever"]) == 2
    assert "--range: expected a duration" in capsys.readouterr().err


def test_no_config_snapshots_the_embedded_demo(capsys):
    assert main(["snapshot", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    models = {p["model"] for p in doc["panels"]}
    assert {"iris-stable", "iris-canary"} <= models
    assert any(p["state"] in ("ok", "warn", "crit") for p in doc["panels"] if p["model"] == "iris-canary")


def test_direct_mode_against_a_server_mdash_did_not_configure_detects_the_preset_and_has_rates(capsys):
    from mdash.demo.stack import DemoStack

    with DemoStack(prometheus=False, traffic=True, traffic_rps=30.0) as demo:
        url = demo.stable_url
        assert main(["snapshot", "--endpoint", url, "--metrics", f"{url}/metrics", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["source"] == "direct"
    panels = {p["title"]: p for p in doc["panels"]}
    assert "accuracy" in panels, sorted(panels)  # only the mdash-demo preset has ground-truth panels
    rps = panels["requests/s"]
    assert rps["state"] == "ok" and rps["value"] > 0, rps
