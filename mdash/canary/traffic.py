"""The canary traffic engine: paired, seeded, interleaved requests on aiohttp, recorded into compact arrays.

aiohttp with one session per arm and a connection pool sized to the concurrency was the client that kept up
with ``hey`` on this machine (issue 6; httpx async queued client-side and inflated latency 8x). Closed loop
keeps ``concurrency`` requests in flight per arm; open loop sends at a fixed rate and measures latency from the
*scheduled* send time, so a stalled server cannot hide its stall by slowing the generator (coordinated
omission); the uncorrected latency (from the actual send) is kept too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import os
import threading
import time
from array import array
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from mdash.canary.payloads import NO_LABEL, Payload, read_response, request_url
from mdash.errors import SourceError

TIMEOUT = 0  # status codes below 100 are client-side outcomes
CONNECT_FAILED = -1
CLIENT_ERROR = -2
HEADERS = {"Content-Type": "application/json"}
T = TypeVar("T")


@dataclass
class Progress:
    """A live reading for one arm, sent to the progress callback about twice a second."""

    arm: str
    done: int
    total: int | None
    errors: int
    rps: float
    p50_ms: float | None
    p99_ms: float | None


@dataclass
class ArmSamples:
    """Every measured request of one arm as compact columns (about 40 bytes a request)."""

    t_us: array = field(default_factory=lambda: array("q"))  # scheduled send, µs after the run started
    latency_us: array = field(default_factory=lambda: array("q"))  # from the scheduled send (CO-corrected)
    raw_us: array = field(default_factory=lambda: array("q"))  # from the actual send (uncorrected)
    status: array = field(default_factory=lambda: array("h"))  # HTTP status, or TIMEOUT / CONNECT_FAILED / ...
    payload: array = field(default_factory=lambda: array("i"))  # index into the payload list
    label: array = field(default_factory=lambda: array("q"))  # hash of the prediction, NO_LABEL if unreadable
    value: array = field(default_factory=lambda: array("d"))  # first number of the prediction, NaN if none
    reasons: dict[str, int] = field(default_factory=dict)  # client-side failure reasons, counted
    elapsed_s: float = 0.0  # first scheduled send to last completion

    COLUMNS = ("t_us", "latency_us", "raw_us", "status", "payload", "label", "value")

    def __len__(self) -> int:
        return len(self.status)

    def arrays(self) -> dict[str, np.ndarray]:
        """The columns as numpy arrays (views, no copy)."""
        return {name: np.frombuffer(getattr(self, name), dtype=getattr(self, name).typecode)
                for name in self.COLUMNS}

    def to_dict(self) -> dict:
        """JSON-ready columns; NaN values become null."""
        out: dict = {name: getattr(self, name).tolist() for name in self.COLUMNS if name != "value"}
        out["value"] = [None if math.isnan(v) else v for v in self.value]
        out["reasons"] = dict(self.reasons)
        out["elapsed_s"] = self.elapsed_s
        return out

    @classmethod
    def from_dict(cls, doc: dict) -> ArmSamples:
        """Rebuild the columns saved by to_dict, bit for bit."""
        arm = cls(reasons=dict(doc.get("reasons", {})), elapsed_s=float(doc.get("elapsed_s", 0.0)))
        for name in cls.COLUMNS:
            column = getattr(arm, name)
            values = doc.get(name, [])
            column.extend(math.nan if v is None else v for v in values) if name == "value" else column.extend(values)
        return arm


@dataclass
class TrafficPlan:
    """What to send: arm name → endpoint base URL, the payloads, and how (a subset of CanarySettings)."""

    endpoints: dict[str, str]
    payloads: list[Payload]
    protocol: str
    model: str | None
    requests: int | None
    duration: float | None
    concurrency: int
    rate: float | None
    timeout: float
    warmup: int
    seed: int


@dataclass
class TrafficResult:
    """The samples of each arm plus what the generator itself noticed."""

    arms: dict[str, ArmSamples]
    warnings: list[str]
    started_at: float


def jobs(plan: TrafficPlan, cancel: threading.Event | None) -> Iterator[tuple[str, int]]:
    """(arm, payload index) in a seeded order: each step sends one payload to every arm, arms shuffled."""
    rng = np.random.default_rng(plan.seed)
    arms = list(plan.endpoints)
    steps = 0
    while plan.requests is None or steps < plan.requests:
        for idx in rng.permutation(len(plan.payloads)):
            if cancel is not None and cancel.is_set():
                return
            order = rng.permutation(len(arms)) if len(arms) > 1 else [0]
            for a in order:
                yield arms[a], int(idx)
            steps += 1
            if plan.requests is not None and steps >= plan.requests:
                return


class Engine:
    """One run of traffic inside one asyncio loop."""

    def __init__(self, plan: TrafficPlan, progress: Callable[[Progress], None] | None,
                 cancel: threading.Event | None) -> None:
        self.plan = plan
        self.progress = progress
        self.cancel = cancel
        self.arms = {arm: ArmSamples() for arm in plan.endpoints}
        self.errors = dict.fromkeys(plan.endpoints, 0)
        self.urls = {arm: request_url(base, plan.protocol, plan.model, plan.payloads[0].body)
                     for arm, base in plan.endpoints.items()}
        self.warnings: list[str] = []
        self.t0 = 0.0
        self.last_done = 0.0
        self.marks = dict.fromkeys(plan.endpoints, 0)

    async def run(self) -> TrafficResult:
        """Warm up, then send the measured traffic; raises SourceError if an arm is unreachable."""
        started_at = time.time()
        limit = self.plan.concurrency if self.plan.rate is None else 0
        timeout = aiohttp_timeout(self.plan.timeout)
        import aiohttp

        self.sessions = {arm: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit), timeout=timeout)
                         for arm in self.plan.endpoints}
        try:
            await self.warm_up()
            self.t0 = time.perf_counter()
            reporter = asyncio.ensure_future(self.report_progress())
            try:
                await (self.closed_loop() if self.plan.rate is None else self.open_loop())
            finally:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
            self.emit_progress(final=True)
        finally:
            for session in self.sessions.values():
                await session.close()
        return TrafficResult(self.arms, self.warnings, started_at)

    async def exchange(self, arm: str, body: bytes) -> tuple[int, bytes, str | None]:
        """POST one body; (status, response body, client-side failure reason)."""
        import aiohttp

        try:
            async with self.sessions[arm].post(self.urls[arm], data=body, headers=HEADERS) as resp:
                return resp.status, await resp.read(), None
        except TimeoutError:
            return TIMEOUT, b"", "timeout"
        except aiohttp.ClientConnectorError as err:
            code = getattr(err.os_error, "errno", None)
            return CONNECT_FAILED, b"", (os.strerror(code) if code else "connection failed").lower()
        except aiohttp.ClientError as err:
            return CLIENT_ERROR, b"", type(err).__name__

    async def warm_up(self) -> None:
        """Send the warm-up requests (not measured); an arm whose every try fails to connect cannot run."""
        count = max(1, self.plan.warmup)
        for arm, url in self.urls.items():
            sem = asyncio.Semaphore(self.plan.concurrency)

            async def one(i: int, arm: str = arm, sem: asyncio.Semaphore = sem) -> tuple[int, bytes, str | None]:
                """One warm-up request, at most ``concurrency`` at a time."""
                async with sem:
                    return await self.exchange(arm, self.plan.payloads[i % len(self.plan.payloads)].body)

            results = await asyncio.gather(*(one(i) for i in range(count)))
            if all(status < 100 for status, _, _ in results):
                raise SourceError(f"{arm} endpoint {url} is not reachable ({results[0][2]}): "
                                  "start it or fix the URL")
            if all(status in (404, 405) for status, _, _ in results):
                raise SourceError(f"{arm} endpoint answered HTTP {results[0][0]} to POST {url}: "
                                  "check --model and --protocol")

    async def send(self, arm: str, idx: int, t_sched: float) -> None:
        """Send one measured request and append its outcome to the arm's columns."""
        t_start = time.perf_counter()
        status, raw, reason = await self.exchange(arm, self.plan.payloads[idx].body)
        t_end = time.perf_counter()
        label, value = read_response(self.plan.protocol, raw) if 200 <= status < 300 else (NO_LABEL, math.nan)
        s = self.arms[arm]
        s.t_us.append(int((t_sched - self.t0) * 1e6))
        s.latency_us.append(int((t_end - t_sched) * 1e6))
        s.raw_us.append(int((t_end - t_start) * 1e6))
        s.status.append(status)
        s.payload.append(idx)
        s.label.append(label)
        s.value.append(value)
        s.elapsed_s = t_end - self.t0
        if reason:
            s.reasons[reason] = s.reasons.get(reason, 0) + 1
        if not 200 <= status < 300:
            self.errors[arm] += 1

    def deadline(self) -> float:
        """perf_counter time at which a --duration run stops sending."""
        return math.inf if self.plan.duration is None else self.t0 + self.plan.duration

    async def closed_loop(self) -> None:
        """``concurrency`` workers per arm pull jobs from the one seeded sequence."""
        source = jobs(self.plan, self.cancel)
        end = self.deadline()

        async def worker() -> None:
            """Send jobs one after another until they run out or the deadline passes."""
            for arm, idx in source:
                now = time.perf_counter()
                if now >= end:
                    return
                await self.send(arm, idx, now)

        await asyncio.gather(*(worker() for _ in range(self.plan.concurrency * len(self.arms))))

    async def open_loop(self) -> None:
        """Launch each job at its scheduled time (rate per arm); warn when the generator falls behind."""
        want = self.plan.rate * len(self.arms)
        end = self.deadline()
        pending: set[asyncio.Task] = set()
        late = launched = 0
        t_last = self.t0
        for k, (arm, idx) in enumerate(jobs(self.plan, self.cancel)):
            t_sched = self.t0 + k / want
            if t_sched >= end:
                break
            delay = t_sched - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late += delay < -0.010
                await asyncio.sleep(0)  # catching up: still let answers in
            task = asyncio.ensure_future(self.send(arm, idx, t_sched))
            pending.add(task)
            task.add_done_callback(pending.discard)
            launched, t_last = launched + 1, time.perf_counter()
        if pending:
            await asyncio.gather(*pending)
        rate = (launched - 1) / (t_last - self.t0) if launched > 1 and t_last > self.t0 else want
        if launched and (late > 0.01 * launched or rate < 0.98 * want):
            self.warnings.append(
                f"the generator could not keep {self.plan.rate:g} req/s per arm (sent {rate / len(self.arms):.0f}/s; "
                f"{late} of {launched} requests started more than 10 ms late); latency is measured from the "
                "scheduled time, so it includes that wait"
            )

    def emit_progress(self, final: bool = False) -> None:
        """Call the progress callback once per arm with the numbers since the last call (whole run if final)."""
        if self.progress is None:
            return
        now = time.perf_counter()
        since = self.t0 if final else (self.last_done or self.t0)
        for arm, s in self.arms.items():
            mark, n = (0 if final else self.marks[arm]), len(s)
            lat = np.frombuffer(s.latency_us, dtype=np.int64)[mark:n]
            p50, p99 = (np.percentile(lat, [50, 99]) / 1000.0).tolist() if lat.size else (None, None)
            rps = (n - mark) / max(now - since, 1e-9)
            self.progress(Progress(arm, n, self.plan.requests, self.errors[arm], rps, p50, p99))
            self.marks[arm] = n
        self.last_done = now

    async def report_progress(self) -> None:
        """Tick the progress callback every half second while traffic runs."""
        while True:
            await asyncio.sleep(0.5)
            self.emit_progress()


