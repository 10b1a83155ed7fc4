"""DemoStack: the demo model pair (stable + canary) in a child process, plus a real Prometheus when one is installed.

The servers run in their own processes (see mdash.demo.server) so they never compete with the dashboard for the
GIL; this object holds only their PIDs. ``stop()`` ends every process it started and leaves no thread behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict

from mdash.config import Config, ModelConfig, PrometheusConfig
from mdash.demo.prometheus import PrometheusServer, ScrapeTarget, find_binary
from mdash.demo.server import MODEL, Faults
from mdash.errors import ConfigError, SourceError

VERSIONS = ("stable", "canary")
# Alerting rules for the demo's Prometheus, so the exceptions group shows real firing alerts when a fault is on.
ALERT_RULES = """groups:
- name: mdash-demo
  rules:
  - alert: ModelErrorRatioHigh
    expr: >-
      sum by (job) (rate(mdash_demo_requests_total{code=~"5.."}[15s]))
      / sum by (job) (rate(mdash_demo_requests_total[15s])) > 0.05
    for: 5s
    labels: {severity: page}
    annotations: {summary: "{{ $labels.job }}: more than 5% of inference requests fail"}
  - alert: ModelLatencyHigh
    expr: >-
      histogram_quantile(0.95, sum by (job, le) (rate(mdash_demo_request_duration_seconds_bucket[15s]))) > 0.25
    for: 5s
    labels: {severity: warn}
    annotations: {summary: "{{ $labels.job }}: p95 inference latency above 250 ms"}
