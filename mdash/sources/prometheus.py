"""Instant and range queries against a Prometheus-compatible HTTP API, answered as pandas frames.

Requests go through prometheus-api-client with retries off (a refused connection fails in milliseconds, not the
library's ~6 s of back-off) and a per-query timeout, sent both to the HTTP client and as Prometheus' own
``timeout`` parameter. Prometheus' error text is kept verbatim; warnings ride along in ``frame.attrs["warnings"]``.
"""

from __future__ import annotations

import json
import math
import re
import threading
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from mdash.config import PrometheusConfig
from mdash.errors import QueryError, SourceError
from mdash.panels import Alert

MAX_POINTS = 11_000  # Prometheus refuses range queries that would return more points per series
_UTC = pd.DatetimeTZDtype("ns", "UTC")
_NS_RANGE_MS = (2**63 - 1) // 1_000_000  # the widest span of ms timestamps a nanosecond index can hold
_TAG = "__mdash_query"  # label that tells the parts of a joined query apart (see range_many)
_LEGEND = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def step_for(range_seconds: float, points: int) -> float:
    """The query step that yields ``points`` samples over the range, never more than Prometheus' 11,000."""
    points = max(2, min(int(points), MAX_POINTS))
    exact = range_seconds / (points - 1)
    step = max(math.floor(exact * 1000) / 1000, 0.001)  # whole ms, rounded down so the last step reaches the end
    if math.floor(range_seconds / step) + 1 > MAX_POINTS:
        step = math.ceil(exact * 1000) / 1000
    return step


def legend_for(labels: dict[str, str], template: str, fallback: str) -> str:
    """A series name from a ``{{label}}`` template, or Prometheus' own ``name{k="v"}`` form without one."""
    if template:
        return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), template)
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    if not name and not rest:
        return fallback
    return f"{name}{{{rest}}}" if rest else name


def to_frame(data: dict, template: str = "", fallback: str = "value") -> pd.DataFrame:
    """A Prometheus ``data`` object (matrix, vector or scalar) as a frame: UTC DatetimeIndex, one float column a series.

    Built as one 2-D array on the union of timestamps (10,000 series cost one array, not 10,000 Series to concat);
    an answer that does not have Prometheus' shape is a QueryError naming the query, never another exception.
    """
    try:
        names, stamps, values = _series(data, template, fallback)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, OverflowError) as err:
        raise QueryError(f"{fallback}: not a Prometheus query answer ({type(err).__name__}: {err})") from None
    if not names:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"), dtype=float)
    ms = np.unique(np.concatenate(stamps))
    if ms.size and not (ms[0] >= -_NS_RANGE_MS and ms[-1] <= _NS_RANGE_MS):  # would wrap around to 1677/2262
        raise QueryError(f"{fallback}: not a Prometheus query answer (timestamps {ms[0]} .. {ms[-1]} ms out of range)")
    table = np.full((ms.size, len(names)), np.nan)
    for j, (ts, vals) in enumerate(zip(stamps, values, strict=True)):
        table[np.searchsorted(ms, ts), j] = vals
    index = pd.DatetimeIndex((ms * 1_000_000).view("datetime64[ns]"), dtype=_UTC)
    return pd.DataFrame(table, index=index, columns=pd.Index(names, dtype=object))


