"""Fault matrix, webhook side, through the whole rollback action (not only deliver()): for each receiver fault the
audit log holds one complete chain (rollback → every try sent and answered → result), a receiver that comes back
gets the event once, and `mdash rollback` killed with -9 between tries loses nothing a re-run cannot deliver.

(deliver()-level retries, Retry-After, 401, slow and down receivers are proven in test_webhook.py; kill -9 during
a hanging try in test_rollback.py.)"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultproxy import FaultProxy

from mdash.actions import RollbackSettings, read_audit, rollback
from mdash.actions.receiver import Receiver, Step
from mdash.cli import main
from mdash.demo.prometheus import free_port


class SkippedTime:
    """A monotonic clock whose sleep skips ahead (and runs a hook once), so backoff waits take no wall time."""

    def __init__(self, on_first_sleep=None) -> None:
        self.skipped = 0.0
        self.on_first_sleep = on_first_sleep

    def clock(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        if self.on_first_sleep is not None:
            self.on_first_sleep()
            self.on_first_sleep = None
        self.skipped += seconds


def chain(log: Path, event_id: str) -> list[dict]:
    """The audit records of one event, after checking every line of the log is one whole JSON object."""
    raw = log.read_bytes()
    assert raw.endswith(b"\n")
    records = [json.loads(line) for line in raw.decode().splitlines()]
    return [r for r in records if r.get("event_id") == event_id]


def assert_complete(records: list[dict], outcome) -> None:
    """rollback, then (sending, answered) for tries 1..n in order, then one result that agrees with the outcome."""
    kinds = [(r["kind"], r.get("phase"), r.get("attempt")) for r in records]
    tries = [("delivery_try", phase, n) for n in range(1, outcome.attempts + 1) for phase in ("sending", "answered")]
    assert kinds == [("rollback", None, None), *tries, ("rollback_result", None, None)], kinds
    result = records[-1]
    assert (result["delivered"], result["status"], result["attempts"]) == (
        outcome.delivered, outcome.status, outcome.attempts)
    assert result["message"] == outcome.message


def send(url: str, log: Path, steps: SkippedTime | None = None, **target):
    settings = RollbackSettings(url=url, cooldown=0, **target)
    kw = {"monotonic": steps.clock, "sleep": steps.sleep} if steps else {}
    return rollback("iris", "p99 doubled", to_version="v3", settings=settings, confirmed=True,
                    audit_log=str(log), rng=random.Random(2), **kw)


def test_receiver_down_audits_every_failed_try_and_the_result(tmp_path):
    log = tmp_path / "audit.jsonl"
    outcome = send(f"http://127.0.0.1:{free_port()}/hook", log, SkippedTime(), deadline=5)
    assert not outcome.delivered and outcome.attempts >= 3
    records = chain(log, outcome.event_id)
    assert_complete(records, outcome)
    assert all("ConnectError" in r["error"] for r in records if r.get("phase") == "answered")


def test_slow_receiver_audits_each_timed_out_try_within_the_deadline(tmp_path):
    log = tmp_path / "audit.jsonl"
    with Receiver(default=Step(200, delay=10)) as receiver:
        start = time.monotonic()
        outcome = send(receiver.url, log, timeout=0.3, deadline=1.0)
        assert time.monotonic() - start < 1.6
    assert not outcome.delivered and outcome.attempts >= 2
    assert_complete(chain(log, outcome.event_id), outcome)
    assert "within the 1 s deadline" in outcome.message and "no answer within" in outcome.message


def test_429_with_retry_after_then_200_is_delivered_once_with_the_wait_on_record(tmp_path):
    log = tmp_path / "audit.jsonl"
    with Receiver(script=[Step(429, headers={"Retry-After": "7"})]) as receiver:
        outcome = send(receiver.url, log, SkippedTime())
    assert (outcome.delivered, outcome.status, outcome.attempts) == (True, 200, 2)
    records = chain(log, outcome.event_id)
    assert_complete(records, outcome)
    first = next(r for r in records if r.get("phase") == "answered")
    assert (first["status"], first["retry_in_s"]) == (429, 7.0)
    assert list(receiver.accepted) == [outcome.event_id]


def test_401_is_one_try_refused_and_on_record_with_the_receiver_answer(tmp_path):
    log = tmp_path / "audit.jsonl"
    with Receiver(script=[Step(401, body='{"error": "token expired"}')]) as receiver:
        outcome = send(receiver.url, log, SkippedTime())
    assert (outcome.delivered, outcome.status, outcome.attempts) == (False, 401, 1)
    records = chain(log, outcome.event_id)
    assert_complete(records, outcome)
    assert "token expired" in records[2]["answer"] and not receiver.accepted


def test_dropped_connection_is_retried_and_the_event_arrives_once(tmp_path):
    log = tmp_path / "audit.jsonl"
    with Receiver() as receiver, FaultProxy(receiver.url.rsplit("/", 1)[0]) as proxy:
        proxy.mode = "drop"
        steps = SkippedTime(on_first_sleep=lambda: setattr(proxy, "mode", "pass"))
        outcome = send(f"{proxy.url}/hook", log, steps)
    assert (outcome.delivered, outcome.attempts) == (True, 2)
    records = chain(log, outcome.event_id)
    assert_complete(records, outcome)
    assert records[2]["status"] is None and records[2]["error"]  # the drop, as the sender saw it
    assert list(receiver.accepted) == [outcome.event_id] and len(receiver.requests) == 1


def test_a_receiver_that_comes_back_during_the_backoff_gets_the_event(tmp_path):
    log = tmp_path / "audit.jsonl"
    port = free_port()
    receiver = Receiver()
    steps = SkippedTime(on_first_sleep=lambda: receiver.start(port))
    try:
        outcome = send(f"http://127.0.0.1:{port}/hook", log, steps)
    finally:
        receiver.stop()
    assert (outcome.delivered, outcome.status, outcome.attempts) == (True, 200, 2)
    assert_complete(chain(log, outcome.event_id), outcome)
    assert list(receiver.accepted) == [outcome.event_id]


@pytest.mark.timeout(60)
def test_kill_9_between_tries_keeps_the_answered_try_and_a_rerun_delivers(tmp_path):
    log = tmp_path / "audit.jsonl"
    with Receiver(script=[Step(503, headers={"Retry-After": "30"})]) as receiver:
        argv = ["rollback", "--model", "iris", "--reason", "p99 doubled", "--webhook", receiver.url, "--yes",
                "--deadline", "60s", "--audit-log", str(log)]
        proc = subprocess.Popen([sys.executable, "-m", "mdash", *argv],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                if log.exists() and b'"phase":"answered"' in log.read_bytes().replace(b" ", b""):
                    break
                time.sleep(0.02)
            assert proc.poll() is None, "mdash rollback ended before it was killed"
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=10)
        first = receiver.requests[0]["headers"]["Idempotency-Key"]
        killed = chain(log, first)
        assert [(r["kind"], r.get("phase")) for r in killed] == [
            ("rollback", None), ("delivery_try", "sending"), ("delivery_try", "answered")]
        assert (killed[-1]["status"], killed[-1]["retry_in_s"]) == (503, 30.0)
        assert main(argv) == 0  # an undelivered rollback starts no cooldown: the re-run is not refused
    delivered = read_audit(str(log))[-1]
    assert delivered["kind"] == "rollback_result" and delivered["delivered"] is True
    assert list(receiver.accepted) == [delivered["event_id"]] and delivered["event_id"] != first
