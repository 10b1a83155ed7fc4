"""Webhook delivery: the `mdash.event/1` payload, receiver templates, HMAC signing, and retried sending.

One event is rendered to body bytes once; every try sends those same bytes with the same Idempotency-Key,
re-signed with the try's timestamp. Tries are retried on connection errors, 429 and 5xx with exponential
backoff and full jitter (or the receiver's Retry-After), all inside one total deadline. Each try is written
to the audit log before it is sent and again when it is answered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import shlex
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from mdash import __version__
from mdash.actions.audit import AuditLog, actor, rfc3339
from mdash.actions.settings import Target, redact

SCHEMA = "mdash.event/1"
BACKOFF_BASE = 0.5  # seconds before the 2nd try at most; doubles per try (full jitter picks 0..cap)
BACKOFF_CAP = 8.0
ANSWER_CHARS = 300  # how much of a receiver's answer is kept in messages and the audit log
ANSWER_BYTES = 65536  # how much of it is read at all


def make_event(
    type: str,
    model: str,
    reason: str,
    *,
    from_version: str | None = None,
    to_version: str | None = None,
    summary: dict[str, Any] | None = None,
    clock: Callable[[], float] = time.time,
    **extra: Any,
) -> dict[str, Any]:
    """A fresh `mdash.event/1` dict with a new event_id; `summary` (a canary report) adds its verdict."""
    event: dict[str, Any] = {
        "schema": SCHEMA,
        "event_id": str(uuid.uuid4()),
        "type": type,
        "model": model,
        "from_version": from_version,
        "to_version": to_version,
        "reason": reason,
    }
    if summary is not None:
        event["verdict"] = summary.get("verdict")
        event["summary"] = summary
    event.update(extra)
    event["actor"] = actor()
    event["at"] = rfc3339(clock())
    return event


def _slack(event: dict[str, Any], target: Target) -> dict[str, Any]:
    versions = (
        f" ({event.get('from_version') or '?'} → {event['to_version']})" if event.get("to_version") else ""
    )
    verdict = f", canary verdict {event['verdict']}" if event.get("verdict") else ""
    return {
        "text": f"mdash {event['type'].replace('_', ' ')}: model *{event['model']}*{versions}{verdict}: "
        f"{event['reason']} (by {event['actor']} at {event['at']}, event {event['event_id']})"
    }


def _github(event: dict[str, Any], target: Target) -> dict[str, Any]:
    # repository_dispatch allows at most 10 top-level client_payload keys: nest the event under one
    return {"event_type": target.event_type or f"mdash-{event['type']}", "client_payload": {"mdash": event}}


def _jenkins(event: dict[str, Any], target: Target) -> dict[str, Any]:
    # Generic Webhook Trigger reads variables by JSONPath: keep every value a top-level scalar
    return {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in event.items()}


TEMPLATES: dict[str, Callable[[dict[str, Any], Target], dict[str, Any]]] = {
    "generic": lambda event, target: event,
    "argo-events": lambda event, target: event,  # the webhook event source passes the JSON body through
    "slack": _slack,
    "github": _github,
    "jenkins": _jenkins,
}


def render(event: dict[str, Any], target: Target) -> bytes:
    """The exact body bytes for `event` in the target's template."""
    payload = TEMPLATES[target.template](event, target)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def headers_for(target: Target, event_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Every header of one try, credentials included (never print these: see PlannedRequest)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"mdash/{__version__}",
        "Idempotency-Key": event_id,
        "X-Mdash-Timestamp": str(timestamp),
    }
    if target.template == "github":
        headers["Accept"] = "application/vnd.github+json"
    secret = target.secret()
    if secret:
        headers["X-Mdash-Signature"] = sign(secret, timestamp, body)
    auth = target.auth_header()
    if auth:
        headers["Authorization"] = auth
    headers.update(target.headers)
    return headers


@dataclass
class PlannedRequest:
    """The exact request a send would make, printable: credentials redacted, signature shown."""

    url: str
    headers: dict[str, str]
    body: bytes
    event_id: str
    curl: str

    def __str__(self) -> str:
        lines = [f"POST {self.url}", *(f"{k}: {v}" for k, v in self.headers.items()), "", self.body.decode()]
        return (
            "\n".join(lines)
            + "\n\n# the same request with curl (credentials read from your env):\n"
            + self.curl
        )


def plan(target: Target, event: dict[str, Any], *, wall: Callable[[], float] = time.time) -> PlannedRequest:
    """The request for `event`, with credentials replaced by *** (and by $VAR references in the curl line)."""
    body = render(event, target)
    headers = headers_for(target, event["event_id"], body, int(wall()))
    url = target.resolved_url()
    shown_url = f"${{{target.url_env}}}" if target.url_env else url
    shown = {k: ("***" if k == "Authorization" else redact(v)) for k, v in headers.items()}
    args = ["curl", "--fail-with-body", "-sS", "-X", "POST"]
    if target.ca_file:
        args += ["--cacert", target.ca_file]
    parts = [shlex.join(args), f'"{shown_url}"' if target.url_env else shlex.quote(url)]
    for k, v in shown.items():
        if k != "Authorization":
            parts.append(f"-H {shlex.quote(f'{k}: {v}')}")
    if target.bearer_token_env:
        parts.append(f'-H "Authorization: Bearer ${{{target.bearer_token_env}}}"')
    elif target.basic_user:
        password = f"${{{target.basic_password_env}}}" if target.basic_password_env else ""
        parts.append(f'-u "{target.basic_user}:{password}"')
    parts.append(f"--data-binary {shlex.quote(body.decode())}")
    return PlannedRequest(redact(shown_url), shown, body, event["event_id"], " \\\n  ".join(parts))