def _series(data: dict, template: str, fallback: str) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Column names (legends made unique), timestamps in ms and float values of each series of an answer."""
    kind, result = data.get("resultType"), data.get("result")
    if kind in ("scalar", "string"):
        result = [{"metric": {}, "value": result}]
    names: list[str] = []
    stamps: list[np.ndarray] = []
    values: list[np.ndarray] = []
    seen: set[str] = set()
    counts: dict[str, int] = {}
    for item in result or []:
        pairs = item.get("values") or ([item["value"]] if "value" in item else [])
        name = legend_for(item.get("metric", {}), template, fallback)
        base, n = name, counts.get(name, 1)
        while name in seen:  # resumes where the last repeat of this legend stopped: linear in the series
            n += 1
            name = f"{base} #{n}"
        counts[base] = n
        seen.add(name)
        names.append(name)
        stamps.append(np.fromiter((round(float(p[0]) * 1000) for p in pairs), dtype=np.int64, count=len(pairs)))
        values.append(np.fromiter((_float(p[1]) for p in pairs), dtype=float, count=len(pairs)))
    return names, stamps, values


def _float(text: object) -> float:
    try:
        return float(text)  # "NaN", "+Inf", "-Inf" parse as Python floats
    except (TypeError, ValueError):
        return math.nan


def _connection_reason(err: Exception) -> str:
    text = str(err)
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return m.group(1).strip() if m else text


def _refused(err: QueryError) -> bool:
    """Prometheus refused the request itself (4xx but 429): the query is at fault, not the server or the load."""
    return err.status is not None and 400 <= err.status < 500 and err.status != 429


class PrometheusSource:
    """One Prometheus-compatible server (Prometheus, Thanos, Mimir, VictoriaMetrics): queries, alerts, build info."""

    def __init__(self, config: PrometheusConfig) -> None:
        self.config = config
        self.url = config.url
        self._local = threading.local()
        session = requests.Session()
        session.verify = config.ca_file or config.verify
        session.proxies = requests.utils.get_environ_proxies(config.url)  # read once: per request it costs ~0.5 ms
        session.trust_env = False
        session.hooks["response"].append(self._remember)
        self._session = session
        self._client = PrometheusConnect(
            url=config.url,
            headers=config.auth_headers(),
            auth=config.basic_auth(),
            retry=Retry(total=0, read=False, redirect=0, status=0, raise_on_status=False),  # fail fast, never retry
            session=session,
            timeout=config.timeout,
        )
        self._refused: set[str] = set()  # queries Prometheus refused alone: sent alone, never joined again

    def _remember(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self._local.response = response

    def _call(self, what: str, fn, *args: object, **kwargs: object) -> dict:
        """Run one client call and return Prometheus' ``data``; raise SourceError (unreachable) or QueryError."""
        self._local.response = None
        try:
            fn(*args, **kwargs)
        except requests.exceptions.SSLError as err:
            raise SourceError(
                f"TLS error talking to {self.url}: {_connection_reason(err)} (set [prometheus] ca_file, or verify = false)"
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise SourceError(f"cannot reach Prometheus at {self.url}: connect timed out after {self.config.timeout:g} s") from None
        except requests.exceptions.ConnectionError as err:
            raise SourceError(f"cannot reach Prometheus at {self.url}: {_connection_reason(err)}") from None
        except requests.exceptions.Timeout:
            raise QueryError(f"{what}: no answer from {self.url} within {self.config.timeout:g} s") from None
        except (PrometheusApiClientException, ValueError, KeyError, TypeError):
            pass  # the body is judged below, from the response itself
        return self._judge(what, self._local.response)

    def _judge(self, what: str, response: requests.Response | None) -> dict:
        if response is None:
            raise QueryError(f"{what}: no response from {self.url}")
        try:
            body = response.json()
        except ValueError:
            snippet = " ".join(response.text.split())[:200]
            text = f"{what}: HTTP {response.status_code}, not a Prometheus API answer: {snippet!r}"
            raise QueryError(text, status=response.status_code) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            err = body.get("error", "") if isinstance(body, dict) else ""
            kind = body.get("errorType", "") if isinstance(body, dict) else ""
            text = f"{kind}: {err}" if kind else (err or json.dumps(body)[:200])
            raise QueryError(f"HTTP {response.status_code} {text}", status=response.status_code)
        data = body.get("data")
        warnings = body.get("warnings") or []
        return {"data": data, "warnings": [str(w) for w in warnings]}

    def _params(self) -> dict:
        # whole milliseconds: Prometheus refuses a fractional "0.5s" (bad_data), so every query would fail
        return {"timeout": f"{max(1, round(self.config.timeout * 1000))}ms"}

    def instant(self, promql: str, at: float | None = None, legend: str = "") -> pd.DataFrame:
        """The value of ``promql`` at ``at`` (default: now) as a one-row frame per series."""
        params = self._params()
        if at is not None:
            params["time"] = f"{at:.3f}"
        got = self._call(promql, self._client.custom_query, promql, params=params)
        return self._frame(got, legend, promql)

    def range(self, promql: str, start: float, end: float, step: float, legend: str = "") -> pd.DataFrame:
        """``promql`` evaluated every ``step`` seconds from ``start`` to ``end`` (unix seconds)."""
        return self._frame(self._range_call(promql, start, end, step), legend, promql)

    def _range_call(self, promql: str, start: float, end: float, step: float) -> dict:
        return self._call(
            promql,
            self._client.custom_query_range,
            promql,
            start_time=datetime.fromtimestamp(start, UTC),
            end_time=datetime.fromtimestamp(end, UTC),
            step=f"{step:.3f}",
            params=self._params(),
        )

    def range_many(
        self, queries: list[tuple[str, str]], start: float, end: float, step: float
    ) -> list[pd.DataFrame | QueryError]:
        """Several (promql, legend) range queries in ONE request: each tagged by ``label_replace`` and joined with
        ``or``, then split apart again, so many queries cost one round trip and one pass of client overhead. If
        the joined query fails, each runs alone: every query gets its frame or Prometheus' own error text for it
        (returned, not raised). A query refused alone is sent alone from then on (until it answers), so one bad
        panel does not cost every refresh a failed join. An unreachable server still raises SourceError."""
        alone = [i for i, (promql, _) in enumerate(queries) if promql in self._refused]
        if alone and len(alone) < len(queries):
            out: list = [None] * len(queries)
            rest = [i for i in range(len(queries)) if i not in alone]
            for i, got in zip(alone, self._each([queries[i] for i in alone], start, end, step), strict=True):
                out[i] = got
            for i, got in zip(rest, self.range_many([queries[i] for i in rest], start, end, step), strict=True):
                out[i] = got
            return out
        if len(queries) == 1 or alone:
            return self._each(queries, start, end, step)
        joined = " or ".join(
            f'label_replace(({promql}), "{_TAG}", "{i}", "", "")' for i, (promql, _) in enumerate(queries)
        )
        try:
            got = self._range_call(joined, start, end, step)
        except QueryError as err:
            if _refused(err):
                return self._each(queries, start, end, step)  # the request was refused: find which query it was
            return [err] * len(queries)  # a timeout, 5xx or non-JSON answer is the same for every query
        data = got["data"]
        if not isinstance(data, dict) or not isinstance(data.get("result"), list) or not all(
            isinstance(item, dict) and isinstance(item.get("metric") or {}, dict) for item in data["result"]
        ):  # not Prometheus' shape: each query alone says what is wrong with its answer
            return self._each(queries, start, end, step)
        parts: list[list[dict]] = [[] for _ in queries]
        for item in data["result"]:
            metric = dict(item.get("metric") or {})
            index = str(metric.pop(_TAG, ""))
            if index.isdigit() and int(index) < len(parts):
                parts[int(index)].append({**item, "metric": metric})
        frames: list[pd.DataFrame | QueryError] = []
        for (promql, legend), items in zip(queries, parts, strict=True):
            part = {"data": {"resultType": data.get("resultType"), "result": items}, "warnings": got["warnings"]}
            try:
                frames.append(self._frame(part, legend, promql))
            except QueryError as err:
                frames.append(err)
        return frames

    def _each(self, queries: list[tuple[str, str]], start: float, end: float, step: float) -> list:
        """Each query in its own request: a frame, or the QueryError Prometheus gave for that query."""
        out: list[pd.DataFrame | QueryError] = []
        for promql, legend in queries:
            try:
                out.append(self.range(promql, start, end, step, legend))
            except QueryError as err:
                if _refused(err):
                    self._refused.add(promql)
                out.append(err)
            else:
                self._refused.discard(promql)
        return out

    def _frame(self, got: dict, legend: str, promql: str) -> pd.DataFrame:
        data = got["data"]
        if not isinstance(data, dict) or "result" not in data:
            raise QueryError(f"{promql}: the answer has no data.result: {json.dumps(data)[:200]}")
        frame = to_frame(data, legend, fallback=promql)
        frame.attrs["warnings"] = got["warnings"]
        return frame

    def _get(self, path: str, what: str) -> dict:
        """GET one API path through the client's session (same headers, auth, TLS and timeout)."""
        return self._call(
            what,
            self._session.get,
            f"{self.url}{path}",
            headers=self._client.headers,
            auth=self._client.auth,
            timeout=self.config.timeout,
        )["data"]

    def alerts(self) -> list[Alert]:
        """Firing and pending alerts from /api/v1/alerts (Prometheus' rule evaluation, or Mimir's ruler)."""
        data = self._get("/api/v1/alerts", "alerts")
        out = []
        for a in (data or {}).get("alerts", []):
            labels = a.get("labels", {})
            out.append(
                Alert(
                    name=labels.get("alertname", "?"),
                    state=a.get("state", ""),
                    labels=labels,
                    annotations=a.get("annotations", {}),
                    active_at=a.get("activeAt", ""),
                    value=str(a.get("value", "")),
                )
            )
        return out

    def buildinfo(self) -> dict:
        """Server version and revision from /api/v1/status/buildinfo."""
        return self._get("/api/v1/status/buildinfo", "buildinfo") or {}

    def metric_names(self, selector: str) -> list[str]:
        """Names of the metrics matching a selector like ``{job="iris"}`` (for preset detection)."""
        selector = selector.strip() or '__name__=~".+"'
        selector = selector if selector.startswith("{") else f"{{{selector}}}"
        frame = self.instant(f"count by (__name__) ({selector})", legend="{{__name__}}")
        return list(frame.columns)

    def close(self) -> None:
        self._client.close()
