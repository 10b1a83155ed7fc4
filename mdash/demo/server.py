"""The demo model server: Open Inference Protocol V2 over aiohttp, prometheus_client metrics, fault knobs.

One launcher process trains the model, saves it with joblib, then forks one process per version (stable,
canary) so each version has its own CPU, memory and process metrics while the slow scikit-learn import happens
once. Run ``python -m mdash.demo.server --serve stable=0 --serve canary=0``; each process prints
``READY <version> <port> <pid>`` when it listens, and every process exits on SIGTERM, when its stdin closes or
when the process that started it exits (so a crashed or killed parent never leaves a server behind).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from mdash.demo.model import CLASSES, FEATURES, IrisModel, iris, train_and_save
from mdash.demo.reaper import Target, wait_for_starter

MODEL = "iris"
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)
REMEMBERED = 20_000  # predictions kept for feedback (oldest forgotten first)


@dataclass
class Faults:
    """Fault knobs of one version; every rate is a fraction of requests in [0, 1]."""

    latency_ms: float = 0.0  # median added latency
    latency_jitter: float = 0.5  # sigma of the log-normal around the median (0 = fixed delay)
    errors: float = 0.0  # answered 500 with reason "injected"
    timeouts: float = 0.0  # held for timeout_s, then answered 504
    timeout_s: float = 1.0
    noise: float = 0.0  # repeated inputs answered with a random class
    drift: float = 0.0  # inputs shifted by this many feature standard deviations before predicting

    def update(self, knobs: dict) -> None:
        """Set knobs by name; raises ValueError naming the knob and the allowed range."""
        names = {f.name for f in fields(self)}
        for key, value in knobs.items():
            if key not in names:
                raise ValueError(f"unknown fault knob {key!r}; known: {', '.join(sorted(names))}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"fault knob {key!r} must be a number, got {value!r}") from None
            rate = key in ("errors", "timeouts", "noise")
            if not math.isfinite(number) or number < 0 or (rate and number > 1):
                raise ValueError(f"fault knob {key!r} must be {'in [0, 1]' if rate else '>= 0'}, got {value!r}")
        for key, value in knobs.items():
            setattr(self, key, float(value))


class Metrics:
    """The server's prometheus_client metrics, on a registry of its own (the "mdash-demo" preset names)."""

    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry()
        r, labels = self.registry, ("model", "version")
        self.latency = Histogram(
            "mdash_demo_request_duration_seconds", "Inference request latency.", labels, registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.requests = Counter("mdash_demo_requests", "Inference requests by HTTP status code.", (*labels, "code"), registry=r)
        self.failures = Counter("mdash_demo_inference_failures", "Failed inferences by reason.", (*labels, "reason"), registry=r)
        self.timeouts = Counter("mdash_demo_timeouts", "Inferences that hit the server deadline.", labels, registry=r)
        self.prediction = Histogram(
            "mdash_demo_prediction_value", "Predicted class index.", labels, registry=r, buckets=(0, 1, 2)
        )
        self.confidence = Histogram(
            "mdash_demo_prediction_confidence", "Probability of the predicted class.", labels, registry=r,
            buckets=(0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99),
        )
        self.feedback = Counter(
            "mdash_demo_feedback", "Ground-truth feedback by whether the prediction was right.",
            (*labels, "correct"), registry=r,
        )
        self.confusion = Counter(
            "mdash_demo_confusion", "Per-class confusion counts from feedback (tp, fp, fn).",
            (*labels, "class", "outcome"), registry=r,
        )
        ProcessCollector(registry=r)
        self.key = (MODEL, version)
        for correct in ("true", "false"):  # exported as 0 from the start, so ratios exist before feedback
            self.feedback.labels(*self.key, correct)
        for name in CLASSES:
            for outcome in ("tp", "fp", "fn"):
                self.confusion.labels(*self.key, name, outcome)
        self.timeouts.labels(*self.key)


def v2_error(status: int, message: str) -> web.Response:
    """A V2-style JSON error body: {"error": message}."""
    return web.json_response({"error": message}, status=status)


class DemoServer:
    """One model version: the V2 routes, the admin route and the metrics of that version."""

    def __init__(self, model: IrisModel, version: str, faults: Faults | None = None, seed: int = 0) -> None:
        self.model = model
        self.version = version
        self.faults = faults or Faults()
        self.metrics = Metrics(version)
        self.rng = random.Random(seed)
        self.predictions: OrderedDict[str, list[int]] = OrderedDict()
        self.seen: OrderedDict[bytes, None] = OrderedDict()
        self.started = time.time()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[json_errors], client_max_size=4 * 1024 * 1024)
        app.router.add_get("/v2", self.server_metadata)
        app.router.add_get("/v2/health/live", self.live)
        app.router.add_get("/v2/health/ready", self.live)
        for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{ver}"):
            app.router.add_get(prefix, self.model_metadata)
            app.router.add_get(prefix + "/ready", self.model_ready)
            app.router.add_post(prefix + "/infer", self.infer)
            app.router.add_post(prefix + "/feedback", self.feedback)
        app.router.add_get("/metrics", self.metrics_page)
        app.router.add_get("/admin/faults", self.admin)
        app.router.add_post("/admin/faults", self.admin)
        return app

    async def live(self, request: web.Request) -> web.Response:
        return web.json_response({"live": True, "ready": True})

    async def server_metadata(self, request: web.Request) -> web.Response:
        return web.json_response({"name": "mdash-demo", "version": self.version, "extensions": []})

    def _check_model(self, request: web.Request) -> web.Response | None:
        name = request.match_info["name"]
        if name != MODEL:
            return v2_error(404, f"model {name!r} not found; this server serves {MODEL!r}")
        return None

    async def model_metadata(self, request: web.Request) -> web.Response:
        if (err := self._check_model(request)) is not None:
            return err
        return web.json_response({
            "name": MODEL,
            "versions": [self.version],
            "platform": "scikit-learn",
            "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, len(FEATURES)]}],
            "outputs": [
                {"name": "label", "datatype": "INT64", "shape": [-1]},
                {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(CLASSES)]},
            ],
            "parameters": {"features": list(FEATURES), "classes": list(CLASSES)},
        })

    async def model_ready(self, request: web.Request) -> web.Response:
        if (err := self._check_model(request)) is not None:
            return err
        return web.json_response({"name": MODEL, "ready": True})

    def _done(self, code: int, started: float, reason: str = "") -> None:
        m, key = self.metrics, self.metrics.key
        m.latency.labels(*key).observe(time.perf_counter() - started)
        m.requests.labels(*key, str(code)).inc()
        if reason:
            m.failures.labels(*key, reason).inc()

    async def infer(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        if (err := self._check_model(request)) is not None:
            self._done(404, started, "unknown_model")
            return err
        try:
            rows, request_id = parse_infer(await read_json(request))
        except ValueError as exc:
            self._done(400, started, "bad_request")
            return v2_error(400, str(exc))
        f, rng = self.faults, self.rng
        if f.timeouts and rng.random() < f.timeouts:
            await asyncio.sleep(f.timeout_s)
            self.metrics.timeouts.labels(*self.metrics.key).inc()
            self._done(504, started, "timeout")
            return v2_error(504, f"inference timed out after {f.timeout_s:g} s")
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000 * math.exp(rng.gauss(0, f.latency_jitter)))
        if f.errors and rng.random() < f.errors:
            self._done(500, started, "injected")
            return v2_error(500, "injected fault: the model failed on this request")
        labels, probs = self.predict(rows)
        self.predictions[request_id] = labels
        if len(self.predictions) > REMEMBERED:
            self.predictions.popitem(last=False)
        m, key = self.metrics, self.metrics.key
        for label, p in zip(labels, probs.max(axis=1), strict=True):
            m.prediction.labels(*key).observe(label)
            m.confidence.labels(*key).observe(float(p))
        self._done(200, started)
        return web.json_response({
            "model_name": MODEL,
            "model_version": self.version,
            "id": request_id,
            "outputs": [
                {"name": "label", "datatype": "INT64", "shape": [len(labels)], "data": labels},
                {"name": "probabilities", "datatype": "FP64", "shape": list(probs.shape),
                 "data": probs.ravel().round(6).tolist()},
            ],
        })

    def predict(self, rows: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Labels and probabilities, with this version's drift and noise applied."""
        f = self.faults
        if f.drift:
            rows = rows + f.drift * self.model.std
        probs = self.model.predict_proba(rows)
        labels = probs.argmax(axis=1).tolist()
        for i, row in enumerate(rows):
            key = row.tobytes()
            repeated = key in self.seen
            self.seen[key] = None
            if len(self.seen) > REMEMBERED:
                self.seen.popitem(last=False)
            if repeated and f.noise and self.rng.random() < f.noise:
                labels[i] = self.rng.randrange(len(CLASSES))
        return labels, probs

    async def feedback(self, request: web.Request) -> web.Response:
        if (err := self._check_model(request)) is not None:
            return err
        try:
            request_id, truth = parse_feedback(await read_json(request))
        except ValueError as exc:
            return v2_error(400, str(exc))
        predicted = self.predictions.pop(request_id, None)
        if predicted is None:
            return v2_error(404, f"no prediction with id {request_id!r} (unknown, already judged, or forgotten)")
        if len(truth) != len(predicted):
            self.predictions[request_id] = predicted
            return v2_error(400, f"'label' has {len(truth)} values but request {request_id!r} had {len(predicted)} rows")
        m, key = self.metrics, self.metrics.key
        for actual, guess in zip(truth, predicted, strict=True):
            m.feedback.labels(*key, "true" if actual == guess else "false").inc()
            if actual == guess:
                m.confusion.labels(*key, CLASSES[actual], "tp").inc()
            else:
                m.confusion.labels(*key, CLASSES[actual], "fn").inc()
                m.confusion.labels(*key, CLASSES[guess], "fp").inc()
        return web.json_response({"id": request_id, "correct": [a == g for a, g in zip(truth, predicted, strict=True)]})

    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def admin(self, request: web.Request) -> web.Response:
        if request.remote not in ("127.0.0.1", "::1"):
            return v2_error(403, "the admin route answers loopback clients only")
        if request.method == "POST":
            try:
                knobs = await read_json(request)
                if not isinstance(knobs, dict):
                    raise ValueError("send a JSON object of knobs, e.g. {\"latency_ms\": 50}")
                self.faults.update(knobs)
            except ValueError as exc:
                return v2_error(400, str(exc))
        return web.json_response({"version": self.version, **asdict(self.faults)})


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Every error as a V2 JSON body: unknown routes 404, wrong methods 405, anything unexpected 500 without a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        return v2_error(exc.status, f"{request.method} {request.path}: {exc.reason}")
    except Exception as exc:  # noqa: BLE001 - the demo must answer JSON, never a traceback page
        return v2_error(500, f"internal error: {type(exc).__name__}")


async def read_json(request: web.Request) -> object:
    """The request body as JSON; ValueError with a clear message when it is not."""
    try:
        return json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"request body is not valid JSON ({exc})") from None


