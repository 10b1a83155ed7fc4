"""Render-neutral state the TUI keeps between refreshes: capped panel views, the events feed, exports.

Widgets only read these; nothing here imports Textual, so the refresh loop's bookkeeping is testable alone.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mdash.fmt import fmt_value, unix_seconds

if TYPE_CHECKING:  # pandas (via mdash.panels) loads after the first screen, with the dashboard
    from mdash.panels import PanelResult, PanelSpec, Snapshot


def thin(n: int, max_points: int) -> np.ndarray:
    """Row positions keeping at most ``max_points`` of ``n`` evenly, always including the newest."""
    step = max(1, -(-n // max(1, max_points)))
    return np.arange(n - 1, -1, -step)[::-1]


@dataclass
class PanelView:
    """What one panel draws: its spec and state, plus its series thinned to at most ``max_points`` samples."""

    spec: PanelSpec
    state: str = "nodata"
    value: float | None = None
    age: float | None = None
    error: str = ""
    anomaly_reason: str = ""
    start: float = 0.0
    end: float = 0.0
    ts: np.ndarray = field(default_factory=lambda: np.empty(0))
    series: list[tuple[str, np.ndarray]] = field(default_factory=list)

    @classmethod
    def from_result(cls, result: PanelResult, start: float, end: float, max_points: int) -> PanelView:
        """Keep the result's numbers but not its DataFrame: history stays ~2x the graph width."""
        frame = result.frame
        ts = np.empty(0)
        series = []
        if not frame.empty:
            rows = thin(len(frame), max_points)
            ts = unix_seconds(frame.index)[rows]
            series = [(str(col), frame[col].to_numpy(dtype=float)[rows]) for col in frame.columns]
        return cls(
            spec=result.spec,
            state=result.state,
            value=result.value,
            age=result.age,
            error=result.error,
            anomaly_reason=result.anomaly_reason if result.anomaly else "",
            start=start,
            end=end,
            ts=ts,
            series=series,
        )

    def latest(self) -> list[tuple[str, float | None]]:
        """(legend, newest finite value) for each series."""
        out = []
        for legend, values in self.series:
            finite = values[np.isfinite(values)]
            out.append((legend, float(finite[-1]) if len(finite) else None))
        return out


@dataclass(frozen=True)
class Event:
    """One line of the exceptions feed."""

    at: float
    level: str  # "crit", "warn", "info", "ok"
    model: str  # "" for source-wide events
    text: str


class EventLog:
    """Turns each snapshot into feed lines only when a condition starts or ends, so a steady alarm is one line."""

    def __init__(self, maxlen: int = 200) -> None:
        self.events: deque[Event] = deque(maxlen=maxlen)
        self._active: dict[str, tuple[str, str, str]] = {}

    def add(self, at: float, level: str, model: str, text: str) -> None:
        self.events.append(Event(at, level, model, text))

    def observe(self, snap: Snapshot, keys: set[str] | None = None) -> None:
        """Record new alerts, errors, anomalies and crit states, and their recovery; ``keys`` = what was fetched."""
        now: dict[str, tuple[str, str, str]] = {}
        for p in snap.panels:
            title = p.spec.title
            if p.state in ("error", "stale"):
                now[f"err:{p.spec.key}"] = ("crit", p.spec.model, f"{title}: {p.state} — {p.error or 'no detail'}")
            elif p.state == "crit":
                now[f"crit:{p.spec.key}"] = ("crit", p.spec.model, f"{title} critical: {fmt_value(p.value, p.spec.unit)}")
            if p.anomaly:
                now[f"anom:{p.spec.key}"] = ("warn", p.spec.model, f"{title} anomaly: {p.anomaly_reason}")
        for a in snap.alerts:
            model = a.labels.get("model", "")
            summary = a.annotations.get("summary") or a.annotations.get("description") or ""
            now[f"alert:{a.name}:{sorted(a.labels.items())}"] = (
                "crit" if a.state == "firing" else "warn", model, f"alert {a.name} {a.state} {summary}".rstrip())
        for err in snap.errors:
            now[f"src:{err}"] = ("crit", "", f"source: {err}")
        for key, (level, model, text) in now.items():
            if key not in self._active or self._active[key][2] != text:
                self.add(snap.taken_at, level, model, text)
        unseen = {}
        for key, entry in self._active.items():
            if key in now:
                continue
            if _watched(key, keys):
                self.add(snap.taken_at, "ok", entry[1], f"resolved: {entry[2]}")
            else:
                unseen[key] = entry  # not fetched this time (hidden panel): neither active nor resolved
        self._active = {**unseen, **now}

    def for_models(self, models: set[str], limit: int) -> list[Event]:
        """The newest ``limit`` events about these models or the whole source, oldest first."""
        picked = [e for e in reversed(self.events) if not e.model or e.model in models]
        return picked[:limit][::-1]


def _watched(key: str, keys: set[str] | None) -> bool:
    return keys is None or not key.startswith(("err:", "crit:", "anom:")) or key.split(":", 1)[1] in keys


def audit_events(entries: list[dict]) -> list[Event]:
    """Feed lines for audit-log entries (rollbacks, canaries), whatever optional fields they carry."""
    out = []
    for e in entries:
        at = _entry_time(e)
        what = e.get("event") or e.get("action") or e.get("kind") or "audit"
        bits = [str(what)] + [f"{k}={e[k]}" for k in ("model", "status", "outcome", "reason") if e.get(k) not in (None, "")]
        level = "crit" if str(e.get("status", "")).startswith(("fail", "error")) else "info"
        out.append(Event(at, level, str(e.get("model", "")), "audit: " + " ".join(bits)))
    return out


def _entry_time(entry: dict) -> float:
    import pandas as pd

    for key in ("ts", "time", "at", "timestamp"):
        value = entry.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return pd.Timestamp(value).timestamp()
            except ValueError:
                continue
    return time.time()
