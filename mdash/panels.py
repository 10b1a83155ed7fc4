"""Panel specs, panel results and the Snapshot: the render-neutral shapes every surface draws.

A spec says what to ask (queries, unit, thresholds); a result says what came back and in what state. Renderers
(TUI, notebook, CLI) only read results, so a failure looks the same everywhere: ``state`` plus ``error``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import pandas as pd

from mdash.fmt import num, unix_seconds

Group = Literal["performance", "resources", "exceptions"]
GROUPS: tuple[Group, ...] = ("performance", "resources", "exceptions")
State = Literal["ok", "warn", "crit", "nodata", "error", "stale"]
STATES: tuple[State, ...] = ("ok", "warn", "crit", "nodata", "error", "stale")
Kind = Literal["timeseries", "stat"]


@runtime_checkable
class Expr(Protocol):
    """A structured query (from a preset) that renders to PromQL and can be computed in direct mode."""

    def promql(self) -> str: ...


@dataclass(frozen=True)
class Query:
    """One query of a panel: PromQL text (custom panels) or a structured Expr (presets)."""

    expr: str | Expr
    legend: str = ""

    @property
    def promql(self) -> str:
        return self.expr if isinstance(self.expr, str) else self.expr.promql()

    @property
    def direct(self) -> bool:
        """True when direct mode (no Prometheus) can compute this query."""
        return not isinstance(self.expr, str)


@dataclass(frozen=True)
class PanelSpec:
    """What a panel asks for and how its latest value is judged."""

    title: str
    group: Group
    queries: tuple[Query, ...]
    unit: str = ""
    warn: float | None = None
    crit: float | None = None
    better: Literal["lower", "higher"] = "lower"
    kind: Kind = "timeseries"
    model: str = ""
    note: str = ""  # shown with the panel, e.g. "mean only" or why a signal is missing

    @property
    def key(self) -> str:
        return f"{self.model}/{self.group}/{self.title}"

    def judge(self, value: float | None) -> State:
        """ok / warn / crit for a latest value, nodata for None or NaN."""
        if value is None or math.isnan(value):
            return "nodata"
        worse = (lambda a, b: a >= b) if self.better == "lower" else (lambda a, b: a <= b)
        if self.crit is not None and worse(value, self.crit):
            return "crit"
        if self.warn is not None and worse(value, self.warn):
            return "warn"
        return "ok"


@dataclass
class PanelResult:
    """What came back for one panel: frames, latest value, state, data age and error text."""

    spec: PanelSpec
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)  # DatetimeIndex (UTC), one float column a series
    value: float | None = None  # latest value of the first series (NaN-free), None when there is none
    state: State = "nodata"
    age: float | None = None  # seconds since the newest sample, None when there is none
    error: str = ""
    anomaly: bool = False
    anomaly_reason: str = ""
    warnings: list[str] = field(default_factory=list)  # the source's warnings about the query, verbatim

    @property
    def series(self) -> list[tuple[str, list[tuple[float, float | None]]]]:
        """(legend, [(unix_ts, value or None)]) for each column: the JSON-friendly view."""
        out = []
        if self.frame.empty:
            return [(str(c), []) for c in self.frame.columns]
        ts = unix_seconds(self.frame.index)
        for col in self.frame.columns:
            vals = self.frame[col].to_numpy(dtype=float)
            out.append((str(col), [(float(t), num(v)) for t, v in zip(ts, vals, strict=True)]))
        return out


@dataclass
class Alert:
    """A firing (or pending) alert from Prometheus' /api/v1/alerts."""

    name: str
    state: str
    labels: dict[str, str]
    annotations: dict[str, str]
    active_at: str = ""
    value: str = ""


@dataclass
class Snapshot:
    """All panel results at one moment, plus the source it came from and anything the source said."""

    taken_at: float
    source: str  # the Prometheus URL, or "direct"
    panels: list[PanelResult]
    alerts: list[Alert] = field(default_factory=list)
    endpoints: list[Any] = field(default_factory=list)  # endpoint probe results (sources.endpoint)
    errors: list[str] = field(default_factory=list)  # source-level errors (e.g. Prometheus unreachable)
    demo: bool = False
    reachable: bool = True  # False when no data source answered at all (the CLI's exit code 3)

    def group(self, group: Group, model: str | None = None) -> list[PanelResult]:
        return [p for p in self.panels if p.spec.group == group and (model is None or p.spec.model == model)]

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(p.spec.model for p in self.panels))

    def by_key(self) -> dict[str, PanelResult]:
        return {p.spec.key: p for p in self.panels}

    def to_frame(self) -> pd.DataFrame:
        """One row per panel (model, group, title, unit, state, value, age_s, anomaly, error), for analysis."""
        from mdash.render import CSV_FIELDS, panel_row

        return pd.DataFrame([panel_row(p) for p in self.panels], columns=list(CSV_FIELDS))

    def to_html(self, path: str) -> Any:
        """Write a self-contained static HTML report (plotly is imported only now, never by the core)."""
        from mdash.notebook.report import write_html

        return write_html(self, path)


def panel_keys(specs: Sequence[PanelSpec]) -> list[str]:
    return [s.key for s in specs]
