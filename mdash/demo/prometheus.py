"""Run a real Prometheus on loopback: free port, temp config and tsdb, wait on readiness, stop by PID.

Used by ``mdash demo`` and by the integration tests, so both start it the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mdash.errors import SourceError

CANDIDATES = ("prometheus", "/usr/bin/prometheus")


def find_binary() -> str | None:
    """The prometheus binary on PATH or at Debian's location, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ScrapeTarget:
    job: str
    address: str  # host:port
    metrics_path: str = "/metrics"
    labels: dict[str, str] = field(default_factory=dict)


def render_config(targets: Sequence[ScrapeTarget], interval: str = "1s", rule_files: Sequence[str] = ()) -> str:
    """A prometheus.yml scraping the targets (JSON is valid YAML, so no YAML library is needed)."""
    cfg: dict = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {
                "job_name": t.job,
                "metrics_path": t.metrics_path,
                "scrape_interval": interval,
                "static_configs": [{"targets": [t.address], "labels": t.labels}],
            }
            for t in targets
        ],
    }
    if rule_files:
        cfg["rule_files"] = list(rule_files)
    return json.dumps(cfg, indent=2)


class PrometheusServer:
    """A Prometheus child process on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        targets: Sequence[ScrapeTarget],
        *,
        interval: str = "1s",
        rules: str | None = None,
        port: int | None = None,
        binary: str | None = None,
    ) -> None:
        self.binary = binary or find_binary()
        if not self.binary:
            raise SourceError(
                "no prometheus binary found on PATH or at /usr/bin/prometheus; "
                "install it (apt-get install prometheus) or run with --no-prometheus"
            )
        self.targets = list(targets)
        self.interval = interval
        self.rules = rules
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self._reaper: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> PrometheusServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="mdash-prom-")
        tmp = Path(self._tmp.name)
        rule_files = []
        if self.rules:
            (tmp / "rules.yml").write_text(self.rules)
            rule_files.append(str(tmp / "rules.yml"))
        (tmp / "prometheus.yml").write_text(render_config(self.targets, self.interval, rule_files))
        self._log = open(tmp / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=1d",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self._start_reaper(tmp)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_reaper(self, folder: Path) -> None:
        """Prometheus runs in its own session (a Ctrl-C is ours to handle), so nothing would stop it if we died
        without running stop(): SIGKILL, a crash. The reaper (mdash/demo/reaper.py) then stops it."""
        self._reaper = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).with_name("reaper.py")), str(self.proc.pid), str(folder)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True,
        )
        if self._reaper.stdout.readline() != b"ready\n":  # it watches Prometheus and us, or it exited
            raise SourceError(f"the reaper that stops Prometheus if mdash dies did not start: {self.log_tail()}")

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SourceError(f"prometheus exited with code {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise SourceError(f"prometheus on {self.url} not ready after {timeout:.0f} s: {self.log_tail()}")

    def wait_for(self, promql: str, timeout: float = 30.0, min_value: float | None = None) -> list:
        """Poll an instant query until it returns a result (optionally with a value >= min_value)."""
        import urllib.parse

        deadline = time.monotonic() + timeout
        q = urllib.parse.urlencode({"query": promql})
        last: list = []
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=2) as r:
                    last = json.load(r)["data"]["result"]
            except OSError:
                last = []
            ok = [s for s in last if min_value is None or float(s["value"][1]) >= min_value]
            if ok:
                return last
            time.sleep(0.2)
        raise TimeoutError(f"no result for {promql!r} after {timeout:.0f} s (last: {last})")

    def wait_scraped(self, timeout: float = 30.0) -> None:
        """Wait until every target has been scraped successfully once."""
        self.wait_for("up == 1", timeout=timeout)
        expected = len(self.targets)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.wait_for("up == 1", timeout=timeout)) >= expected:
                return
            time.sleep(0.2)
        raise TimeoutError(f"not all {expected} targets scraped after {timeout:.0f} s")

    def log_tail(self, n: int = 5) -> str:
        if not self._tmp:
            return ""
        try:
            lines = (Path(self._tmp.name) / "prometheus.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    def stop(self) -> None:
        reaper, self._reaper = self._reaper, None
        if reaper is not None:  # we stop Prometheus ourselves: the reaper must not act on its PID afterwards
            reaper.kill()
            reaper.wait()
            reaper.stdin.close()
            reaper.stdout.close()
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