@dataclass
class Outcome:
    """How one send ended: delivered on a 2xx, or why not, after how many tries (or the plan of a dry run)."""

    delivered: bool
    status: int | None
    attempts: int
    event_id: str
    message: str
    answer: str = ""
    tries: list[dict[str, Any]] = field(default_factory=list)  # the audit records of each answered try
    plan: PlannedRequest | None = None  # set for a dry run


def deliver(
    target: Target,
    event: dict[str, Any],
    *,
    audit: AuditLog,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    wall: Callable[[], float] = time.time,
) -> Outcome:
    """POST `event` to `target` until a 2xx, a final 4xx, or the deadline; every try is audited."""
    rng = rng or random.Random()
    url = target.resolved_url()
    where = redact(_origin(url))
    body = render(event, target)
    event_id = event["event_id"]
    start = clock()
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=target.ca_file) if target.ca_file else True
    )
    tries: list[dict[str, Any]] = []
    last = "no try was made"
    with httpx.Client(verify=verify, follow_redirects=False, trust_env=False) as client:
        attempt = 0
        while True:
            remaining = target.deadline - (clock() - start)
            if remaining <= 0:
                break
            attempt += 1
            timeout = min(target.timeout, remaining)
            base = {
                "event_id": event_id,
                "type": event["type"],
                "model": event.get("model"),
                "attempt": attempt,
            }
            audit.record("delivery_try", **base, phase="sending", url=where, timeout_s=round(timeout, 3))
            sent = clock()
            status, answer, error, retry_after = None, "", "", None
            try:
                headers = headers_for(target, event_id, body, int(wall()))
                with client.stream("POST", url, content=body, headers=headers, timeout=timeout) as resp:
                    status = resp.status_code
                    retry_after = _retry_after(resp.headers.get("Retry-After"), wall)
                    answer = _truncate(_read_some(resp, deadline=sent + timeout, clock=clock))
            except httpx.TimeoutException:
                error = f"no answer within {timeout:.3g} s"
            except httpx.TransportError as err:
                error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                if _untrusted_certificate(err):  # retrying cannot help
                    error = f"TLS certificate not trusted ({err}): set ca_file to the receiver's CA bundle"
            latency_ms = round((clock() - sent) * 1000, 1)
            retryable = (
                status == 429 or (status or 0) >= 500 or (status is None and not error.startswith("TLS"))
            )
            final = not retryable
            delay = None
            if not final:
                cap = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
                delay = retry_after if retry_after is not None else rng.uniform(0, cap)
            rec = audit.record(
                "delivery_try",
                **base,
                phase="answered",
                url=where,
                status=status,
                latency_ms=latency_ms,
                error=redact(error),
                answer=redact(answer),
                retry_in_s=None if delay is None else round(delay, 3),
            )
            tries.append(rec)
            last = f"HTTP {status}" + (f": {redact(answer)}" if answer else "") if status else redact(error)
            if status is not None and 200 <= status < 300:
                return Outcome(
                    True, status, attempt, event_id, f"delivered to {where} ({last})", answer, tries
                )
            if final:
                why = " (redirects are not followed: use the final URL)" if 300 <= (status or 0) < 400 else ""
                return Outcome(
                    False,
                    status,
                    attempt,
                    event_id,
                    f"{where} refused the event with {last}{why}" if status else f"{where}: {last}",
                    answer,
                    tries,
                )
            remaining = target.deadline - (clock() - start)
            if delay is not None and delay >= remaining:
                if retry_after is not None:
                    last += f" (asked to retry after {retry_after:.3g} s, beyond the deadline)"
                break
            sleep(delay or 0)
    return Outcome(
        False,
        tries[-1]["status"] if tries else None,
        len(tries),
        event_id,
        f"not delivered to {where} within the {target.deadline:.3g} s deadline after {len(tries)} "
        f"tr{'y' if len(tries) == 1 else 'ies'}; last: {last}",
        tries[-1]["answer"] if tries else "",
        tries,
    )


def _retry_after(value: str | None, wall: Callable[[], float]) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - wall())
    except (TypeError, ValueError):
        return None


def _untrusted_certificate(err: BaseException) -> bool:
    """True when the TLS handshake failed because the receiver's certificate did not verify."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _read_some(resp: httpx.Response, *, deadline: float, clock: Callable[[], float]) -> str:
    """The start of a receiver's answer: at most ANSWER_BYTES, and no reading past the try's time."""
    raw = b""
    for chunk in resp.iter_bytes():
        raw += chunk
        if len(raw) >= ANSWER_BYTES or clock() >= deadline:
            break
    return raw[:ANSWER_BYTES].decode(resp.encoding or "utf-8", "replace")


def _truncate(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ANSWER_CHARS else text[: ANSWER_CHARS - 1] + "…"


def _origin(url: str) -> str:
    """The URL without credentials or query string (which may carry tokens), for messages and the audit."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
