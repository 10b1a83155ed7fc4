"""Direct mode: scrape one /metrics page, keep a bounded history per series, evaluate preset Exprs on it.

Without a Prometheus, the dashboard keeps one :class:`Scraper` per metrics URL. Each ``scrape()`` parses the text
exposition format with :func:`parse` (a regex parser measured faster than prometheus_client's, see
bench/parse.py) and appends one column to a ring buffer shared by every series of that page.

Memory cap: one float64 per series per kept scrape, so ``series x max_points x 8 bytes`` (plus the series' labels
once); with the default ``max_points=1800`` (30 min at 1 s, 1 h at 2 s) that is 14.4 KB per series.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np
import pandas as pd

from mdash.errors import QueryError, SourceError
from mdash.expr import Node, matches
from mdash.sources.prometheus import legend_for

Labels = tuple[tuple[str, str], ...]
Sample = tuple[str, Labels, float]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_PAIR = r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\.)*)"\s*'
_LABELS = re.compile(rf"(?:{_PAIR},)*(?:{_PAIR})?\Z")
_PAIRS = re.compile(_PAIR)
_FAST_PAIRS = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\\n]*)"')
_FAST_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
_FAST_LABELS = re.compile(rf"(?:{_FAST_PAIR}(?:,{_FAST_PAIR})*,?)?\Z")
_UNESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "\\": "\\", '"': '"'}
MAX_STEPS = 11_000  # the same cap Prometheus puts on a range query
MAX_STEPS = 11_000  # the same cap Prometheus puts on a range query
TYPES = ("counter", "gauge", "histogram", "summary", "untyped", "unknown", "info", "stateset", "gaugehistogram")


@dataclass
class Page:
    """One parsed /metrics page: samples in page order and the declared type of each metric family."""

    samples: list[Sample] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)

    def families(self) -> set[str]:
        """Metric family names: declared ones plus every sample name (for fingerprinting)."""
        return set(self.types) | {name for name, _, _ in self.samples}


def parse(text: str, cache: dict[str, Labels] | None = None) -> Page:
    """Parse the Prometheus text exposition format (and OpenMetrics text); raises SourceError naming the line.

    ``cache`` maps label strings already seen to their parsed labels, so repeated scrapes of one page skip the
    label parsing (a Scraper keeps one).
    """
    page = Page()
    samples, types = page.samples, page.types
    labels_cache = {} if cache is None else cache
    names: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line or line.isspace():
            continue
        if line[0] == "#":
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                if parts[3].strip() not in TYPES:
                    raise SourceError(f"line {number}: unknown metric type {parts[3].strip()!r}")
                types[parts[2]] = parts[3].strip()
            continue
        brace = line.find("{")
        if brace >= 0:
            name = line[:brace].strip()
            close = line.rfind("}")
            if close < brace:
                raise SourceError(f"line {number}: '{{' without '}}': {line[:120]!r}")
            text_labels = line[brace + 1 : close]
            labels = labels_cache.get(text_labels)
            if labels is None:
                labels = _parse_labels(text_labels, number)
                labels_cache[text_labels] = labels
            rest = line[close + 1 :].split()
        else:
            parts = line.split()
            name, rest, labels = parts[0], parts[1:], ()
        if name not in names:
            if not _NAME.match(name):
                raise SourceError(f"line {number}: bad metric name {name!r}")
            names.add(name)
        if not 1 <= len(rest) <= 2:
            raise SourceError(f"line {number}: expected 'name{{labels}} value [timestamp]', got {line[:120]!r}")
        try:
            value = float(rest[0])
        except ValueError:
            raise SourceError(f"line {number}: value {rest[0][:40]!r} is not a number") from None
        samples.append((name, labels, value))
    return page


def _parse_labels(text: str, number: int) -> Labels:
    if _FAST_LABELS.match(text):  # the common case: no spaces, no escapes
        return tuple(sorted(_FAST_PAIRS.findall(text)))
    if not _LABELS.match(text):
        raise SourceError(f'line {number}: bad label set {{{text[:120]}}}; expected name="value" pairs')
    pairs = _PAIRS.findall(text)
    if any("\\" in v for _, v in pairs):
        pairs = [(k, _UNESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), v)) for k, v in pairs]
    return tuple(sorted(pairs))


class Scraper:
    """Scrape one /metrics URL into a bounded ring buffer per series and evaluate preset Exprs on it."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        max_points: int = 1800,
        headers: dict[str, str] | None = None,
    ) -> None:
        if max_points < 2:
            raise SourceError(f"Scraper max_points={max_points}: keep at least 2 scrapes (a rate needs two)")
        self.url = url
        self.timeout = timeout
        self.clock = clock
        self.max_points = max_points
        self.headers = headers or {}
        self.text = ""
        self.types: dict[str, str] = {}
        self.scrapes = 0
        self._client: httpx.Client | None = None
        self._labels_cache: dict[str, Labels] = {}
        self._rows: dict[tuple[str, Labels], int] = {}
        self._by_name: dict[str, list[int]] = {}
        self._meta: list[tuple[str, Labels]] = []
        self._times = np.full(max_points, np.nan)
        self._values = np.full((0, max_points), np.nan)
        self._lock = threading.Lock()

    def scrape(self) -> None:
        """Fetch and ingest the page now; raises SourceError saying what failed and where."""
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, headers=self.headers, follow_redirects=True)
        try:
            resp = self._client.get(self.url)
        except httpx.HTTPError as exc:
            raise SourceError(f"{self.url}: cannot scrape ({type(exc).__name__}: {exc})") from None
        if resp.status_code != 200:
            raise SourceError(f"{self.url}: HTTP {resp.status_code} {resp.reason_phrase}: {resp.text[:200]!r}")
        self.ingest(resp.text, self.clock())

    def ingest(self, text: str, at: float) -> None:
        """Parse one page taken at time ``at`` and append it to the history (tests and benches inject time)."""
        try:
            page = parse(text, self._labels_cache)
        except SourceError as exc:
            raise SourceError(f"{self.url}: not a Prometheus text page: {exc}") from None
        if len(self._labels_cache) > 200_000:
            self._labels_cache.clear()
        with self._lock:
            slot = self.scrapes % self.max_points
            column = self._values[:, slot]
            column[:] = np.nan
            rows, values = self._rows, []
            for name, labels, value in page.samples:
                key = (name, labels)
                row = rows.get(key)
                if row is None:
                    row = self._add_series(key)
                values.append((row, value))
            if values:
                idx, vals = zip(*values, strict=True)
                self._values[list(idx), slot] = vals
            self._times[slot] = at
            self.scrapes += 1
            self.text, self.types = text, page.types

    def _add_series(self, key: tuple[str, Labels]) -> int:
        row = len(self._meta)
        if row == len(self._values):
            grown = np.full((row + max(16, row // 8), self.max_points), np.nan)  # +12.5 %: little slack
            grown[:row] = self._values
            self._values = grown
        self._rows[key] = row
        self._meta.append(key)
        self._by_name.setdefault(key[0], []).append(row)
        return row

    @property
    def series(self) -> int:
        """How many series the history holds."""
        return len(self._meta)

    def _order(self) -> np.ndarray:
        n = self.scrapes
        return np.arange(n) if n <= self.max_points else (np.arange(self.max_points) + n) % self.max_points

    def select(self, metric: str, matchers: tuple) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
        """(labels, times, values) of each series of ``metric`` matching; matchers on job/instance are ignored."""
        with self._lock:
            order = self._order()
            times = self._times[order]
            out = []
            for row in self._by_name.get(metric, ()):
                labels = self._meta[row][1]
                if matches(dict(labels), matchers, direct=True):
                    out.append((labels, times, self._values[row, order]))
            return out

    def evaluate(self, expr: Node, start: float, end: float, step: float, legend: str = "") -> pd.DataFrame:
        """The Expr at each step from start to end (unix seconds), as a frame: UTC DatetimeIndex, a column a series."""
        if not isinstance(expr, Node):
            raise QueryError(f"direct mode computes preset queries only, not {expr!r}: needs Prometheus")
        if step <= 0 or end < start:
            raise QueryError(f"bad range: start={start} end={end} step={step}; need step > 0 and end >= start")
        steps = np.arange(start, end + step * 1e-6, step)[:MAX_STEPS]
        vector = expr.evaluate(self, steps)
        index = pd.to_datetime(steps, unit="s", utc=True)
        columns: dict[str, np.ndarray] = {}
        for labels, values in sorted(vector.items()):
            if np.isnan(values).all():
                continue
            name = base = legend_for(dict(labels), legend, expr.promql())
            n = 2
            while name in columns:
                name, n = f"{base} #{n}", n + 1
            columns[name] = values
        return pd.DataFrame(columns, index=index, dtype=float)

    def memory_bytes(self) -> int:
        """Bytes held by the sample history (the ring buffers and timestamps)."""
        return self._values[: self.series].nbytes + self._times.nbytes

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
