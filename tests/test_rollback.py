"""`mdash rollback` and `rollback()`: confirmation, dry run, readonly, cooldown, exit codes, secrets, kill -9."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mdash.actions import RollbackSettings, read_audit, rollback
from mdash.actions.receiver import Receiver, Step
from mdash.cli import main
from mdash.errors import ActionRefused, ConfigError

SECRET = "whsec-9f3a77e2c1d04b"
TOKEN = "deploy-token-51c2aa0e"


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("DEPLOY_TOKEN", TOKEN)


class Typed(io.StringIO):
    """A stdin that claims to be a terminal and 'types' the given text."""

    def isatty(self) -> bool:
        return True


def run_cli(tmp_path, receiver, *extra):
    """`mdash rollback` for model iris against `receiver`, audited under tmp_path."""
    argv = ["rollback", "--model", "iris", "--reason", "p99 doubled", "--to", "v3", "--webhook", receiver.url]
    return main([*argv, "--audit-log", str(tmp_path / "audit.jsonl"), *extra])


def test_delivered_rollback_exits_0_and_is_audited_before_and_after(tmp_path, capsys):
    with Receiver() as receiver:
        code = run_cli(tmp_path, receiver, "--yes")
    assert code == 0
    assert "rollback of iris delivered" in capsys.readouterr().out
    kinds = [r["kind"] for r in read_audit(tmp_path / "audit.jsonl")]
    assert kinds == ["rollback", "delivery_try", "delivery_try", "rollback_result"]
    event = json.loads(receiver.requests[0]["body"])
    assert (event["type"], event["model"], event["to_version"], event["reason"]) == (
        "rollback",
        "iris",
        "v3",
        "p99 doubled",
    )


def test_dry_run_prints_request_and_curl_and_sends_nothing(tmp_path, capsys, creds):
    with Receiver() as receiver:
        code = run_cli(tmp_path, receiver, "--dry-run", "--secret-env", "HOOK_SECRET")
    out = capsys.readouterr().out
    assert code == 0 and receiver.requests == []
    assert f"POST {receiver.url}" in out and "X-Mdash-Signature: sha256=" in out
    assert "curl --fail-with-body" in out and "--data-binary" in out
    assert SECRET not in out
    assert not (tmp_path / "audit.jsonl").exists()


def test_without_a_terminal_and_without_yes_it_is_refused_with_exit_4(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with Receiver() as receiver:
        code = run_cli(tmp_path, receiver)
    assert code == 4 and receiver.requests == []
    assert "not confirmed" in capsys.readouterr().err


def test_the_prompt_requires_typing_the_model_name(tmp_path, capsys, monkeypatch):
    with Receiver() as receiver:
        monkeypatch.setattr(sys, "stdin", Typed("yes\n"))
        assert run_cli(tmp_path, receiver) == 4
        monkeypatch.setattr(sys, "stdin", Typed("iris\n"))
        assert run_cli(tmp_path, receiver) == 0
    assert len(receiver.requests) == 1
    assert "Type the model name" in capsys.readouterr().out


def test_cooldown_refuses_a_second_rollback_unless_forced(tmp_path, capsys):
    with Receiver() as receiver:
        assert run_cli(tmp_path, receiver, "--yes") == 0
        assert run_cli(tmp_path, receiver, "--yes") == 4
        assert "cooldown" in capsys.readouterr().err
        assert run_cli(tmp_path, receiver, "--yes", "--force") == 0
    assert len(receiver.requests) == 2


def test_cooldown_is_read_from_the_audit_log_so_it_survives_restarts(tmp_path):
    log = tmp_path / "audit.jsonl"
    now = [1_000_000.0]
    with Receiver() as receiver:
        settings = RollbackSettings(url=receiver.url, cooldown=300)
        kw = {"settings": settings, "confirmed": True, "audit_log": str(log), "clock": lambda: now[0]}
        assert rollback("iris", "first", **kw).delivered
        now[0] += 299
        with pytest.raises(ActionRefused, match="wait 1 s or pass --force"):
            rollback("iris", "again", **kw)
        assert rollback("other-model", "independent", **kw).delivered
        now[0] += 2
        assert rollback("iris", "after the cooldown", **kw).delivered


def test_an_undelivered_rollback_does_not_start_the_cooldown(tmp_path):
    with Receiver(script=[Step(400)]) as receiver:
        settings = RollbackSettings(url=receiver.url)
        kw = {"settings": settings, "confirmed": True, "audit_log": str(tmp_path / "a.jsonl")}
        assert not rollback("iris", "refused by the receiver", **kw).delivered
        assert rollback("iris", "second try", **kw).delivered


def test_readonly_flag_and_config_switch_refuse_every_rollback(tmp_path, capsys):
    with Receiver() as receiver:
        assert run_cli(tmp_path, receiver, "--yes", "--readonly") == 4
        config = tmp_path / "mdash.toml"
        config.write_text(f'readonly = true\n[rollback]\nurl = "{receiver.url}"\n')
        argv = ["rollback", "--model", "iris", "--reason", "r", "--yes", "--config", str(config)]
        code = main([*argv, "--audit-log", str(tmp_path / "audit.jsonl")])
        assert code == 4
    assert receiver.requests == []
    assert "readonly" in capsys.readouterr().err
    assert [r["kind"] for r in read_audit(tmp_path / "audit.jsonl")] == ["rollback_refused"] * 2


def test_receiver_refusal_exits_1_and_bad_input_exits_2(tmp_path, capsys):
    with Receiver(script=[Step(403, body='{"error": "model iris is pinned"}')]) as receiver:
        assert run_cli(tmp_path, receiver, "--yes") == 1
    assert "model iris is pinned" in capsys.readouterr().err
    code = main(["rollback", "--model", "iris", "--reason", "r", "--yes", "--webhook", "ftp://nope"])
    assert code == 2
    assert "expected an http:// or https:// URL" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no rollback webhook configured"):
        rollback("iris", "r", confirmed=True)
    argv = ["rollback", "--model", "iris", "--reason", "r", "--yes", "--webhook", "http://127.0.0.1:9/h"]
    code = main([*argv, "--secret-env", "MDASH_UNSET_SECRET", "--audit-log", str(tmp_path / "unset.jsonl")])
    assert code == 2 and "MDASH_UNSET_SECRET is not set" in capsys.readouterr().err
    assert not (tmp_path / "unset.jsonl").exists()


def test_secret_and_token_never_appear_in_output_or_audit(tmp_path, capsys, creds):
    leaky = Step(401, body=f'{{"error": "bad credentials Bearer {TOKEN} / {SECRET}"}}')  # echoes what it got
    config = tmp_path / "mdash.toml"
    audit_log = ["--audit-log", str(tmp_path / "audit.jsonl")]
    with Receiver(script=[leaky]) as receiver:
        config.write_text(
            f'[rollback]\nurl = "{receiver.url}"\nsecret_env = "HOOK_SECRET"\nbearer_token_env = "DEPLOY_TOKEN"\n'
        )
        for extra in (["--yes"], ["--dry-run"], ["--yes", "--force"]):
            main(
                ["rollback", "--model", "iris", "--reason", "r", "--config", str(config), *audit_log, *extra]
            )
        run_cli(tmp_path, receiver, "--secret-env", "HOOK_SECRET", "--yes", "--force")
    main(["audit", *audit_log])
    main(["audit", "--json", *audit_log])
    captured = capsys.readouterr()
    audit = (tmp_path / "audit.jsonl").read_text()
    assert receiver.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"  # it was really used
    assert "bad credentials Bearer ***" in captured.err  # and the receiver's answer was shown, redacted
    for text in (captured.out, captured.err, audit):
        assert SECRET not in text and TOKEN not in text


def test_kill_9_mid_delivery_leaves_whole_lines_and_the_try_on_record(tmp_path):
    log = tmp_path / "audit.jsonl"
    with Receiver(default=Step(200, delay=60)) as receiver:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mdash",
                "rollback",
                "--model",
                "iris",
                "--reason",
                "hang",
                "--webhook",
                receiver.url,
                "--yes",
                "--audit-log",
                str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not receiver.requests and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            assert receiver.requests, "the rollback never reached the receiver"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=10)
    raw = log.read_bytes()
    assert raw.endswith(b"\n")
    records = [json.loads(line) for line in raw.decode().splitlines()]
    assert [r["kind"] for r in records] == ["rollback", "delivery_try"]
    assert records[-1]["phase"] == "sending" and records[-1]["attempt"] == 1
    assert records[-1]["event_id"] == receiver.requests[0]["headers"]["Idempotency-Key"]