def parse_infer(body: object) -> tuple[np.ndarray, str]:
    """Rows (n x 4 floats) and the request id from a V2 inference request; ValueError says what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise ValueError("request body must be a JSON object with a non-empty 'inputs' list (Open Inference Protocol V2)")
    tensor = body["inputs"][0]
    if not isinstance(tensor, dict) or "data" not in tensor:
        raise ValueError("inputs[0] must be an object with 'name', 'shape', 'datatype' and 'data'")
    try:
        data = np.asarray(tensor["data"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("inputs[0].data must be numbers") from None
    width = len(FEATURES)
    if data.size == 0 or data.size % width or not np.isfinite(data).all():
        raise ValueError(f"inputs[0].data must hold finite numbers, {width} per row ({', '.join(FEATURES)}); got {data.size}")
    shape = tensor.get("shape")
    if shape is not None and (not isinstance(shape, list) or math.prod(int(s) for s in shape if isinstance(s, int)) != data.size):
        raise ValueError(f"inputs[0].shape {shape!r} does not match {data.size} values")
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ValueError("'id' must be a string")
    return data.reshape(-1, width), request_id or uuid.uuid4().hex


def parse_feedback(body: object) -> tuple[str, list[int]]:
    """Request id and true class indexes (or names) from a feedback body: {"id": ..., "label": 1 or [1, 2]}."""
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or "label" not in body:
        raise ValueError('feedback body must be {"id": "<request id>", "label": <class index or name, or a list>}')
    raw = body["label"] if isinstance(body["label"], list) else [body["label"]]
    out = []
    for item in raw:
        if isinstance(item, str) and item in CLASSES:
            out.append(CLASSES.index(item))
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(CLASSES):
            out.append(item)
        else:
            raise ValueError(f"label {item!r} is not a class index 0-{len(CLASSES) - 1} or one of {', '.join(CLASSES)}")
    return body["id"], out


async def traffic(port: int, rps: float, seed: int, stop: asyncio.Event) -> None:
    """Keep a server busy: Poisson arrivals, mostly single rows, some batches, a few bad requests, feedback for 30%."""
    import aiohttp

    rng = random.Random(seed)
    x, y = iris()
    base = f"http://127.0.0.1:{port}/v2/models/{MODEL}"
    pending: set[asyncio.Task] = set()

    async def one(session: aiohttp.ClientSession) -> None:
        n = 1 if rng.random() < 0.8 else rng.randint(2, 8)
        idx = [rng.randrange(len(x)) for _ in range(n)]
        rows = x[idx] + (np.array([[rng.gauss(0, 0.05) for _ in FEATURES] for _ in idx]) if rng.random() < 0.5 else 0)
        data = rows.ravel().tolist()
        if rng.random() < 0.01:
            data = data[:-1]  # a malformed request now and then, as real clients send
        body = {"inputs": [{"name": "input-0", "shape": [n, len(FEATURES)], "datatype": "FP64", "data": data}]}
        try:
            async with session.post(f"{base}/infer", json=body) as resp:
                answer = await resp.json() if resp.status == 200 else None
            if answer and rng.random() < 0.3:
                feedback = {"id": answer["id"], "label": y[idx].tolist()}
                async with session.post(f"{base}/feedback", json=feedback) as resp:
                    await resp.read()
        except (TimeoutError, aiohttp.ClientError):
            pass

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not stop.is_set():
            if len(pending) < 64:
                task = asyncio.create_task(one(session))
                pending.add(task)
                task.add_done_callback(pending.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=rng.expovariate(rps))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def serve(server: DemoServer, port: int, traffic_rps: float, seed: int, starter: Target) -> None:
    """Listen on 127.0.0.1:port until SIGTERM/SIGINT or stdin EOF; announce readiness on stdout."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    threading.Thread(target=_watch_starter, args=(loop, stop, starter), daemon=True, name="starter-watch").start()
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    actual = runner.addresses[0][1]
    os.write(1, f"READY {server.version} {actual} {os.getpid()}\n".encode())  # one write: no interleaving
    tasks = [asyncio.create_task(traffic(actual, traffic_rps, seed, stop))] if traffic_rps > 0 else []
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runner.cleanup()


