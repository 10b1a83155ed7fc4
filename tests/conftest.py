"""Shared fixtures: a real Prometheus (skipped only where the binary is absent; CI installs it), and a starter
process to SIGKILL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import psutil
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


@contextlib.contextmanager
def killable_starter(script: str, *args: str) -> Iterator[tuple[subprocess.Popen, dict]]:
    """Run the Python ``script`` in its own process group and yield it with the JSON object on its first output
    line, whose "pids" are the processes it started. Afterwards the group (the starter and anything it forked)
    and those pids are killed, whatever the test did."""
    starter = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    got: dict = {}
    try:
        got = json.loads(starter.stdout.readline())
        yield starter, got
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(starter.pid, signal.SIGKILL)
        starter.wait(10)
        starter.stdout.close()
        for pid in got.get("pids", []):
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
