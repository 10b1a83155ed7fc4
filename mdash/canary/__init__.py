"""Canary runs: paired canary-vs-baseline traffic, honest latency numbers, and a replayable verdict.

    report = mdash.canary(endpoint="http://127.0.0.1:8081", baseline="http://127.0.0.1:8080", model="iris")
    report.verdict, report.to_frame(), report.to_json()

Blocking and callable from a worker thread (or a notebook, where it runs its loop in a helper thread).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mdash.canary.judge import Arm, Metric
from mdash.canary.payloads import PROTOCOLS, check_url, load_dataset, random_v2_payloads
from mdash.canary.report import Report
from mdash.canary.traffic import Progress, TrafficPlan, get_json, run_traffic
from mdash.errors import ConfigError, MdashError, SourceError

__all__ = ["CanarySettings", "Metric", "Progress", "Report", "canary"]

DEFAULT_REQUESTS = 300


@dataclass
class CanarySettings:
    """What to send where, and how to judge it (tolerances and absolute limits)."""

    endpoint: str
    baseline: str | None = None
    model: str | None = None
    protocol: str = "v2"
    requests: int | None = None  # per arm; DEFAULT_REQUESTS when neither requests nor duration is given
    duration: float | None = None  # seconds
    concurrency: int = 8  # closed loop: requests in flight per arm
    rate: float | None = None  # open loop: requests per second per arm
    dataset: str | None = None
    seed: int = 0
    timeout: float = 5.0
    warmup: int = 10  # unmeasured requests per arm before the run
    payload_pool: int = 64  # random V2 inputs generated (each is sent repeatedly, which measures noise)
    # judging
    alpha: float = 0.05  # family-wise error rate over all comparisons (Holm)
    min_samples: int = 50  # per arm and metric; fewer gives NoData
    latency_tolerance: float = 0.10  # a latency shift must exceed this fraction of the baseline median ...
    latency_min_shift_ms: float = 0.1  # ... and this many ms, to fail
    error_tolerance: float = 0.005  # error-rate increase (absolute) that matters
    quality_tolerance: float = 0.02  # accuracy/precision/recall/F1/agreement drop that matters
    noise_tolerance: float = 0.01  # increase in answers that change for a repeated input
    shift_tolerance: float = 0.1  # PSI (categorical answers) or KS distance (numeric answers)
    max_p99_ms: float | None = None
    max_error_ratio: float | None = 0.01
    min_accuracy: float | None = None
    audit_log: str | None = None  # audit log path (default: mdash's standard audit log)
    audit: bool = True

    def validate(self) -> CanarySettings:
        """Check every field; SourceError (could not run) naming the flag and what to give instead."""
        self.endpoint = check_url(self.endpoint, "--endpoint")
        if self.baseline is not None:
            self.baseline = check_url(self.baseline, "--baseline")
        if self.protocol not in PROTOCOLS:
            raise SourceError(f"--protocol {self.protocol!r} is unknown: use one of {', '.join(PROTOCOLS)}")
        if self.requests is not None and self.duration is not None:
            raise SourceError("give either --requests or --duration, not both")
        if self.requests is None and self.duration is None:
            self.requests = DEFAULT_REQUESTS
        checks = [("--requests", self.requests, 1), ("--duration", self.duration, 1e-9),
                  ("--concurrency", self.concurrency, 1), ("--rate", self.rate, 1e-9), ("--timeout", self.timeout, 1e-9)]
        for flag, value, least in checks:
            if value is not None and value < least:
                raise SourceError(f"{flag} {value} must be a positive number")
        if not 0 < self.alpha < 1:
            raise SourceError(f"alpha {self.alpha} must be between 0 and 1")
        return self

    def public(self) -> dict[str, Any]:
        """The settings as saved in a report (URL credentials removed)."""
        out = dataclasses.asdict(self)
        for key in ("endpoint", "baseline"):
            if out[key]:
                parts = urlsplit(out[key])
                out[key] = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        out.pop("audit_log")
        return out

    @classmethod
    def from_public(cls, doc: dict[str, Any]) -> CanarySettings:
        """Settings back from a report (unknown keys ignored, so older reports still load). A value of the wrong
        type (a number for the model name, Infinity for a tolerance) raises ValueError naming the key."""
        kinds = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}
        out = {}
        for f in dataclasses.fields(cls):
            if f.name not in doc:
                continue
            value, (kind, _, optional) = doc[f.name], str(f.type).partition(" | ")
            if value is None and optional:
                out[f.name] = None
                continue
            ok = isinstance(value, kinds[kind]) and (kind == "bool" or not isinstance(value, bool))
            if not ok or (isinstance(value, float) and not math.isfinite(value)):
                raise ValueError(f"settings.{f.name} = {value!r}: expected {kind}")
            out[f.name] = value
        return cls(**out)


def payloads_for(s: CanarySettings):
    """The payload list: the dataset, or random V2 inputs from the model's metadata."""
    if s.dataset:
        return load_dataset(s.dataset)
    if s.protocol == "v2" and s.model:
        meta = get_json(f"{s.endpoint}/v2/models/{s.model}", s.timeout)
        return random_v2_payloads(meta, s.payload_pool, s.seed)
    raise SourceError("no payloads: give --dataset FILE (JSONL request bodies), or --model NAME for a V2 endpoint")


