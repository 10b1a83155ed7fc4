"""The canary report: per-arm figures and judged metrics, built only from the saved samples so it replays.

Schema ``mdash.canary/1`` (documented in docs/canary.md): ``{"schema", "verdict", "reason", "seed", "settings",
"arms", "metrics", "warnings", "started_at", "samples"}``. ``Report.replay(doc)`` rebuilds everything from
``samples`` and ``settings``; the result serialises to the same JSON.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mdash.canary.histogram import Histogram
from mdash.canary.judge import Arm, Judge, Metric, macro_prf
from mdash.canary.payloads import NO_LABEL
from mdash.canary.traffic import TIMEOUT, ArmSamples
from mdash.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd

    from mdash.canary import CanarySettings

SCHEMA = "mdash.canary/1"
EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 2}
PERCENTILES = (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p999", 99.9))


def latency_summary(values_us: np.ndarray) -> dict[str, float | None]:
    """p50/p90/p95/p99/p99.9/max in ms from an HDR histogram of the values (3 significant digits)."""
    h = Histogram()
    h.record(values_us)
    out: dict[str, float | None] = {}
    for key, q in PERCENTILES:
        v = h.percentile(q)
        out[key] = None if v is None else round(v / 1000, 3)
    out["max"] = round(h.max / 1000, 3) if h.total else None
    return out


def series(t_us: np.ndarray, latency_us: np.ndarray, ok: np.ndarray) -> list[dict[str, Any]]:
    """Per-second completions, errors and p50/p99 (by completion time) for live views and plots."""
    if t_us.size == 0:
        return []
    second = (t_us + latency_us) // 1_000_000
    out = []
    for s in range(int(second.max()) + 1):
        here = second == s
        lat = latency_us[here & ok]
        p50, p99 = (np.percentile(lat, [50, 99]) / 1000).round(3).tolist() if lat.size else (None, None)
        out.append({"t": s, "rps": int(here.sum()), "errors": int((here & ~ok).sum()), "p50_ms": p50,
                    "p99_ms": p99})
    return out


def arm_figures(samples: ArmSamples, expected: np.ndarray | None) -> dict[str, Any]:
    """The schema's per-arm record: counts, errors by reason, throughput, latency, quality, series."""
    cols = samples.arrays()
    arm = Arm.of(cols)
    ok = arm.ok
    by_reason: dict[str, int] = {}
    for code, n in zip(*np.unique(arm.status[(~ok) & (arm.status >= 100)], return_counts=True), strict=True):
        by_reason[f"HTTP {int(code)}"] = int(n)
    by_reason.update(samples.reasons)
    n = len(samples)
    out: dict[str, Any] = {
        "requests": n,
        "errors": int((~ok).sum()),
        "timeouts": int((arm.status == TIMEOUT).sum()),
        "errors_by_reason": by_reason,
        "throughput_rps": round(n / samples.elapsed_s, 1) if samples.elapsed_s > 0 else None,
        "duration_s": round(samples.elapsed_s, 3),
        "latency_ms": latency_summary(arm.latency_us[ok]),
        "latency_uncorrected_ms": latency_summary(cols["raw_us"][ok]),
    }
    if expected is not None:
        exp = expected[arm.payload]
        mask = ok & (exp != NO_LABEL)
        if mask.any():
            classes = np.unique(exp[mask])
            pred = arm.label[mask]
            codes = np.where(np.isin(pred, classes), np.searchsorted(classes, pred), classes.size)
            prec, rec, f1 = macro_prf(np.searchsorted(classes, exp[mask]), codes, classes.size).round(4).tolist()
            out["quality"] = {"n": int(mask.sum()), "accuracy": round(float((pred == exp[mask]).mean()), 4),
                              "precision": prec, "recall": rec, "f1": f1}
    out["series"] = series(cols["t_us"], arm.latency_us, ok)
    return out