def aiohttp_timeout(seconds: float):
    """A total per-request timeout (connection wait, send and read)."""
    import aiohttp

    return aiohttp.ClientTimeout(total=seconds)


def blocking(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a fresh loop; in a helper thread when this thread already runs one
    (Jupyter). A plain loop rather than asyncio.run: measured here, asyncio.run's teardown left ~100 bytes
    per request of extra resident memory behind."""
    def go() -> T:
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(make())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is None:
        return go()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(go).result()


def run_traffic(plan: TrafficPlan, progress: Callable[[Progress], None] | None = None,
                cancel: threading.Event | None = None) -> TrafficResult:
    """Run the traffic to completion (blocking)."""
    return blocking(lambda: Engine(plan, progress, cancel).run())


async def fetch_json(url: str, timeout: float) -> dict:
    """GET a JSON document (V2 model metadata); SourceError with the cause when that fails."""
    import aiohttp

    try:
        async with aiohttp.ClientSession(timeout=aiohttp_timeout(timeout)) as session, session.get(url) as resp:
            if resp.status != 200:
                raise SourceError(f"GET {url} answered HTTP {resp.status}: check --model, or give --dataset FILE")
            return await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        raise SourceError(f"cannot read model metadata from {url} ({type(err).__name__}: {err}): "
                          "is the endpoint up? or give --dataset FILE") from None


def get_json(url: str, timeout: float) -> dict:
    """Blocking fetch_json."""
    return blocking(lambda: fetch_json(url, timeout))
