"""A small reference webhook receiver on 127.0.0.1: verifies signatures, dedups by Idempotency-Key, logs events.

Try a rollback end to end without any infrastructure::

    MDASH_WEBHOOK_SECRET=s3cret python -m mdash.actions.receiver --port 8787 --secret-env MDASH_WEBHOOK_SECRET

It also answers with scripted statuses and delays (`Receiver(script=[...])`), which the tests use to produce
503s, 429s with Retry-After, 401s, slow and hanging answers from a real HTTP server.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLAY_WINDOW = 300  # seconds a signature stays acceptable


@dataclass
class Step:
    """One scripted answer: status, seconds to wait before answering, extra headers, body text."""

    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""  # empty: {"status": <status>}


def signature_ok(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, window: float = REPLAY_WINDOW
) -> bool:
    """True when X-Mdash-Signature matches HMAC-SHA256(secret, "<timestamp>.<body>") and the timestamp is fresh."""
    ts = headers.get("X-Mdash-Timestamp", "")
    if not ts.isdigit() or abs(now - int(ts)) > window:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("X-Mdash-Signature", ""))


class Receiver:
    """A threaded HTTP receiver on 127.0.0.1 that records every request and answers from a script."""

    def __init__(
        self,
        *,
        script: list[Step] | None = None,
        default: Step | None = None,
        secret: str | None = None,
        tls: tuple[str, str] | None = None,  # (certfile, keyfile): serve https
    ):
        self.tls = tls
        self.script = list(script or [])
        self.default = default or Step()
        self.secret = secret
        self.requests: list[dict[str, Any]] = []
        self.accepted: dict[str, dict[str, Any]] = {}  # Idempotency-Key → first event answered with 2xx
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the receiver first"
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._server.server_port}/hook"

    def start(self, port: int = 0) -> Receiver:
        """Bind 127.0.0.1:`port` (0: any free port) and serve on a daemon thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._answer(self, body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="mdash-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging answers, stop serving and close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = dict(handler.headers.items())
        with self._lock:
            step = self.script.pop(0) if self.script else self.default
            req = {"headers": headers, "body": body, "at": time.time(), "path": handler.path}
            req["verified"] = (
                signature_ok(self.secret, handler.headers, body, time.time()) if self.secret else None
            )
            self.requests.append(req)
        if step.delay and self._stopping.wait(step.delay):
            return
        status = 401 if self.secret and not req["verified"] else step.status
        if 200 <= status < 300:
            with self._lock:
                self.accepted.setdefault(headers.get("Idempotency-Key", ""), json.loads(body or b"null"))
        payload = (step.body or json.dumps({"status": status})).encode()
        if status != step.status:
            payload = b'{"error": "bad signature"}'
        try:
            handler.send_response(status)
            for k, v in step.headers.items():
                handler.send_header(k, v)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass  # the sender gave up (per-try timeout) before the answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdash.actions.receiver", description=__doc__)
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--secret-env", metavar="VAR", help="env var holding the signing secret to verify")
    args = parser.parse_args(argv)
    secret = os.environ.get(args.secret_env, "") if args.secret_env else None
    receiver = Receiver(secret=secret).start(args.port)
    print(f"receiving on {receiver.url} (signatures {'checked' if secret else 'not checked'}); Ctrl-C stops")
    seen = 0
    try:
        while True:
            time.sleep(0.2)
            for req in receiver.requests[seen:]:
                mark = {True: "signature ok", False: "BAD SIGNATURE", None: "unsigned"}[req["verified"]]
                print(
                    f"{req['headers'].get('Idempotency-Key', '-')}  {mark}  {req['body'].decode()}",
                    flush=True,
                )
            seen = len(receiver.requests)
    except KeyboardInterrupt:
        return 0
    finally:
        receiver.stop()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