@dataclass
class Report:
    """The outcome of one canary run: verdict, metrics with reasons, per-arm figures and the raw samples."""

    verdict: str
    reason: str
    seed: int
    metrics: list[Metric]
    arms: dict[str, dict[str, Any]]
    settings: dict[str, Any]
    samples: dict[str, ArmSamples]
    expected: list[int] | None = None
    warnings: list[str] = field(default_factory=list)
    started_at: float = 0.0

    @classmethod
    def build(cls, settings: CanarySettings, samples: dict[str, ArmSamples], expected: list[int] | None,
              warnings: list[str], started_at: float) -> Report:
        """Judge the samples and compute every figure (the single path shared by live runs and replay)."""
        exp = np.asarray(expected, dtype=np.int64) if expected is not None else None
        canary = Arm.of(samples["canary"].arrays())
        baseline = Arm.of(samples["baseline"].arrays()) if "baseline" in samples else None
        verdict, metrics, reason = Judge(canary, baseline, exp, settings).run(samples["canary"].reasons)
        arms = {name: arm_figures(s, exp) for name, s in samples.items()}
        return cls(verdict, reason, settings.seed, metrics, arms, settings.public(), samples, expected,
                   list(warnings), started_at)

    @classmethod
    def replay(cls, doc: dict[str, Any] | str) -> Report:
        """Recompute a saved report (dict, JSON text or file path) from its samples and settings."""
        from mdash.canary import CanarySettings

        if isinstance(doc, str):
            doc = load(doc)
        schema = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        if schema != SCHEMA or "samples" not in doc:
            raise DatasetError(f"not a {SCHEMA} report with samples (schema {schema!r}): "
                               "replay needs a report written by `mdash canary --report`")
        try:
            saved = doc["samples"]
            samples = {name: ArmSamples.from_dict(saved[name]) for name in ("canary", "baseline") if name in saved}
            settings = CanarySettings.from_public(doc.get("settings", {}))
            return cls.build(settings, samples, saved.get("expected"), doc.get("warnings", []),
                             doc.get("started_at", 0.0))
        except (AttributeError, IndexError, KeyError, TypeError, ValueError, OverflowError, ZeroDivisionError) as err:
            raise DatasetError(f"the {SCHEMA} report is damaged ({type(err).__name__}: {err}): replay needs a "
                               "report written by `mdash canary --report`, unedited") from None

    @property
    def exit_code(self) -> int:
        """0 pass, 1 fail, 2 inconclusive."""
        return EXIT_CODES[self.verdict]

    def to_dict(self, samples: bool = True) -> dict[str, Any]:
        """The documented schema (mdash.canary/1); ``samples=False`` leaves out the raw columns."""
        out: dict[str, Any] = {
            "schema": SCHEMA, "verdict": self.verdict, "reason": self.reason, "seed": self.seed,
            "settings": self.settings, "arms": self.arms, "metrics": [m.to_dict() for m in self.metrics],
            "warnings": self.warnings, "started_at": self.started_at,
        }
        if samples:
            out["samples"] = {name: s.to_dict() for name, s in self.samples.items()}
            out["samples"]["expected"] = self.expected
        return out

    def to_json(self, indent: int | None = None, samples: bool = True) -> str:
        """The schema as JSON text (stable key order, so a replay compares equal byte for byte)."""
        return json.dumps(self.to_dict(samples), indent=indent, allow_nan=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per metric: name, verdict, n, estimate, ci_low, ci_high, p_value, threshold, reason."""
        import pandas as pd

        rows = []
        for m in self.metrics:
            d = m.to_dict()
            lo, hi = d.pop("ci") or (None, None)
            rows.append({**d, "ci_low": lo, "ci_high": hi})
        cols = ["name", "verdict", "n", "estimate", "ci_low", "ci_high", "p_value", "threshold", "reason"]
        return pd.DataFrame(rows, columns=cols)

    def arm_rows(self) -> list[tuple[str, ...]]:
        """The per-arm figures as text rows for tables."""
        rows = []
        for name, a in self.arms.items():
            lat = a["latency_ms"]
            rows.append((name, str(a["requests"]), str(a["errors"]), str(a["timeouts"]),
                         fmt(a["throughput_rps"]), *(fmt(lat[k]) for k in ("p50", "p90", "p99", "p999", "max"))))
        return rows

    def summary(self) -> str:
        """A plain-text table of the arms and the metrics with verdicts and reasons, then the verdict."""
        head = ("arm", "requests", "errors", "timeouts", "rps", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms")
        lines = table([head, *self.arm_rows()])
        lines.append("")
        lines += table([("metric", "verdict", "reason"),
                        *((m.name, VERDICT_WORDS[m.verdict], m.reason) for m in self.metrics)])
        lines += ["", *(f"warning: {w}" for w in self.warnings),
                  f"verdict: {self.verdict.upper()} ({self.reason}); seed {self.seed}"]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The summary as HTML tables for Jupyter."""
        colour = {"pass": "#2e7d32", "fail": "#c62828", "inconclusive": "#ef6c00"}[self.verdict]
        rows = "".join(f"<tr><td>{html.escape(m.name)}</td><td>{VERDICT_WORDS[m.verdict]}</td>"
                       f"<td style='text-align:left'>{html.escape(m.reason)}</td></tr>" for m in self.metrics)
        arms = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in self.arm_rows())
        warn = "".join(f"<p>warning: {html.escape(w)}</p>" for w in self.warnings)
        return (f"<div><p><b style='color:{colour}'>canary {self.verdict.upper()}</b> — "
                f"{html.escape(self.reason)} (seed {self.seed})</p>"
                "<table><tr><th>arm</th><th>requests</th><th>errors</th><th>timeouts</th><th>rps</th>"
                "<th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>"
                f"{arms}</table><table><tr><th>metric</th><th>verdict</th><th>reason</th></tr>{rows}</table>"
                f"{warn}</div>")


VERDICT_WORDS = {"pass": "Pass", "high": "High", "low": "Low", "nodata": "NoData"}


def fmt(x: float | None) -> str:
    """A number for a table cell ('-' when missing)."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:g}"


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned text columns (the last column is not padded)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]) for r in rows]


def load(path: str) -> dict[str, Any]:
    """Read a saved report file; DatasetError naming the file when it is missing or not JSON."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as err:
        raise DatasetError(f"cannot read report {path}: {err.strerror}") from None
    except ValueError as err:
        raise DatasetError(f"{path} is not a JSON canary report ({err})") from None
