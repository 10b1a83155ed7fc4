"""Alert notifications: fire after N crit refreshes, once; resolve once; unknown states change nothing."""

from __future__ import annotations

import json

import pytest

from mdash.actions import Notifier, NotifyRule, parse_notify, read_audit
from mdash.actions.receiver import Receiver
from mdash.actions.settings import Target
from mdash.errors import ConfigError
from mdash.panels import PanelResult, PanelSpec, Query, Snapshot

P99 = PanelSpec("p99 latency", "performance", (Query("x"),), unit="ms", warn=200, crit=500, model="iris")
ERRORS = PanelSpec("error rate", "exceptions", (Query("y"),), unit="%", crit=5, model="iris")


def snap(state: str, *, anomaly: bool = False, value: float = 812.0) -> Snapshot:
    return Snapshot(
        taken_at=0,
        source="direct",
        panels=[
            PanelResult(P99, value=value, state=state),
            PanelResult(ERRORS, value=0.1, state="ok", anomaly=anomaly),
        ],
    )


def bodies(receiver: Receiver) -> list[dict]:
    return [json.loads(r["body"]) for r in receiver.requests]


def test_crit_for_n_refreshes_fires_once_and_resolves_once(tmp_path):
    rules = parse_notify([{"when": "crit", "panel": "p99*", "refreshes": 3}], "t")
    with (
        Receiver() as receiver,
        Notifier(rules, default_target=Target(url=receiver.url), audit_log=tmp_path / "a") as n,
    ):
        fired = [
            n.observe(snap(s))
            for s in ("crit", "crit", "ok", "crit", "crit", "crit", "crit", "crit", "ok", "ok")
        ]
        n.wait()
    assert [len(f) for f in fired] == [0, 0, 0, 0, 0, 1, 0, 0, 1, 0]
    alert, resolved = bodies(receiver)
    assert (alert["type"], alert["model"], alert["panel"], alert["state"]) == (
        "alert",
        "iris",
        "p99 latency",
        "crit",
    )
    assert "in crit for 3 refreshes (value 812 ms)" in alert["reason"]
    assert (resolved["type"], resolved["resolves"]) == ("alert_resolved", alert["event_id"])
    kinds = [r["kind"] for r in read_audit(tmp_path / "a")]
    assert kinds.count("alert") == 2 and kinds.count("alert_result") == 2


def test_error_stale_and_nodata_panels_neither_fire_nor_resolve(tmp_path):
    rules = parse_notify([{"when": "crit", "refreshes": 2}], "t")
    with (
        Receiver() as receiver,
        Notifier(rules, default_target=Target(url=receiver.url), audit_log=tmp_path / "a") as n,
    ):
        sent = [len(n.observe(snap(s))) for s in ("crit", "error", "crit", "stale", "nodata", "ok")]
        n.wait()
    assert sent == [0, 0, 1, 0, 0, 1]
    assert [b["type"] for b in bodies(receiver)] == ["alert", "alert_resolved"]


def test_anomaly_rule_alerts_on_anomalous_panels_only(tmp_path):
    rules = parse_notify([{"when": "anomaly", "model": "iris"}], "t")
    with (
        Receiver() as receiver,
        Notifier(rules, default_target=Target(url=receiver.url), audit_log=tmp_path / "a") as n,
    ):
        n.observe(snap("ok", anomaly=True))
        n.observe(snap("ok", anomaly=True))
        n.observe(snap("ok"))
        n.wait()
    assert [(b["type"], b["panel"]) for b in bodies(receiver)] == [
        ("alert", "error rate"),
        ("alert_resolved", "error rate"),
    ]


def test_canary_fail_alerts_and_the_next_pass_resolves(tmp_path):
    with Receiver() as receiver:
        rules = [NotifyRule(when="canary_fail", target=Target(url=receiver.url, template="slack"))]
        with Notifier(rules, audit_log=tmp_path / "a") as n:
            assert len(n.canary("iris", {"verdict": "fail", "metrics": []})) == 1
            assert n.canary("iris", {"verdict": "inconclusive"}) == []
            assert n.canary("iris", {"verdict": "fail"}) == []
            assert len(n.canary("iris", {"verdict": "pass"})) == 1
            n.wait()
    texts = [b["text"] for b in bodies(receiver)]
    assert texts[0].startswith("mdash canary verdict: model *iris*") and "verdict fail" in texts[0]
    assert texts[1].startswith("mdash alert resolved: model *iris*")


def test_a_rule_with_nowhere_to_send_is_a_config_error():
    with pytest.raises(ConfigError, match="has no url and no \\[rollback\\] url"):
        Notifier(parse_notify([{"when": "crit"}], "t"))


def test_a_send_that_cannot_start_is_audited_not_raised_on_the_refresh(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    target = Target(url="http://127.0.0.1:9/hook", secret_env="NO_SUCH_SECRET")
    with Notifier(
        parse_notify([{"when": "crit"}], "t"), default_target=target, audit_log=tmp_path / "a"
    ) as n:
        n.observe(snap("crit"))
        (outcome,) = n.wait()
    assert not outcome.delivered and "NO_SUCH_SECRET is not set" in outcome.message
    assert read_audit(tmp_path / "a")[-1]["message"] == outcome.message


def test_the_dashboard_feeds_every_snapshot_to_the_notify_rules(tmp_path, monkeypatch):
    import time

    from mdash.actions import parse_rollback
    from mdash.dashboard import Dashboard
    from mdash.demo.stack import DemoStack

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    with Receiver() as receiver, DemoStack(prometheus=False, traffic_rps=40, canary_errors=0.5) as demo:
        config = demo.config()
        config.rollback = parse_rollback({"url": receiver.url}, "t")
        config.notify = parse_notify([{"when": "crit", "panel": "error ratio", "model": "iris-*"}], "t")
        with Dashboard(config) as dash:
            dash.snapshot()
            time.sleep(1.0)  # direct mode: a rate needs a second scrape
            dash.snapshot()
        # closing the dashboard delivered the queued alert
    alerts = [b for b in bodies(receiver) if b["type"] == "alert"]
    assert [(a["model"], a["panel"]) for a in alerts] == [("iris-canary", "error ratio")]
    assert [r["kind"] for r in read_audit(tmp_path / "mdash" / "audit.jsonl")].count("alert_result") == 1
