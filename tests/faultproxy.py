"""A loopback HTTP proxy that passes answers through, or delays, drops or corrupts them on demand.

Used by the fault-matrix tests to put a real upstream (Prometheus, a model endpoint) behind the faults an
on-call engineer meets: slow answers, 503, 400 bad_data, non-JSON, truncated JSON, NaN/Inf values, empty
results, huge results, a "success" answer of the wrong shape (garbled), a 200 JSON body that is not an Open
Inference Protocol answer (notv2), dropped connections. An upstream the proxy cannot reach is a 502.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_HEADERS = ("host", "content-length", "connection", "keep-alive", "accept-encoding")  # answers come back plain
MODES = ("pass", "slow", "503", "bad_data", "nonjson", "truncated", "nan", "empty", "huge", "garbled", "notv2", "drop")
GARBLED = [  # "success" answers whose result does not have Prometheus' shape
    {"metric": {"instance": "a"}, "values": [["not a time", "1"]]},
    "a bare string where a series belongs",
]


def _rewrite_values(body: dict, fn) -> dict:
    """Apply fn to every sample value string of a Prometheus query answer."""
    for series in body.get("data", {}).get("result", []) or []:
        if "value" in series:
            series["value"][1] = fn(series["value"][1])
        for point in series.get("values", []) or []:
            point[1] = fn(point[1])
    return body


class FaultProxy:
    """Forward to ``upstream``; ``mode`` (settable at any time) says what happens to each answer."""

    def __init__(self, upstream: str, *, delay: float = 2.0, huge_series: int = 10_000) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode = "pass"
        self.delay = delay
        self.huge_series = huge_series
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                proxy._handle(self, self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> tuple[int, str, bytes]:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS}
        req = urllib.request.Request(self.upstream + handler.path, data=body, headers=headers,
                                     method=handler.command)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers.get("Content-Type", "application/json"), r.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Content-Type", "application/json"), err.read()
        except OSError as err:
            return 502, "text/plain", f"upstream unreachable: {err}".encode()

    def _handle(self, h: BaseHTTPRequestHandler, body: bytes | None) -> None:
        try:
            self._answer(h, body)
        except Exception as err:  # noqa: BLE001 - a proxy bug shows as a 502 with its text, never a hung client
            self._send(h, 502, "text/plain", f"fault proxy failed: {type(err).__name__}: {err}".encode())

    def _answer(self, h: BaseHTTPRequestHandler, body: bytes | None) -> None:
        self.requests += 1
        mode = self.mode
        if mode == "drop":
            h.close_connection = True
            h.connection.close()
            return
        if mode == "slow":
            time.sleep(self.delay)
        if mode == "503":
            return self._send(h, 503, "text/plain", b"Service Unavailable: upstream overloaded")
        if mode == "bad_data":
            err = {"status": "error", "errorType": "bad_data",
                   "error": "1:1: parse error: unexpected character (injected by fault proxy)"}
            return self._send(h, 400, "application/json", json.dumps(err).encode())
        if mode == "nonjson":
            return self._send(h, 200, "text/html", b"<html><body>502 Bad Gateway (nginx)</body></html>")
        if mode == "notv2":
            return self._send(h, 200, "application/json", b'{"status": "ok", "message": "maintenance page"}')
        status, ctype, payload = self._forward(h, body)
        if mode == "truncated":
            payload = payload[: max(1, len(payload) // 2)]
        elif mode in ("nan", "empty", "huge", "garbled") and status == 200 and "/api/v1/query" in h.path:
            doc = json.loads(payload)
            if mode == "nan":
                cycle = iter(["NaN", "+Inf", "-Inf"] * 10**6)
                doc = _rewrite_values(doc, lambda _v: next(cycle))
            elif mode == "empty":
                doc["data"]["result"] = []
            elif mode == "garbled":
                doc["data"]["result"] = GARBLED
            else:
                doc["data"]["result"] = self._huge(doc)
            payload = json.dumps(doc).encode()
        self._send(h, status, ctype, payload)

    def _huge(self, doc: dict) -> list:
        """The first series repeated ``huge_series`` times, told apart by an ``instance`` label."""
        result = doc["data"]["result"]
        first = result[0] if result else {"metric": {}, "value": [time.time(), "1"]}
        points = {k: v for k, v in first.items() if k != "metric"}  # shared: json.dumps writes it out each time
        return [{"metric": {**first.get("metric", {}), "instance": f"host-{i}:9100"}, **points}
                for i in range(self.huge_series)]

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, ctype: str, payload: bytes) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
        except OSError:
            pass
