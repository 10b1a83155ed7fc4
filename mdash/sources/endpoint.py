"""Health and metadata probes of a model endpoint (Open Inference Protocol V2), timed end to end.

Readiness decides the endpoint's state; metadata (``/v2/models/{name}``) is informative only, so a server that
knows the model by another name still shows as ready, with the metadata error beside it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class EndpointStatus:
    """One probe of one endpoint: ready or not, how long the readiness answer took, and what the server said."""

    model: str
    url: str
    ready: bool
    status: str  # "ready" | "not ready" | "down"
    latency_ms: float | None = None
    error: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    checked_at: float = 0.0


def _reason(err: httpx.HTTPError) -> str:
    if isinstance(err, httpx.TimeoutException):
        return "timed out"
    cause = err.__cause__ or err.__context__
    return str(cause or err) or type(err).__name__


def probe(
    client: httpx.Client, model: str, url: str, served_name: str, *, clock=time.time, metadata: bool = True
) -> EndpointStatus:
    """GET /v2/health/ready (timed) and, when ready, /v2/models/{served_name}; never raises for a network fault."""
    started = time.perf_counter()
    checked = clock()
    try:
        r = client.get(f"{url}/v2/health/ready")
    except httpx.HTTPError as err:
        return EndpointStatus(model, url, False, "down", None, f"cannot reach {url}: {_reason(err)}", checked_at=checked)
    latency = (time.perf_counter() - started) * 1000
    if r.status_code != 200:
        text = " ".join(r.text.split())[:120]
        return EndpointStatus(model, url, False, "not ready", latency, f"HTTP {r.status_code} {text}".strip(), checked_at=checked)
    status = EndpointStatus(model, url, True, "ready", latency, checked_at=checked)
    if metadata:
        try:
            m = client.get(f"{url}/v2/models/{served_name}")
            if m.status_code == 200:
                status.metadata = m.json()
            else:
                status.error = f"metadata: HTTP {m.status_code} for model {served_name!r}"
        except (httpx.HTTPError, ValueError) as err:
            status.error = f"metadata: {err}"
    return status
