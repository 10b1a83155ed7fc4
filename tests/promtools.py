"""Test helpers for the Prometheus tests: a prometheus_client exporter the test drives, and a loopback server
replaying answers recorded from a real Prometheus (fixtures/prometheus/, see record.py there)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from mdash.demo.prometheus import ScrapeTarget, free_port

FIXTURES = Path(__file__).parent.parent / "fixtures" / "prometheus"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class Exporter:
    """A real /metrics page on 127.0.0.1 with a latency histogram and a request counter by status."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("app_latency_seconds", "request latency", buckets=BUCKETS, registry=self.registry)
        self.requests = Counter("app_requests", "requests by status", ["status"], registry=self.registry)
        self.port = free_port()
        self._httpd, self._thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def target(self, job: str = "app") -> ScrapeTarget:
        return ScrapeTarget(job, f"127.0.0.1:{self.port}")

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class Replay:
    """Answers each API request with a recorded answer chosen by its query text (or path); 404 JSON otherwise."""

    def __init__(self) -> None:
        self.answers: dict[str, dict] = {}  # query text or path → recorded answer
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlparse(self.path)
                query = parse_qs(url.query).get("query", [""])[0]
                answer = replay.answers.get(query) or replay.answers.get(url.path)
                if answer is None:
                    answer = {"status": 404, "content_type": "text/plain", "body": f"no recorded answer for {query}"}
                body = answer["body"].encode()
                self.send_response(answer["status"])
                self.send_header("Content-Type", answer["content_type"])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Silent:
    """A port that accepts connections (the kernel's backlog) but never answers: a real read timeout."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def stop(self) -> None:
        self._sock.close()
