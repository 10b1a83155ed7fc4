"""The notebook's canary form and rollback button, against the real demo model pair and a real webhook receiver."""

from __future__ import annotations

import json

import pytest

from mdash.actions import RollbackSettings, read_audit
from mdash.actions.receiver import Receiver
from mdash.demo.stack import DemoStack
from mdash.notebook.actions import CanaryForm, RollbackPanel

MODEL = "iris-canary"


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def audit_log(tmp_path):
    return str(tmp_path / "audit.jsonl")


def panel(receiver: Receiver, audit_log: str, **kw) -> RollbackPanel:
    p = RollbackPanel(MODEL, settings=RollbackSettings(url=receiver.url), audit_log=audit_log, to_version="stable", **kw)
    p.reason.value = "p99 doubled after the deploy"
    return p


async def test_rollback_sends_nothing_until_the_model_name_is_typed(receiver, audit_log):
    p = panel(receiver, audit_log)
    p.ask()
    assert receiver.url in p.plan.value and p.confirm_row.layout.display == "flex"
    assert p.confirm_button.disabled
    p.confirm_text.value = "iris-stable"  # the wrong model
    assert p.confirm_button.disabled
    assert await p.confirm() is None
    assert "exactly" in p.outcome.value and receiver.requests == []
    p.confirm_text.value = MODEL
    assert not p.confirm_button.disabled
    outcome = await p.confirm()
    assert outcome.delivered and outcome.status == 200
    (request,) = receiver.requests
    body = json.loads(request["body"])
    assert body["model"] == MODEL and body["reason"] == "p99 doubled after the deploy"
    assert outcome.event_id in p.outcome.value and p.confirm_row.layout.display == "none"
    kinds = [e["kind"] for e in read_audit(audit_log)]
    assert "rollback" in kinds and kinds[-1] == "rollback_result"


async def test_readonly_rollback_is_refused_and_says_why(receiver, audit_log):
    p = panel(receiver, audit_log, readonly=True)
    p.ask()
    p.confirm_text.value = MODEL
    assert await p.confirm() is None
    assert "readonly" in p.outcome.value and receiver.requests == []


def test_rollback_without_a_webhook_says_how_to_configure_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no mdash.toml here
    p = RollbackPanel(MODEL)
    p.ask()
    assert "no rollback webhook configured" in p.outcome.value and p.confirm_row.layout.display == "none"


def test_cancel_hides_the_confirmation_and_sends_nothing(receiver, audit_log):
    p = panel(receiver, audit_log)
    p.ask()
    p.abort_button.click()
    assert p.confirm_row.layout.display == "none" and "nothing was sent" in p.outcome.value
    assert receiver.requests == []


async def test_canary_form_reports_progress_and_shows_the_report(tmp_path):
    with DemoStack(prometheus=False, traffic=False, canary_latency_ms=15) as demo:
        form = CanaryForm(endpoint=demo.canary_url, baseline=demo.stable_url, model=demo.model_name, requests=120,
                          concurrency=4, warmup=5, audit_log=str(tmp_path / "audit.jsonl"))
        seen: list[int] = []
        form.bar.observe(lambda change: seen.append(change["new"]), "value")
        report = await form.run()
    assert report is form.report and report.verdict == "fail"  # 15 ms slower than the baseline
    assert form.bar.value == form.bar.max == 240 and len(set(seen)) > 2  # it moved while running
    assert form.bar.bar_style == "danger" and "verdict: fail" in form.status.value
    assert len(form.output.outputs) == 1 and "text/html" in form.output.outputs[0]["data"]
    assert not form.run_button.disabled and form.cancel_button.disabled


async def test_canary_form_shows_a_bad_endpoint_as_one_message():
    form = CanaryForm(endpoint="not a url", requests=10)
    assert await form.run() is None
    assert "--endpoint" in form.status.value and form.bar.bar_style == "danger"
