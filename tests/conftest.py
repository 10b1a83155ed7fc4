"""Shared fixtures: a real Prometheus (skipped only where the binary is absent; CI installs it)."""

from __future__ import annotations

import pytest

from mdash.demo.prometheus import PrometheusServer, ScrapeTarget, find_binary

needs_prometheus = pytest.mark.skipif(
    find_binary() is None, reason="no prometheus binary (apt-get install prometheus); CI installs it"
)


@pytest.fixture
def prometheus_factory():
    """Start real Prometheus servers scraping the given targets; each is stopped by PID at teardown."""
    started: list[PrometheusServer] = []

    def start(targets: list[ScrapeTarget], **kw) -> PrometheusServer:
        server = PrometheusServer(targets, **kw).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