def canary(settings: CanarySettings | None = None, /, *, progress: Callable[[Progress], None] | None = None,
           cancel: threading.Event | None = None, **kw: Any) -> Report:
    """Send the canary (and baseline) traffic, judge it, record it in the audit log, and return the Report."""
    if settings is None:
        try:
            settings = CanarySettings(**kw)
        except TypeError as err:
            raise SourceError(f"canary settings: {err}") from None
    elif kw:
        settings = dataclasses.replace(settings, **kw)
    s = dataclasses.replace(settings).validate()
    payloads = payloads_for(s)
    endpoints = {"canary": s.endpoint, **({"baseline": s.baseline} if s.baseline else {})}
    plan = TrafficPlan(endpoints, payloads, s.protocol, s.model, s.requests, s.duration, s.concurrency,
                       s.rate, s.timeout, s.warmup, s.seed)
    result = run_traffic(plan, progress, cancel)
    warnings = [*result.warnings, *health_warnings(result.arms, s)]
    if cancel is not None and cancel.is_set():
        warnings.append("cancelled before the planned traffic was sent")
    expected = [p.expected or 0 for p in payloads] if any(p.expected for p in payloads) else None
    report = Report.build(s, result.arms, expected, warnings, round(result.started_at, 3))
    if s.audit:
        audit(report, s)
    return report


def health_warnings(arms: dict[str, Any], s: CanarySettings) -> list[str]:
    """What a verdict alone would hide: canary answers nobody could read, a baseline that failed mid-run."""
    out = []
    canary_arm = Arm.of(arms["canary"].arrays())
    if unreadable := int((canary_arm.ok & ~canary_arm.readable).sum()):
        out.append(f"{unreadable} of the canary's {int(canary_arm.ok.sum())} 2xx answers could not be read as "
                   f"{s.protocol} predictions: check --protocol, or what answers in front of the model")
    if "baseline" in arms:
        base = Arm.of(arms["baseline"].arrays())
        failed = int((~base.ok).sum())
        if failed > (s.max_error_ratio or 0.01) * base.ok.size:
            why = ", ".join(f"{k} x{v}" for k, v in sorted(arms["baseline"].reasons.items())) or "HTTP errors"
            out.append(f"the baseline failed {failed} of {base.ok.size} requests ({why}): the comparison rests "
                       f"on its {base.ok.size - failed} answers")
    return out


def audit(report: Report, s: CanarySettings) -> None:
    """Write the run to the audit log; a log that cannot be written becomes a warning, not a lost report."""
    try:
        from mdash.actions.audit import record
    except ImportError:
        return
    try:
        record("canary", audit_log=s.audit_log, endpoint=report.settings["endpoint"],
               baseline=report.settings["baseline"], model=s.model, verdict=report.verdict,
               reason=report.reason, seed=s.seed, requests={k: a["requests"] for k, a in report.arms.items()},
               finished_at=round(time.time(), 3))
    except (MdashError, ConfigError) as err:
        report.warnings.append(f"not recorded in the audit log: {err}")


class _CallableModule(types.ModuleType):
    """``mdash.canary`` is both this package and the function: importing the package makes it the attribute
    ``mdash.canary``, so the package itself forwards calls to ``canary()``."""

    def __call__(self, *args: Any, **kw: Any) -> Report:
        return canary(*args, **kw)


sys.modules[__name__].__class__ = _CallableModule