"""


class DemoStack:
    """The embedded demo: ``with DemoStack() as demo: demo.config()`` gives a Config showing both versions."""

    def __init__(
        self,
        *,
        base_port: int | None = None,
        prometheus: bool | None = None,
        canary_latency_ms: float = 0,
        canary_errors: float = 0,
        canary_timeouts: float = 0,
        canary_noise: float = 0,
        canary_drift: float = 0,
        traffic: bool = True,
        seed: int = 0,
        traffic_rps: float = 20.0,
    ) -> None:
        self.canary_faults = Faults()
        knobs = {"latency_ms": canary_latency_ms, "errors": canary_errors, "timeouts": canary_timeouts,
                 "noise": canary_noise, "drift": canary_drift}
        for knob, value in knobs.items():
            try:
                self.canary_faults.update({knob: value})
            except ValueError as exc:
                flag = "--canary-" + knob.split("_")[0]
                raise ConfigError(f"demo canary_{knob} ({flag}): {exc}") from None
        if base_port is not None and not 1024 <= base_port <= 65533:
            raise ConfigError(f"demo base port {base_port}: use a port in 1024-65533 (it takes BASE, BASE+1, BASE+2)")
        self.base_port = base_port
        self.use_prometheus = find_binary() is not None if prometheus is None else prometheus
        self.traffic_rps = traffic_rps if traffic else 0.0
        self.seed = seed
        self.model_name = MODEL
        self.ports: dict[str, int] = {}
        self.pids: dict[str, int] = {}
        self.prometheus: PrometheusServer | None = None
        self._proc: subprocess.Popen | None = None
        self._stderr = None

    @property
    def stable_url(self) -> str:
        return self.url("stable")

    @property
    def canary_url(self) -> str:
        return self.url("canary")

    @property
    def prometheus_url(self) -> str | None:
        return self.prometheus.url if self.prometheus else None

    def url(self, version: str) -> str:
        """Base URL of one version's server."""
        if version not in self.ports:
            raise ConfigError(f"demo version {version!r}: use one of {', '.join(VERSIONS)} (after start())")
        return f"http://127.0.0.1:{self.ports[version]}"

    def admin_url(self, version: str = "canary") -> str:
        """The loopback route that reads (GET) and sets (POST a JSON object) a version's fault knobs."""
        return f"{self.url(version)}/admin/faults"

    def start(self, timeout: float = 30.0) -> DemoStack:
        """Start both servers (and Prometheus); returns once every endpoint answers."""
        if self._proc is not None:
            return self
        ports = [self.base_port + i if self.base_port else 0 for i in range(len(VERSIONS))]
        cmd = [sys.executable, "-m", "mdash.demo.server", "--seed", str(self.seed), "--traffic", str(self.traffic_rps)]
        for version, port in zip(VERSIONS, ports, strict=True):
            cmd += ["--serve", f"{version}={port}"]
        cmd += ["--faults", f"canary={json.dumps(asdict(self.canary_faults))}"]
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env, start_new_session=True
        )
        try:
            self._read_ready(timeout)
            if self.use_prometheus:
                targets = [ScrapeTarget(f"{MODEL}-{v}", f"127.0.0.1:{p}", labels={"version": v})
                           for v, p in self.ports.items()]
                port = self.base_port + len(VERSIONS) if self.base_port else None
                self.prometheus = PrometheusServer(targets, interval="1s", port=port, rules=ALERT_RULES).start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_ready(self, timeout: float) -> None:
        """Read one ``READY version port pid`` line per version from the launcher's stdout."""
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            while len(self.ports) < len(VERSIONS):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceError(f"demo servers not ready after {timeout:.0f} s: {self._stderr_tail()}")
                if not sel.select(left):
                    continue
                chunk = os.read(self._proc.stdout.fileno(), 4096)
                if not chunk:
                    raise SourceError(f"demo server exited with code {self._proc.wait()}: {self._stderr_tail()}")
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    words = line.decode(errors="replace").split()
                    if len(words) == 4 and words[0] == "READY":
                        self.ports[words[1]], self.pids[words[1]] = int(words[2]), int(words[3])

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-5:]) or "(no output)"

    def config(self) -> Config:
        """A Config showing both versions (models "iris-stable" and "iris-canary"), marked as demo data, over 5 min:
        a demo has no older history, so a 15 min range would leave its graphs empty but for the right edge."""
        models = [
            ModelConfig(
                name=f"{MODEL}-{v}", endpoint=self.url(v), metrics=f"{self.url(v)}/metrics", preset="mdash-demo",
                selector=f'job="{MODEL}-{v}"', version=v, served_name=MODEL,
                baseline=self.stable_url if v == "canary" else None,
            )
            for v in VERSIONS
        ]
        prom = PrometheusConfig(url=self.prometheus.url) if self.prometheus else None
        return Config(prometheus=prom, interval=2.0, range_seconds=300.0, models=models, demo=True)

    def set_faults(self, version: str = "canary", **knobs: float) -> None:
        """Change a version's fault knobs now (latency_ms, latency_jitter, errors, timeouts, timeout_s, noise, drift)."""
        request = urllib.request.Request(
            self.admin_url(version), data=json.dumps(knobs).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except urllib.error.HTTPError as exc:
            raise ConfigError(f"demo {version} faults: {json.loads(exc.read()).get('error', exc.reason)}") from None
        except OSError as exc:
            raise SourceError(f"demo {version} admin route {self.admin_url(version)}: {exc}") from None

    def wait_for_data(self, timeout: float = 15) -> bool:
        """Wait until both models have latency data (in Prometheus when there is one: 5 scrapes of traffic, else
        on their /metrics)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._has_data():
                return True
            time.sleep(0.2)
        return False

    def _has_data(self) -> bool:
        if self.prometheus:
            # traffic flows and 5 scrapes are in: a range query at a few seconds' step then has points, where
            # the first rate (2 samples) alone left one aligned to its step before it (an empty analysis frame)
            series = "mdash_demo_request_duration_seconds_count[1m]"
            query = f"count by (job) (rate({series}) > 0 and count_over_time({series}) >= 5)"
            url = f"{self.prometheus.url}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    return len(json.load(r)["data"]["result"]) >= len(VERSIONS)
            except (OSError, ValueError, KeyError):
                return False
        from mdash.sources.scrape import parse

        for version in VERSIONS:
            try:
                with urllib.request.urlopen(f"{self.url(version)}/metrics", timeout=2) as r:
                    page = parse(r.read().decode())
            except (OSError, SourceError):
                return False
            if not any(n == "mdash_demo_request_duration_seconds_count" and v > 0 for n, _, v in page.samples):
                return False
        return True

    def stop(self) -> None:
        """Stop Prometheus and both servers by PID; idempotent."""
        if self.prometheus is not None:
            self.prometheus.stop()
            self.prometheus = None
        proc, self._proc = self._proc, None
        if proc is not None:
            for pid in self.pids.values():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            with contextlib.suppress(OSError):
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            proc.stdout.close()
            self._reap_forked()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _reap_forked(self) -> None:
        """The canary is the launcher's fork: the launcher waits for it, but make sure it is gone."""
        import psutil

        for version, pid in self.pids.items():
            if version == VERSIONS[0]:
                continue
            with contextlib.suppress(psutil.NoSuchProcess):
                proc = psutil.Process(pid)
                try:
                    proc.wait(timeout=5)
                except psutil.TimeoutExpired:
                    proc.kill()

    def __enter__(self) -> DemoStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
