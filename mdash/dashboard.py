"""Gather every panel of a config into one Snapshot: concurrent fetches, thresholds, stale data and anomaly flags.

This is the only place that fetches. The TUI and the notebook call ``snapshot()`` (off their UI thread) and draw
what comes back; a failing source fails its panels, never the call.
"""

from __future__ import annotations

import importlib
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import pandas as pd

from mdash import anomaly
from mdash.config import Config, ModelConfig
from mdash.errors import MdashError, QueryError, SourceError
from mdash.panels import Alert, PanelResult, PanelSpec, Snapshot
from mdash.sources.endpoint import EndpointStatus, probe
from mdash.sources.host import HostProbe, is_local, listening_pid
from mdash.sources.prometheus import PrometheusSource, step_for

ALERTS_PANEL = PanelSpec(
    title="firing alerts", group="exceptions", queries=(), unit="alerts", warn=1, kind="stat",
    note="from the server's /api/v1/alerts",
)
HOST_PANELS = (  # (title, HostProbe column, unit) for local model processes whose preset has no resources panels
    ("process CPU (local)", "cpu_percent", "percent"),
    ("process RSS (local)", "rss_bytes", "bytes"),
    ("disk read (local)", "read_bytes_per_s", "bytes/s"),
    ("disk write (local)", "write_bytes_per_s", "bytes/s"),
)
NEEDS_PROMETHEUS = "needs Prometheus: custom PromQL cannot be computed from a scrape"
PROBE_TIMEOUT = 2.0
JOIN = 16  # queries per joined request: few round trips, yet several requests for Prometheus' cores to share


def _optional(module: str) -> Any:
    """A sibling module built in parallel (presets, scrape), or None while it does not exist yet."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise
        return None


def _epoch(t: float | datetime | None, default: float) -> float:
    if t is None:
        return default
    return t.timestamp() if isinstance(t, datetime) else float(t)


def _merge(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Columns of several queries side by side, renaming repeated legends so none is lost."""
    if len(frames) == 1:
        return frames[0]
    seen: set[str] = set()
    renamed = []
    for frame in frames:
        names = []
        for col in map(str, frame.columns):
            name, n = col, 2
            while name in seen:
                name, n = f"{col} #{n}", n + 1
            seen.add(name)
            names.append(name)
        renamed.append(frame.set_axis(names, axis=1))
    return pd.concat(renamed, axis=1).sort_index()


