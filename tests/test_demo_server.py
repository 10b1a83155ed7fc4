"""The demo model server: V2 routes, JSON errors, feedback counters and fault knobs, over real loopback HTTP."""

from __future__ import annotations

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sklearn.linear_model import LogisticRegression

from mdash.demo.model import IrisModel, iris, train_and_save
from mdash.demo.server import DemoServer, Faults
from mdash.sources.scrape import parse

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def infer_body(rows=ROWS, request_id=None):
    body = {"inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": sum(rows, [])}]}
    if request_id:
        body["id"] = request_id
    return body


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return train_and_save(tmp_path_factory.mktemp("model"))


@pytest.fixture
async def client(model_path):
    server = DemoServer(IrisModel.load(model_path), "stable", seed=1)
    async with TestClient(TestServer(server.app(), host="127.0.0.1")) as c:
        c.demo = server
        yield c


async def metric(client, name: str, **labels) -> float:
    text = await (await client.get("/metrics")).text()
    return sum(v for n, lab, v in parse(text).samples if n == name and labels.items() <= dict(lab).items())


def test_loaded_model_predicts_like_the_trained_estimator(model_path):
    import joblib

    estimator = joblib.load(model_path)
    assert isinstance(estimator, LogisticRegression)
    x, _ = iris()
    np.testing.assert_allclose(IrisModel.load(model_path).predict_proba(x), estimator.predict_proba(x), atol=1e-12)


async def test_infer_answers_v2_outputs_and_counts_the_request(client):
    resp = await client.post("/v2/models/iris/infer", json=infer_body(request_id="r1"))
    assert resp.status == 200
    body = await resp.json()
    assert body["id"] == "r1" and body["model_name"] == "iris" and body["model_version"] == "stable"
    labels, probs = body["outputs"]
    assert labels["data"] == [0, 2] and probs["shape"] == [2, 3]
    assert await metric(client, "mdash_demo_requests_total", code="200") == 1
    assert await metric(client, "mdash_demo_request_duration_seconds_count") == 1
    assert await metric(client, "mdash_demo_prediction_value_count") == 2


async def test_health_and_metadata_describe_the_model(client):
    assert (await (await client.get("/v2/health/live")).json())["live"] is True
    assert (await client.get("/v2/health/ready")).status == 200
    assert (await (await client.get("/v2/models/iris/ready")).json())["ready"] is True
    meta = await (await client.get("/v2/models/iris")).json()
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "words"),
    [
        ("post", "/v2/models/iris/infer", b"not json", 400, "not valid JSON"),
        ("post", "/v2/models/iris/infer", {"inputs": []}, 400, "non-empty 'inputs'"),
        ("post", "/v2/models/iris/infer", infer_body([[1.0, 2.0, 3.0]]), 400, "4 per row"),
        ("post", "/v2/models/wine/infer", infer_body(), 404, "model 'wine' not found"),
        ("get", "/v2/models/wine", None, 404, "not found"),
        ("get", "/no/such/route", None, 404, "Not Found"),
        ("post", "/v2/models/iris/feedback", {"id": "never", "label": 1}, 404, "no prediction"),
        ("post", "/v2/models/iris/feedback", {"id": "x", "label": 7}, 400, "not a class"),
    ],
)
async def test_bad_requests_get_v2_json_errors(client, method, path, payload, status, words):
    kw = {"data": payload} if isinstance(payload, bytes) else {"json": payload} if payload is not None else {}
    resp = await getattr(client, method)(path, **kw)
    assert resp.status == status
    assert words in (await resp.json())["error"]


async def test_feedback_fills_the_confusion_counters(client):
    await client.post("/v2/models/iris/infer", json=infer_body(request_id="f1"))
    resp = await client.post("/v2/models/iris/feedback", json={"id": "f1", "label": ["setosa", 1]})
    assert (await resp.json())["correct"] == [True, False]
    assert await metric(client, "mdash_demo_feedback_total", correct="true") == 1
    assert await metric(client, "mdash_demo_feedback_total", correct="false") == 1
    assert await metric(client, "mdash_demo_confusion_total", **{"class": "versicolor", "outcome": "fn"}) == 1
    assert await metric(client, "mdash_demo_confusion_total", **{"class": "virginica", "outcome": "fp"}) == 1
    assert (await client.post("/v2/models/iris/feedback", json={"id": "f1", "label": [0, 1]})).status == 404


async def test_admin_route_sets_error_and_timeout_faults_at_run_time(client):
    resp = await client.post("/admin/faults", json={"errors": 1.0})
    assert (await resp.json())["errors"] == 1.0
    assert (await client.post("/v2/models/iris/infer", json=infer_body())).status == 500
    assert await metric(client, "mdash_demo_inference_failures_total", reason="injected") == 1
    await client.post("/admin/faults", json={"errors": 0, "timeouts": 1.0, "timeout_s": 0.01})
    assert (await client.post("/v2/models/iris/infer", json=infer_body())).status == 504
    assert await metric(client, "mdash_demo_timeouts_total") == 1


async def test_admin_route_rejects_unknown_or_out_of_range_knobs(client):
    resp = await client.post("/admin/faults", json={"errors": 2})
    assert resp.status == 400 and "[0, 1]" in (await resp.json())["error"]
    resp = await client.post("/admin/faults", json={"speed": 1})
    assert resp.status == 400 and "unknown fault knob" in (await resp.json())["error"]


async def test_added_latency_shows_in_the_latency_histogram(client):
    client.demo.faults.update({"latency_ms": 30, "latency_jitter": 0})
    await client.post("/v2/models/iris/infer", json=infer_body())
    assert await metric(client, "mdash_demo_request_duration_seconds_bucket", le="0.025") == 0
    assert await metric(client, "mdash_demo_request_duration_seconds_bucket", le="0.05") == 1


def test_noise_randomizes_repeated_inputs_and_drift_shifts_predictions(model_path):
    server = DemoServer(IrisModel.load(model_path), "canary", Faults(noise=1.0), seed=3)
    x, y = iris()
    first, _ = server.predict(x)
    again, _ = server.predict(x)
    assert np.mean(np.array(first) == y) > 0.9  # unseen inputs are answered honestly
    assert np.mean(np.array(again) == y) < 0.6  # repeats are random
    drifted = DemoServer(IrisModel.load(model_path), "canary", Faults(drift=2.0))
    assert np.mean(np.array(drifted.predict(x)[0]) == y) < 0.7


def test_fault_knobs_validate_types():
    with pytest.raises(ValueError, match="must be a number"):
        Faults().update({"latency_ms": "fast"})
