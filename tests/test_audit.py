"""The audit log: whole fsynced lines under concurrency, tail, default path, secret scrubbing, `mdash audit`."""

from __future__ import annotations

import json
import threading

from mdash.actions import read_audit, record
from mdash.actions.audit import AuditLog, default_path
from mdash.actions.settings import Target
from mdash.cli import main


def test_concurrent_writers_leave_only_whole_lines(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    payload = "x" * 5000  # bigger than a pipe buffer: lines must still not interleave

    def write(n: int) -> None:
        for i in range(25):
            log.record("canary_run", writer=n, i=i, payload=payload)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 100
    records = [json.loads(line) for line in lines]
    assert sorted((r["writer"], r["i"]) for r in records) == [(n, i) for n in range(4) for i in range(25)]
    assert (tmp_path / "audit.jsonl").stat().st_mode & 0o777 == 0o600


def test_tail_returns_the_newest_records_and_skips_a_torn_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    for i in range(10):
        record("canary_run", audit_log=path, i=i, verdict="pass")
    with open(path, "a") as fh:
        fh.write('{"kind": "torn by a crash of an old vers')
    assert [r["i"] for r in read_audit(path, tail=4)] == [6, 7, 8, 9]
    assert [r["i"] for r in read_audit(path)] == list(range(10))
    assert read_audit(tmp_path / "missing.jsonl") == []


def test_default_path_follows_xdg_state_home_then_falls_back(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_path() == tmp_path / "state" / "mdash" / "audit.jsonl"
    record("alert", model="iris")
    assert read_audit()[0]["kind"] == "alert"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".local" / "state" / "mdash" / "audit.jsonl"


def test_records_never_hold_a_secret_value_or_credential_field(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNING", "sk-live-0f9e8d7c6b")
    assert Target(secret_env="SIGNING").secret() == "sk-live-0f9e8d7c6b"  # read once: now known as a secret
    rec = record(
        "delivery_try",
        audit_log=tmp_path / "a.jsonl",
        answer="echo: sk-live-0f9e8d7c6b",
        headers={"Authorization": "Bearer abc", "X-Team": "ml"},
        nested=[{"token": "t0k"}],
    )
    text = (tmp_path / "a.jsonl").read_text()
    assert "sk-live-0f9e8d7c6b" not in text and "abc" not in text and "t0k" not in text
    assert rec["answer"] == "echo: ***" and rec["headers"] == {"Authorization": "***", "X-Team": "ml"}


def test_audit_command_prints_text_and_json(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    for i in range(3):
        record("rollback_result", audit_log=path, model="iris", delivered=True, status=200, attempts=i + 1)
    assert main(["audit", "--audit-log", str(path), "--tail", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "rollback_result" in out[0] and "attempts=3" in out[1]
    assert main(["audit", "--audit-log", str(path), "--json"]) == 0
    assert [json.loads(line)["attempts"] for line in capsys.readouterr().out.splitlines()] == [1, 2, 3]
    assert main(["audit", "--audit-log", str(tmp_path / "none.jsonl")]) == 0
    assert "no audit records" in capsys.readouterr().out
    assert main(["audit", "--audit-log", str(path), "--tail", "0"]) == 2


def test_newest_first_reading_joins_lines_across_block_boundaries(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(30):
        log.record("canary_run", i=i, pad="p" * (i * 7))
    assert [r["i"] for r in log.newest(block=64)] == list(range(29, -1, -1))
    assert [r["i"] for r in log.read(tail=3)] == [27, 28, 29]
