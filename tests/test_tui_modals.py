"""The canary, rollback and export modals, driven with Pilot: real receiver, real audit log, real demo canary."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Button, Input, ProgressBar
from tui_fakes import T0, FakeDashboard, fake_canary, screen_text, settle

from mdash.actions import RollbackSettings
from mdash.actions.receiver import Receiver
from mdash.tui.app import Actions, MdashApp
from mdash.tui.screens import CanaryScreen, ExportScreen, RollbackScreen

SECRET = "tui-test-secret-1234"


def make_app(actions: Actions, dash: FakeDashboard | None = None, **kw) -> MdashApp:
    return MdashApp(dash or FakeDashboard(), live=False, clock=lambda: T0, actions=actions, **kw)


@pytest.mark.parametrize("submit", ["button", "enter in a field"])
async def test_canary_form_runs_the_engine_with_progress_and_shows_each_metrics_reason(submit):
    fake_canary.calls.clear()
    app = make_app(Actions(canary=fake_canary))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, CanaryScreen)
        assert screen.query_one("#c-endpoint", Input).value == "http://127.0.0.1:8100"  # the canary
        assert screen.query_one("#c-baseline", Input).value == "http://127.0.0.1:8000"  # its stable twin
        screen.query_one("#c-requests", Input).value = "50"
        if submit == "button":
            await pilot.click("#c-run")
        else:
            assert screen.focused is screen.query_one("#c-endpoint", Input)  # the form opens with a field focused
            await pilot.press("enter")
        await settle(pilot)
        assert len(fake_canary.calls) == 1
        call = fake_canary.calls[-1]
        assert call["endpoint"] == "http://127.0.0.1:8100" and call["requests"] == 50 and call["concurrency"] == 8
        bar = screen.query_one("#c-bar", ProgressBar)
        assert bar.total == 100 and bar.progress == 100  # both arms, 50 each
        text = screen_text(app)
        assert "verdict FAIL" in text
        assert "p99 latency: canary 212 ms vs baseline 88 ms" in text and "error rate: 0/200" in text
        assert "50/50 sent" in text and "123.4 req/s" in text
        await pilot.press("escape")
        assert any("canary verdict FAIL" in e.text for e in app.events.events)


async def test_canary_form_says_what_is_wrong_with_its_input():
    app = make_app(Actions(canary=fake_canary))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("c")
        app.screen.query_one("#c-endpoint", Input).value = ""
        await pilot.click("#c-run")
        await settle(pilot)
        assert "endpoint is empty: give the canary's inference base URL" in screen_text(app)


@pytest.fixture
def receiver():
    with Receiver(secret=SECRET) as r:
        yield r


async def test_rollback_shows_the_exact_request_and_sends_only_after_the_model_name_is_typed(
        receiver, tmp_path, monkeypatch):
    monkeypatch.setenv("MDASH_TUI_TEST_SECRET", SECRET)
    dash = FakeDashboard()
    dash.config.rollback = RollbackSettings(url=receiver.url, secret_env="MDASH_TUI_TEST_SECRET")
    audit = tmp_path / "audit.jsonl"
    app = make_app(Actions.real(), dash, audit_log=str(audit))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        screen = app.screen
        assert isinstance(screen, RollbackScreen)
        text = screen_text(app)
        assert f"POST {receiver.url}" in text and "X-Mdash-Signature" in text
        assert '"model": "iris-canary"' in text and '"to_version": "stable"' in text
        assert SECRET not in text
        send = screen.query_one("#r-send", Button)
        await pilot.press(*"iris-stable")  # the wrong name: still disabled
        assert send.disabled and not receiver.requests
        screen.query_one("#r-confirm", Input).value = ""
        await pilot.press(*"iris-canary")
        assert not send.disabled
        await pilot.press("enter")
        await settle(pilot)
        assert "delivered · HTTP 200 · 1 attempt(s)" in screen_text(app)
    assert len(receiver.requests) == 1
    body = json.loads(receiver.requests[0]["body"])
    assert body["model"] == "iris-canary" and body["reason"] == "manual rollback from mdash tui"
    kinds = [json.loads(line)["kind"] for line in audit.read_text().splitlines()]
    assert "rollback" in kinds
    assert any("rollback delivered" in e.text for e in app.events.events)


async def test_rollback_without_a_webhook_says_how_to_configure_one_and_cannot_send(tmp_path):
    app = make_app(Actions.real(), audit_log=str(tmp_path / "audit.jsonl"))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("b")
        await pilot.press(*"iris-canary")
        assert "no rollback webhook configured" in screen_text(app)
        assert app.screen.query_one("#r-send", Button).disabled


async def test_export_writes_snapshot_json_csv_and_an_svg_screenshot_and_says_where(tmp_path):
    app = make_app(Actions(), export_dir=tmp_path / "out")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        await pilot.click("#x-write")
        await settle(pilot)
        files = sorted((tmp_path / "out").iterdir())
        assert [f.suffix for f in files] == [".csv", ".json", ".svg"]
        text = screen_text(app)
        assert all(f.name in text for f in files)
    doc = json.loads(files[1].read_text())
    assert doc["schema"] == "mdash.snapshot/1" and len(doc["panels"]) == 12
    assert files[0].read_text().startswith("model,group,title")
    svg = files[2].read_text().replace("&#160;", " ")
    assert "DEMO DATA" in svg and "Latency" in svg


@pytest.mark.timeout(60)
async def test_canary_form_against_the_real_demo_pair(tmp_path):
    from mdash.demo.stack import DemoStack

    with DemoStack(prometheus=False, traffic=False) as stack:
        dash = FakeDashboard()
        dash.config = stack.config()
        app = make_app(Actions.real(), dash, audit_log=str(tmp_path / "audit.jsonl"))
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.press("c")
            screen = app.screen
            assert screen.query_one("#c-endpoint", Input).value == stack.canary_url
            assert screen.query_one("#c-model", Input).value == "iris"
            screen.query_one("#c-requests", Input).value = "40"
            await pilot.click("#c-run")
            await settle(pilot)
            assert screen.report is not None and screen.report.verdict in ("pass", "inconclusive", "fail")
            assert f"verdict {screen.report.verdict.upper()}" in screen_text(app)