class Dashboard:
    """The panels of a config (preset defaults per model + custom panels), fetched on demand into Snapshots."""

    def __init__(
        self, config: Config, *, clock: Callable[[], float] = time.time, max_workers: int = 8, points: int = 300
    ) -> None:
        self.config = config
        self.clock = clock
        self.points = points
        self.range_seconds = config.range_seconds
        self.source = config.prometheus.url if config.prometheus else "direct"
        self._prom = PrometheusSource(config.prometheus) if config.prometheus else None
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="mdash-fetch")
        self._http = httpx.Client(timeout=PROBE_TIMEOUT)
        self._lock = threading.Lock()
        self._last_good: dict[str, pd.DataFrame] = {}
        self._scrapers: dict[str, Any] = {}
        self._presets: dict[str, str] = {}
        self._specs: list[PanelSpec] | None = None
        self._host_specs: dict[str, tuple[ModelConfig, str]] = {}
        self._host_probes: dict[str, HostProbe] = {}
        self.notifier = self._notifier(config)

    @staticmethod
    def _notifier(config: Config) -> Any:
        """The [[notify]] rules' Notifier, fed every snapshot so the TUI, notebook and CLI all alert the same way."""
        if not config.notify:
            return None
        from mdash.actions.notify import Notifier

        return Notifier(config.notify, default_target=config.rollback)

    # --- panel specs -------------------------------------------------------------------------------------
    @property
    def specs(self) -> list[PanelSpec]:
        """Default panels of each model (from its preset) followed by the custom panels; built once."""
        if self._specs is None:
            presets = _optional("mdash.presets")
            specs: list[PanelSpec] = []
            if presets is not None:
                for model in self.config.models:
                    specs.extend(presets.default_panels(model, self.preset_for(model)))
            for model in self.config.models:
                if is_local(model.endpoint) and not any(s.model == model.name and s.group == "resources" for s in specs):
                    for title, column, unit in HOST_PANELS:
                        spec = PanelSpec(title, "resources", (), unit=unit, model=model.name, note="psutil, this machine")
                        self._host_specs[spec.key] = (model, column)
                        specs.append(spec)
            specs.extend(self.config.panels)
            if self._prom is not None:
                specs.append(ALERTS_PANEL)
            self._specs = specs
        return self._specs

    @specs.setter
    def specs(self, specs: list[PanelSpec]) -> None:
        self._specs = list(specs)

    def preset_for(self, model: ModelConfig) -> str:
        """The model's preset; "auto" is detected once from a scrape of its /metrics (or Prometheus' metric names)."""
        if model.preset != "auto":
            return model.preset
        if model.name in self._presets:
            return self._presets[model.name]
        presets = _optional("mdash.presets")
        text = self._sample_text(model)
        if not text or presets is None:
            return "generic-http"  # nothing to read yet: not cached, so a later call detects for real
        self._presets[model.name] = presets.detect(text)
        return self._presets[model.name]

    def detected(self, model: ModelConfig) -> bool:
        """True when the model's preset is explicit or was detected from a real scrape (not a fallback)."""
        return model.preset != "auto" or model.name in self._presets

    def _sample_text(self, model: ModelConfig) -> str:
        """One exposition page of the model's metrics, or its metric names from Prometheus; "" when neither answers."""
        if model.metrics:
            try:
                scraper = self._scraper(model.metrics)
                scraper.scrape()
                return scraper.text
            except (MdashError, AttributeError):
                pass
        if self._prom is not None:
            try:
                return "".join(f"{name} 0\n" for name in self._prom.metric_names(model.selector))
            except MdashError:
                pass
        return ""

    def _scraper(self, url: str) -> Any:
        if url not in self._scrapers:
            scrape = _optional("mdash.sources.scrape")
            if scrape is None:
                raise SourceError("direct mode needs mdash.sources.scrape, which this build does not have")
            timeout = self.config.prometheus.timeout if self.config.prometheus else 5.0
            self._scrapers[url] = scrape.Scraper(url, timeout=timeout, clock=self.clock)
        return self._scrapers[url]

    # --- fetching ----------------------------------------------------------------------------------------
    def snapshot(
        self, *, models: list[str] | None = None, groups: list[str] | None = None, keys: set[str] | None = None
    ) -> Snapshot:
        """Fetch the asked-for panels concurrently and judge them; never raises for a source failure."""
        with self._lock:
            now = self.clock()
            specs = [
                s for s in self.specs
                if (models is None or s.model in models or not s.model)
                and (groups is None or s.group in groups)
                and (keys is None or s.key in keys)
            ]
            end = float(math.ceil(now))  # the client sends whole seconds; never cut off the newest sample
            start, step = end - self.range_seconds, step_for(self.range_seconds, self.points)
            probes = [
                self._pool.submit(probe, self._http, m.name, m.endpoint, m.server_name, clock=self.clock)
                for m in self.config.models
                if m.endpoint and (models is None or m.name in models)
            ]
            remote = [s for s in specs if s.key not in self._host_specs]
            if self._prom is not None:
                fetched, alerts, errors = self._fetch_prometheus(remote, start, end, step)
            else:
                fetched, errors = self._fetch_direct(remote, start, end, step)
                alerts = []
            fetched.update(self._fetch_host([s for s in specs if s.key in self._host_specs]))
            panels = [self._result(spec, fetched[spec.key], now) for spec in specs]
            endpoints: list[EndpointStatus] = [f.result() for f in probes]
        snap = Snapshot(
            taken_at=now,
            source=self.source,
            panels=panels,
            alerts=alerts,
            endpoints=endpoints,
            errors=errors,
            demo=self.config.demo,
            reachable=not errors,
        )
        if self.notifier is not None:
            self.notifier.observe(snap)  # queues sends on the notifier's own thread; never blocks the refresh
        return snap

    def _fetch_prometheus(self, specs: list[PanelSpec], start: float, end: float, step: float):
        """Every query of every panel in a few joined requests (range_many), all in flight at once on the pool;
        per panel a merged frame or its first error."""
        assert self._prom is not None
        alerts_job = self._pool.submit(self._prom.alerts) if ALERTS_PANEL in specs else None
        flat = [(s.key, q) for s in specs if s is not ALERTS_PANEL for q in s.queries]
        chunks = [flat[i : i + JOIN] for i in range(0, len(flat), JOIN)]
        jobs = [
            (chunk, self._pool.submit(self._prom.range_many, [(q.promql, q.legend) for _, q in chunk], start, end, step))
            for chunk in chunks
        ]
        frames: dict[str, list[pd.DataFrame]] = {s.key: [] for s in specs if s is not ALERTS_PANEL}
        failed: dict[str, MdashError] = {}
        unreachable: list[str] = []
        for chunk, job in jobs:
            try:
                got = job.result()
            except MdashError as err:  # the server did not answer: every query of the chunk fails alike
                got = [err] * len(chunk)
                if isinstance(err, SourceError) and not isinstance(err, QueryError):
                    unreachable.append(str(err))
            for (key, _), frame in zip(chunk, got, strict=True):
                if isinstance(frame, MdashError):
                    failed.setdefault(key, frame)
                else:
                    frames[key].append(frame)
        fetched: dict[str, Any] = {
            key: failed[key] if key in failed else (_merge(parts) if parts else pd.DataFrame())
            for key, parts in frames.items()
        }
        alerts: list[Alert] = []
        if alerts_job is not None:
            try:
                alerts = alerts_job.result()
                firing = float(sum(a.state == "firing" for a in alerts))
                fetched[ALERTS_PANEL.key] = pd.DataFrame({"firing": [firing]}, index=pd.to_datetime([end], unit="s", utc=True))
            except MdashError as err:
                fetched[ALERTS_PANEL.key] = err
                if isinstance(err, SourceError) and not isinstance(err, QueryError):
                    unreachable.append(str(err))
        total = len(jobs) + (alerts_job is not None)
        return fetched, alerts, [unreachable[0]] if unreachable and len(unreachable) == total else []

    def _fetch_direct(self, specs: list[PanelSpec], start: float, end: float, step: float):
        urls = {m.name: m.metrics for m in self.config.models if m.metrics}
        needed = {urls[s.model] for s in specs if s.model in urls and any(q.direct for q in s.queries)}
        scraped: dict[str, Exception | None] = {}
        jobs = {}
        for url in needed:
            try:
                jobs[url] = self._pool.submit(self._scraper(url).scrape)
            except MdashError as err:
                scraped[url] = err
        for url, job in jobs.items():
            try:
                job.result()
                scraped[url] = None
            except MdashError as err:
                scraped[url] = err
        fetched: dict[str, Any] = {}
        for spec in specs:
            url = urls.get(spec.model)
            if not spec.queries or not all(q.direct for q in spec.queries) or url is None:
                fetched[spec.key] = NEEDS_PROMETHEUS
            elif scraped.get(url) is not None:
                fetched[spec.key] = scraped[url]
            else:
                try:
                    scraper = self._scrapers[url]
                    fetched[spec.key] = _merge([scraper.evaluate(q.expr, start, end, step, legend=q.legend) for q in spec.queries])
                except MdashError as err:
                    fetched[spec.key] = err
        failed = [str(err) for err in scraped.values() if err is not None]  # the error names its URL
        return fetched, failed if failed and len(failed) == len(scraped) else []

    def _fetch_host(self, specs: list[PanelSpec]) -> dict[str, Any]:
        """Sample each local model process once (psutil) and cut its history into the asked-for panels."""
        sampled: dict[str, Exception | None] = {}
        fetched: dict[str, Any] = {}
        for spec in specs:
            model, column = self._host_specs[spec.key]
            if model.name not in sampled:
                sampled[model.name] = self._sample_host(model)
            err = sampled[model.name]
            fetched[spec.key] = err if err is not None else self._host_probes[model.name].frame(column)
        return fetched

    def _sample_host(self, model: ModelConfig) -> Exception | None:
        try:
            if model.name not in self._host_probes:
                pid = listening_pid(model.endpoint or "")
                if pid is None:
                    raise SourceError(f"no process on this machine listens at {model.endpoint}")
                self._host_probes[model.name] = HostProbe(pid, clock=self.clock, history=2 * self.points)
            self._host_probes[model.name].sample()
            return None
        except SourceError as err:
            self._host_probes.pop(model.name, None)  # found again next time, e.g. after a restart
            return err

    def _result(self, spec: PanelSpec, got: pd.DataFrame | Exception | str, now: float) -> PanelResult:
        """Judge one panel's fetch: ok/warn/crit/nodata from its latest value, or error/stale from its failure."""
        if isinstance(got, str):
            return PanelResult(spec, state="nodata", error=got)
        if isinstance(got, Exception):
            last = self._last_good.get(spec.key)
            if last is None:
                return PanelResult(spec, state="error", error=str(got))
            result = self._judged(spec, last, now)
            result.state, result.error = "stale", str(got)
            return result
        self._last_good[spec.key] = got
        return self._judged(spec, got, now)

    def _judged(self, spec: PanelSpec, frame: pd.DataFrame, now: float) -> PanelResult:
        result = PanelResult(spec, frame=frame, warnings=list(frame.attrs.get("warnings", [])))
        if frame.empty or not len(frame.columns):
            result.state = "nodata"
            return result
        values = frame.to_numpy(dtype=float)
        finite_rows = np.flatnonzero(np.isfinite(values).any(axis=1))
        if len(finite_rows) and isinstance(frame.index, pd.DatetimeIndex):
            result.age = max(0.0, now - frame.index[finite_rows[-1]].timestamp())
        first = frame.iloc[:, 0].to_numpy(dtype=float)
        finite = first[np.isfinite(first)]
        result.value = float(finite[-1]) if len(finite) else None
        result.state = spec.judge(result.value)
        result.anomaly, result.anomaly_reason = anomaly.flag(frame.iloc[:, 0])
        return result

    def query(
        self,
        promql: str,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
        step: float | None = None,
    ) -> pd.DataFrame:
        """One range query as a frame (UTC DatetimeIndex, a column a series), for notebooks; raises on failure."""
        if self._prom is None:
            raise QueryError(f"{promql}: {NEEDS_PROMETHEUS}; configure [prometheus] url")
        end_s = _epoch(end, self.clock())
        start_s = _epoch(start, end_s - self.range_seconds)
        return self._prom.range(promql, start_s, end_s, step or step_for(end_s - start_s, self.points))

    def close(self) -> None:
        """Stop the fetch pool and close every connection this dashboard opened."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self.notifier is not None:
            self.notifier.close()  # queued alerts are delivered (and audited), not dropped
        self._http.close()
        if self._prom is not None:
            self._prom.close()
        for scraper in self._scrapers.values():
            close = getattr(scraper, "close", None)
            if close:
                close()

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
