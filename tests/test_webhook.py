"""Webhook delivery against a real HTTP receiver on 127.0.0.1: signing, retries, deadlines, templates."""

from __future__ import annotations

import json
import random
import re
import shutil
import socket
import subprocess
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from mdash.actions.audit import AuditLog
from mdash.actions.receiver import Receiver, Step
from mdash.actions.settings import Target
from mdash.actions.webhook import deliver, make_event, render

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rollback.md"
SECRET = "whsec-test-5b1e0c7d"


class SkippedTime:
    """A monotonic clock whose sleep skips ahead instead of waiting, so backoff tests take no wall time."""

    def __init__(self) -> None:
        self.skipped = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.skipped += seconds


def documented_verify():
    """The receiver snippet from docs/rollback.md, executed as written."""
    text = DOCS.read_text()
    code = re.search(r"<!-- verify-snippet -->\s*```python\n(.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    namespace: dict = {}
    exec(code, namespace)
    return namespace["verify"]


def send(target: Target, tmp_path: Path, **kw):
    audit = AuditLog(tmp_path / "audit.jsonl")
    event = make_event("rollback", "iris", "p99 doubled", to_version="v3")
    return deliver(target, event, audit=audit, rng=random.Random(1), **kw), event, audit


def test_signature_verifies_with_the_documented_snippet(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    verify = documented_verify()
    with Receiver() as receiver:
        result, _, _ = send(Target(url=receiver.url, secret_env="HOOK_SECRET"), tmp_path)
    assert result.delivered
    req = receiver.requests[0]
    assert verify(SECRET.encode(), req["headers"], req["body"])
    assert not verify(b"another-secret", req["headers"], req["body"])
    assert not verify(SECRET.encode(), req["headers"], req["body"] + b" ")
    stale = {**req["headers"], "X-Mdash-Timestamp": str(int(req["headers"]["X-Mdash-Timestamp"]) - 301)}
    assert not verify(SECRET.encode(), stale, req["body"])


def test_503_503_200_is_one_effective_delivery_with_the_same_event_id_and_body(tmp_path):
    steps = SkippedTime()
    with Receiver(script=[Step(503), Step(503), Step(200)]) as receiver:
        result, event, _ = send(Target(url=receiver.url), tmp_path, clock=steps.clock, sleep=steps.sleep)
    assert (result.delivered, result.status, result.attempts) == (True, 200, 3)
    assert [r["headers"]["Idempotency-Key"] for r in receiver.requests] == [event["event_id"]] * 3
    assert len({r["body"] for r in receiver.requests}) == 1
    assert json.loads(receiver.requests[0]["body"]) == event
    assert list(receiver.accepted) == [event["event_id"]]


def test_backoff_is_full_jitter_doubling_per_try(tmp_path):
    steps = SkippedTime()
    with Receiver(script=[Step(500)] * 5) as receiver:
        result, _, _ = send(Target(url=receiver.url), tmp_path, clock=steps.clock, sleep=steps.sleep)
    assert result.attempts == 6
    caps = [0.5, 1.0, 2.0, 4.0, 8.0]
    assert all(0 <= s <= cap for s, cap in zip(steps.sleeps, caps, strict=True))
    assert len(set(steps.sleeps)) == 5  # jittered, not fixed


def test_receiver_down_fails_clearly_after_the_deadline_with_every_try_audited(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    start = time.monotonic()
    result, event, audit = send(Target(url=f"http://127.0.0.1:{port}/hook", deadline=1.0), tmp_path)
    elapsed = time.monotonic() - start
    assert not result.delivered and result.status is None
    assert 0.5 < elapsed < 1.5
    assert "1 s deadline" in result.message and "ConnectError" in result.message
    tries = [r for r in audit.read() if r["kind"] == "delivery_try" and r["event_id"] == event["event_id"]]
    assert result.attempts >= 2
    assert [r["phase"] for r in tries] == ["sending", "answered"] * result.attempts
    assert [r["attempt"] for r in tries if r["phase"] == "answered"] == list(range(1, result.attempts + 1))
    assert all(r["error"] for r in tries if r["phase"] == "answered")


def test_401_is_final_without_retry_and_shows_the_receiver_answer(tmp_path):
    with Receiver(script=[Step(401, body='{"error": "token expired for deploy-bot"}')]) as receiver:
        result, _, _ = send(Target(url=receiver.url), tmp_path)
    assert (result.delivered, result.status, result.attempts) == (False, 401, 1)
    assert len(receiver.requests) == 1
    assert "HTTP 401" in result.message and "token expired for deploy-bot" in result.message


def test_long_receiver_answers_are_truncated_in_the_message(tmp_path):
    with Receiver(script=[Step(400, body="x" * 5_000_000)]) as receiver:
        result, _, _ = send(Target(url=receiver.url), tmp_path)
    assert len(result.message) < 500 and result.message.endswith("…")


def test_slow_receiver_times_out_per_try_within_the_deadline(tmp_path):
    with Receiver(default=Step(200, delay=10)) as receiver:
        start = time.monotonic()
        result, _, _ = send(Target(url=receiver.url, timeout=0.3, deadline=1.2), tmp_path)
        elapsed = time.monotonic() - start
    assert not result.delivered
    assert elapsed < 1.2 + 0.4
    assert result.attempts >= 2
    assert all(t["error"].startswith("no answer within") for t in result.tries)
    assert all(t["latency_ms"] < 700 for t in result.tries)


@pytest.mark.parametrize("header", ["2", "date"])
def test_429_retry_after_is_honoured_in_seconds_and_as_http_date(tmp_path, header):
    value = "2" if header == "2" else formatdate(time.time() + 3, usegmt=True)
    steps = SkippedTime()
    with Receiver(script=[Step(429, headers={"Retry-After": value}), Step(200)]) as receiver:
        result, _, _ = send(Target(url=receiver.url), tmp_path, clock=steps.clock, sleep=steps.sleep)
    assert result.delivered and result.attempts == 2
    assert len(steps.sleeps) == 1
    if header == "2":
        assert steps.sleeps == [2.0]
    else:  # an HTTP date has whole seconds: 3 s ahead, truncated, minus the time the first try took
        assert 1.5 < steps.sleeps[0] <= 3.0


def test_retry_after_beyond_the_deadline_stops_at_once_and_says_why(tmp_path):
    with Receiver(script=[Step(503, headers={"Retry-After": "120"})]) as receiver:
        result, _, _ = send(Target(url=receiver.url, deadline=5), tmp_path)
    assert result.attempts == 1 and not result.delivered
    assert "retry after 120 s, beyond the deadline" in result.message


def test_templates_shape_the_body_for_each_receiver():
    event = make_event(
        "rollback", "iris", "p99 doubled", from_version="v4", to_version="v3", summary={"verdict": "fail"}
    )
    slack = json.loads(render(event, Target(template="slack")))
    assert "iris" in slack["text"] and "v4 → v3" in slack["text"] and "fail" in slack["text"]
    github = json.loads(render(event, Target(template="github")))
    assert github == {"event_type": "mdash-rollback", "client_payload": {"mdash": event}}
    jenkins = json.loads(render(event, Target(template="jenkins")))
    assert jenkins["model"] == "iris" and json.loads(jenkins["summary"]) == {"verdict": "fail"}
    assert json.loads(render(event, Target(template="argo-events"))) == event
    assert json.loads(render(event, Target())) == event


def test_event_carries_schema_identity_and_rfc3339_time():
    event = make_event("rollback", "iris", "why", clock=lambda: 0.0)
    assert event["schema"] == "mdash.event/1"
    assert re.fullmatch(r"[0-9a-f-]{36}", event["event_id"])
    assert event["at"] == "1970-01-01T00:00:00.000Z"
    assert event["actor"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made by the openssl CLI."""
    if not shutil.which("openssl"):
        pytest.skip("no openssl binary")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return str(d / "cert.pem"), str(d / "key.pem")


def test_tls_is_verified_an_untrusted_certificate_is_final_and_ca_file_trusts_it(tmp_path, certificate):
    with Receiver(tls=certificate) as receiver:
        refused, _, _ = send(Target(url=receiver.url), tmp_path)
        trusted, _, _ = send(Target(url=receiver.url, ca_file=certificate[0]), tmp_path)
    assert not refused.delivered and refused.attempts == 1
    assert "TLS certificate not trusted" in refused.message and "ca_file" in refused.message
    assert trusted.delivered and len(receiver.requests) == 1