def _watch_starter(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, starter: Target) -> None:
    """Stop when the starter closes our stdin or dies (a pidfd of it, since a child it forked would keep the
    pipe open): no orphaned servers."""
    with contextlib.suppress(OSError, ValueError):
        wait_for_starter(starter)
    with contextlib.suppress(RuntimeError):  # the loop may already have finished
        loop.call_soon_threadsafe(stop.set)


def _serve_version(path: Path, version: str, port: int, faults: Faults, traffic_rps: float, seed: int,
                   starter: Target) -> None:
    server = DemoServer(IrisModel.load(path), version, faults, seed)
    asyncio.run(serve(server, port, traffic_rps, seed, starter))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdash.demo.server", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="append", required=True, metavar="VERSION=PORT",
                        help="a version to serve and its port (0: any free port); repeat for more versions")
    parser.add_argument("--faults", action="append", default=[], metavar="VERSION=JSON", help="fault knobs of a version")
    parser.add_argument("--traffic", type=float, default=0.0, metavar="RPS", help="built-in traffic per version")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        versions = [(v, int(p)) for v, _, p in (s.partition("=") for s in args.serve)]
        faults = {v: Faults() for v, _ in versions}
        for item in args.faults:
            version, _, text = item.partition("=")
            faults[version].update(json.loads(text))
    except (ValueError, KeyError) as exc:
        parser.error(f"bad --serve/--faults value: {exc}")
    starter = Target(os.getppid())  # before forking: the versions' parent is this launcher, not the starter
    disable_created_metrics()  # *_created series double the page and no panel uses them
    folder = tempfile.mkdtemp(prefix="mdash-model-")
    path = train_and_save(folder)
    children = []
    for i, (version, port) in enumerate(versions[1:], start=1):
        pid = os.fork()
        if pid == 0:
            try:
                _serve_version(path, version, port, faults[version], args.traffic, args.seed + i, starter)
            finally:
                os._exit(0)
        children.append(pid)
    try:
        version, port = versions[0]
        _serve_version(path, version, port, faults[version], args.traffic, args.seed, starter)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
