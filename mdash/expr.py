"""Structured queries: one small tree that renders PromQL *and* is computed in direct mode from scraped samples.

Presets build their panels from these nodes, so a panel means the same thing with and without a Prometheus. The
direct-mode semantics follow Prometheus 2.x: ``rate`` is ``extrapolatedRate`` (counter resets, extrapolation to
the window edges, the zero-point cap), ``histogram_quantile`` is ``bucketQuantile`` (sorted, coalesced, monotonic
buckets, linear interpolation, lower bound 0), instant selectors look back 5 minutes and respect staleness, binary
operators match series on identical label sets. A vector over time is ``{labels: values per step}`` with NaN where
a series is absent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from mdash.errors import ConfigError

Labels = tuple[tuple[str, str], ...]
Matcher = tuple[str, str, str]  # (label, op, value) with op one of = != =~ !~
Vector = dict[Labels, np.ndarray]
LOOKBACK = 300.0  # Prometheus' default lookback delta for instant selectors
TARGET_LABELS = ("job", "instance")  # added by Prometheus at scrape time; a direct scrape has none

_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


class SeriesSource(Protocol):
    """What direct-mode evaluation reads: the full history of the series a selector matches."""

    def select(self, metric: str, matchers: tuple[Matcher, ...]) -> list[tuple[Labels, np.ndarray, np.ndarray]]: ...


class Node:
    """Base of every query node: PromQL text, direct evaluation, referenced metrics, selector scoping."""

    def promql(self) -> str:
        raise NotImplementedError

    def evaluate(self, source: SeriesSource, steps: np.ndarray) -> Vector:
        raise NotImplementedError

    def metrics(self) -> set[str]:
        return set().union(*(c.metrics() for c in self.children()))

    def children(self) -> tuple[Node, ...]:
        return ()

    def scoped(self, matchers: tuple[Matcher, ...]) -> Node:
        """The same query with extra label matchers on every selector (a model's scope)."""
        return replace(self, **{k: v.scoped(matchers) for k, v in vars(self).items() if isinstance(v, Node)})

    def __str__(self) -> str:
        return self.promql()


def parse_selector(text: str, where: str = "selector") -> tuple[Matcher, ...]:
    """Matchers from a PromQL label selector such as ``job="api", code=~"5.."`` (braces optional)."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out, pos = [], 0
    while pos < len(body.rstrip()):
        m = _MATCHER.match(body, pos)
        if not m:
            raise ConfigError(f'{where}: cannot read {text!r} as label matchers; write e.g. job="api", env=~"prod|stage"')
        value = re.sub(r"\\(.)", r"\1", m.group(3))
        if m.group(2) in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ConfigError(f"{where}: regex {value!r} for label {m.group(1)!r} is invalid: {exc}") from None
        out.append((m.group(1), m.group(2), value))
        pos = m.end()
    return tuple(out)


def matches(labels: dict[str, str], matchers: Iterable[Matcher], *, direct: bool = False) -> bool:
    """Prometheus label matching (regexes fully anchored, a missing label is ""); ``direct`` skips target labels."""
    for name, op, value in matchers:
        if direct and name in TARGET_LABELS and name not in labels:
            continue
        have = labels.get(name, "")
        if op == "=":
            ok = have == value
        elif op == "!=":
            ok = have != value
        else:
            ok = re.fullmatch(value, have) is not None
            ok = ok if op == "=~" else not ok
        if not ok:
            return False
    return True


def _matchers_text(matchers: tuple[Matcher, ...]) -> str:
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, _, v in matchers)
    return ", ".join(f'{n}{op}"{e}"' for (n, op, _), e in zip(matchers, escaped, strict=True))


def duration(seconds: float) -> str:
    """PromQL duration text: 60 → "1m", 90 → "90s", 3600 → "1h"."""
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds * 1000)}ms"


def _drop_name(labels: Labels) -> Labels:
    return tuple(p for p in labels if p[0] != "__name__")


@dataclass(frozen=True)
class Selector(Node):
    """An instant vector selector: ``metric{matchers}``, the latest sample within the lookback."""

    metric: str
    matchers: tuple[Matcher, ...] = ()

    def promql(self) -> str:
        return f"{self.metric}{{{_matchers_text(self.matchers)}}}" if self.matchers else self.metric

    def metrics(self) -> set[str]:
        return {self.metric}

    def scoped(self, matchers: tuple[Matcher, ...]) -> Selector:
        return replace(self, matchers=self.matchers + tuple(m for m in matchers if m not in self.matchers))

    def evaluate(self, source: SeriesSource, steps: np.ndarray) -> Vector:
        out: Vector = {}
        for labels, t, v in source.select(self.metric, self.matchers):
            idx = np.searchsorted(t, steps, side="right") - 1
            ok = (idx >= 0) & (steps - t[np.maximum(idx, 0)] <= LOOKBACK)
            out[(("__name__", self.metric), *labels)] = np.where(ok, v[np.maximum(idx, 0)], np.nan)
        return out


@dataclass(frozen=True)
class Rate(Node):
    """``rate(counter[window])``: per-second increase, with Prometheus' reset handling and extrapolation."""

    selector: Selector
    window: float = 60.0

    def promql(self) -> str:
        return f"rate({self.selector.promql()}[{duration(self.window)}])"

    def children(self) -> tuple[Node, ...]:
        return (self.selector,)

    def evaluate(self, source: SeriesSource, steps: np.ndarray) -> Vector:
        out: Vector = {}
        for labels, t_all, v_all in source.select(self.selector.metric, self.selector.matchers):
            keep = ~np.isnan(v_all)
            t, v = t_all[keep], v_all[keep]
            out[labels] = extrapolated_rate(t, v, steps, self.window)
        return out


def extrapolated_rate(t: np.ndarray, v: np.ndarray, steps: np.ndarray, window: float) -> np.ndarray:
    """Prometheus' extrapolatedRate for a counter, vectorized over evaluation steps (NaN: fewer than 2 samples)."""
    result = np.full(len(steps), np.nan)
    if len(t) < 2:
        return result
    resets = np.where(v[1:] < v[:-1], v[:-1], 0.0)
    adjusted = v + np.concatenate(([0.0], np.cumsum(resets)))
    lo = np.searchsorted(t, steps - window, side="left")
    hi = np.searchsorted(t, steps, side="right") - 1
    ok = hi - lo >= 1
    lo, hi, at = lo[ok], hi[ok], steps[ok]
    increase = adjusted[hi] - adjusted[lo]
    sampled = t[hi] - t[lo]
    average = sampled / (hi - lo)
    to_start = t[lo] - (at - window)
    to_end = at - t[hi]
    with np.errstate(divide="ignore", invalid="ignore"):
        to_zero = np.where((increase > 0) & (v[lo] >= 0), sampled * (v[lo] / increase), np.inf)
        to_start = np.minimum(to_start, to_zero)
        threshold = average * 1.1
        extended = sampled + np.where(to_start < threshold, to_start, average / 2)
        extended += np.where(to_end < threshold, to_end, average / 2)
        result[ok] = increase * (extended / sampled) / window
    return result


@dataclass(frozen=True)
class Agg(Node):
    """``op by (labels) (expr)`` for op in sum, avg, max, min, count."""

    op: str
    expr: Node
    by: tuple[str, ...] = ()

    def promql(self) -> str:
        by = f" by ({', '.join(self.by)})" if self.by else ""
        return f"{self.op}{by} ({self.expr.promql()})"

    def children(self) -> tuple[Node, ...]:
        return (self.expr,)

    def evaluate(self, source: SeriesSource, steps: np.ndarray) -> Vector:
        groups: dict[Labels, list[np.ndarray]] = {}
        for labels, values in self.expr.evaluate(source, steps).items():
            key = tuple(p for p in labels if p[0] in self.by)
            groups.setdefault(key, []).append(values)
        out: Vector = {}
        for key, rows in groups.items():
            m = np.vstack(rows)
            present = (~np.isnan(m)).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                if self.op == "sum":
                    value = np.nansum(m, axis=0)
                elif self.op == "avg":
                    value = np.nansum(m, axis=0) / present
                elif self.op == "count":
                    value = present.astype(float)
                else:
                    filled = np.where(np.isnan(m), -np.inf if self.op == "max" else np.inf, m)
                    value = filled.max(axis=0) if self.op == "max" else filled.min(axis=0)
            out[key] = np.where(present > 0, value, np.nan)
        return out


@dataclass(frozen=True)
class Quantile(Node):
    """``histogram_quantile(q, expr)`` over bucket series (``le`` label) — Prometheus' bucketQuantile."""

    q: float
    expr: Node

    def promql(self) -> str:
        return f"histogram_quantile({self.q:g}, {self.expr.promql()})"

    def children(self) -> tuple[Node, ...]:
        return (self.expr,)

    def evaluate(self, source: SeriesSource, steps: np.ndarray) -> Vector:
        groups: dict[Labels, list[tuple[float, np.ndarray]]] = {}
        for labels, values in self.expr.evaluate(source, steps).items():
            le = dict(labels).get("le")
            try:
                bound = float(le) if le is not None else None
            except ValueError:
                bound = None
            if bound is None:
                continue  # samples without a usable le are ignored, as in Prometheus
            key = tuple(p for p in labels if p[0] not in ("le", "__name__"))
            groups.setdefault(key, []).append((bound, values))
        return {key: bucket_quantile(self.q, buckets) for key, buckets in groups.items()}


def bucket_quantile(q: float, buckets: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """Prometheus' bucketQuantile for every step at once: buckets are (upper bound, counts per step)."""
    steps = len(buckets[0][1])
    if math.isnan(q):
        return np.full(steps, np.nan)
    if q < 0 or q > 1:
        return np.full(steps, -np.inf if q < 0 else np.inf)
    bounds = np.array(sorted({b for b, _ in buckets}))
    counts = np.zeros((len(bounds), steps))
    for b, values in buckets:  # coalesce equal bounds
        counts[np.searchsorted(bounds, b)] += values
    if len(bounds) < 2 or not math.isinf(bounds[-1]):
        return np.full(steps, np.nan)
    missing = np.isnan(counts).any(axis=0)
    counts = np.fmax.accumulate(counts, axis=0)  # ensureMonotonic
    total = counts[-1]
    rank = q * total
    reached = counts[:-1] >= rank
    b = np.where(reached.any(axis=0), reached.argmax(axis=0), len(bounds) - 1)
    cols = np.arange(steps)
    below = np.where(b > 0, counts[np.maximum(b - 1, 0), cols], 0.0)
    start = np.where(b > 0, bounds[np.maximum(b - 1, 0)], 0.0)
    end = bounds[np.minimum(b, len(bounds) - 1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = start + (end - start) * ((rank - below) / (counts[np.minimum(b, len(bounds) - 1), cols] - below))
    result = np.where(b == len(bounds) - 1, bounds[-2], inside)
    result = np.where((b == 0) & (bounds[0] <= 0), bounds[0], result)
    return np.where((total > 0) & ~missing, result, np.nan)


@dataclass(frozen=True)
class Num(Node):
    """A number (PromQL scalar)."""

    value: float

    def promql(self) -> str:
        return f"{self.value:g}"

    def evaluate(self, source: SeriesSource, steps: np.ndarray) -> Vector:
        return {(): np.full(len(steps), float(self.value))}


_OPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}


@dataclass(frozen=True)
class BinOp(Node):
    """``left op right`` for + - * /: vectors match on identical label sets; a number applies to every series."""

    left: Node
    op: str
    right: Node

    def promql(self) -> str:
        def side(n: Node) -> str:
            return n.promql() if isinstance(n, Num | Selector) else f"({n.promql()})"

        return f"{side(self.left)} {self.op} {side(self.right)}"

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def evaluate(self, source: SeriesSource, steps: np.ndarray) -> Vector:
        fn = _OPS[self.op]
        left, right = self.left.evaluate(source, steps), self.right.evaluate(source, steps)
        with np.errstate(divide="ignore", invalid="ignore"):
            if isinstance(self.right, Num):
                return {_drop_name(k): fn(v, right[()]) for k, v in left.items()}
            if isinstance(self.left, Num):
                return {_drop_name(k): fn(left[()], v) for k, v in right.items()}
            rhs = {_drop_name(k): v for k, v in right.items()}
            return {key: fn(v, rhs[key]) for key, v in ((_drop_name(k), v) for k, v in left.items()) if key in rhs}


@dataclass(frozen=True)
class OrZero(Node):
    """``expr or vector(0)``: a label-less aggregate that reads 0 instead of "no data" (e.g. no errors yet)."""

    expr: Node

    def promql(self) -> str:
        return f"({self.expr.promql()}) or vector(0)"

    def children(self) -> tuple[Node, ...]:
        return (self.expr,)

    def evaluate(self, source: SeriesSource, steps: np.ndarray) -> Vector:
        out = dict(self.expr.evaluate(source, steps))
        out[()] = np.where(np.isnan(out[()]), 0.0, out[()]) if () in out else np.zeros(len(steps))
        return out


def rate(metric: str, window: float = 60.0, **labels: str) -> Rate:
    """Shorthand: ``rate(metric{label="value", ...}[window])``; a value starting with "~" is a regex match."""
    return Rate(Selector(metric, _eq(labels)), window)


def sel(metric: str, **labels: str) -> Selector:
    """Shorthand for a selector; a value starting with "~" is a regex match."""
    return Selector(metric, _eq(labels))


def _eq(labels: dict[str, str]) -> tuple[Matcher, ...]:
    return tuple((k, "=~", v[1:]) if v.startswith("~") else (k, "=", v) for k, v in labels.items())
