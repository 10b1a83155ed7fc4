"""Canary payloads: JSONL datasets, per-protocol routes, reading predictions, random V2 inputs."""

from __future__ import annotations

import json
import math

import pytest

from mdash.canary.payloads import (
    NO_LABEL,
    check_url,
    label_hash,
    load_dataset,
    random_v2_payloads,
    read_response,
    request_url,
)
from mdash.errors import DatasetError, SourceError

FIXTURE = "fixtures/canary/iris.jsonl"


def test_a_labelled_dataset_gives_bodies_and_expected_hashes():
    payloads = load_dataset(FIXTURE)
    assert len(payloads) == 150
    assert json.loads(payloads[0].body)["inputs"][0]["data"] == [5.1, 3.5, 1.4, 0.2]
    assert payloads[0].expected == label_hash(0) == label_hash([0]) == label_hash(0.0)


def test_plain_body_lines_have_no_expectation_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"x": 1}\n\n{"x": 2}\n')
    assert [p.expected for p in load_dataset(str(path))] == [None, None]


def test_a_malformed_line_is_reported_with_file_and_line_number(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"x": 1}\n{"x": 2}\n{"x": \n')
    with pytest.raises(DatasetError, match=r"bad\.jsonl:3: not valid JSON"):
        load_dataset(str(path))


def test_a_missing_or_empty_dataset_says_what_to_give(tmp_path):
    with pytest.raises(DatasetError, match="cannot read dataset"):
        load_dataset(str(tmp_path / "nope.jsonl"))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="no request lines"):
        load_dataset(str(tmp_path / "empty.jsonl"))


@pytest.mark.parametrize(("protocol", "route"), [
    ("v2", "/v2/models/m/infer"), ("v1", "/v1/models/m:predict"), ("torchserve", "/predictions/m"),
    ("openai", "/v1/completions"), ("json", ""),
])
def test_each_protocol_posts_to_its_inference_route(protocol, route):
    assert request_url("http://h:1", protocol, "m") == "http://h:1" + route


def test_a_full_url_is_used_as_given_and_chat_bodies_go_to_chat_completions():
    assert request_url("http://h:1/custom/infer", "v2", None) == "http://h:1/custom/infer"
    assert request_url("http://h:1", "openai", None, b'{"messages": []}').endswith("/v1/chat/completions")


def test_routes_that_need_a_model_name_say_so():
    with pytest.raises(SourceError, match="needs --model"):
        request_url("http://h:1", "v1", None)


def test_urls_without_a_scheme_are_refused_with_an_example():
    with pytest.raises(SourceError, match="not an http"):
        check_url("127.0.0.1:8080", "--endpoint")


@pytest.mark.parametrize(("protocol", "body", "expected"), [
    ("v2", {"outputs": [{"name": "label", "data": [2]}, {"name": "p", "data": [0.1]}]}, 2),
    ("v1", {"predictions": [1.5]}, 1.5),
    ("openai", {"choices": [{"message": {"content": "hi"}}]}, "hi"),
    ("json", {"score": 3}, {"score": 3}),
])
def test_the_prediction_is_read_per_protocol(protocol, body, expected):
    label, _ = read_response(protocol, json.dumps(body).encode())
    assert label == label_hash(expected)


def test_an_unreadable_body_has_no_label_and_no_value():
    label, value = read_response("v2", b"<html>oops</html>")
    assert label == NO_LABEL and math.isnan(value)


def test_random_v2_inputs_follow_the_metadata_and_the_seed():
    meta = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 4]}, {"name": "k", "datatype": "INT32",
                                                                             "shape": [1]}]}
    a, b = random_v2_payloads(meta, 5, seed=1), random_v2_payloads(meta, 5, seed=1)
    assert [p.body for p in a] == [p.body for p in b]
    doc = json.loads(a[0].body)
    assert doc["inputs"][0]["shape"] == [1, 4] and len(doc["inputs"][0]["data"]) == 4
    assert all(isinstance(v, int) for v in doc["inputs"][1]["data"])
    with pytest.raises(SourceError, match="lists no inputs"):
        random_v2_payloads({}, 1, 0)
