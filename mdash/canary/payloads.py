"""Request bodies for canary traffic and how to read a prediction back, per inference protocol.

Protocols: ``v2`` (Open Inference Protocol), ``v1`` (TF Serving / KServe ``:predict``), ``torchserve``,
``openai`` and ``json`` (POST the body to the URL as given). Payloads come from a JSONL dataset or, for V2 with a
model name, from random inputs that match the model's metadata.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from mdash.errors import DatasetError, SourceError

PROTOCOLS = ("v2", "v1", "torchserve", "openai", "json")
NO_LABEL = 0  # label hash of a response whose prediction could not be read


@dataclass
class Payload:
    """One request body (already encoded) and, from a labelled dataset, the expected prediction's hash."""

    body: bytes
    expected: int | None = None


def check_url(url: str, flag: str) -> str:
    """The URL without a trailing slash, or a SourceError saying what is wrong with it."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourceError(f"{flag} {url!r} is not an http(s) URL: give e.g. http://127.0.0.1:8080")
    return url.rstrip("/")


def request_url(base: str, protocol: str, model: str | None, body: bytes | None = None) -> str:
    """The URL to POST to: the endpoint as given when it has a path, else the protocol's inference route."""
    if protocol not in PROTOCOLS:
        raise SourceError(f"unknown --protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}")
    if urlsplit(base).path not in ("", "/") or protocol == "json":
        return base
    if protocol == "openai":
        chat = body is not None and b'"messages"' in body
        return base + ("/v1/chat/completions" if chat else "/v1/completions")
    if not model:
        raise SourceError(f"--protocol {protocol} needs --model NAME (or a full inference URL as the endpoint)")
    route = {"v2": f"/v2/models/{model}/infer", "v1": f"/v1/models/{model}:predict",
             "torchserve": f"/predictions/{model}"}[protocol]
    return base + route


def label_hash(value: object) -> int:
    """A stable 63-bit hash of a prediction's canonical JSON (never NO_LABEL), so outputs compare compactly."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    h = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1
    return h or 1


def prediction(protocol: str, doc: object) -> object:
    """The prediction inside a decoded response body (the part compared across versions)."""
    if not isinstance(doc, dict):
        return doc
    if protocol == "v2" and isinstance(doc.get("outputs"), list) and doc["outputs"]:
        first = doc["outputs"][0]
        return first.get("data") if isinstance(first, dict) else first
    if protocol == "v1" and "predictions" in doc:
        return doc["predictions"]
    if protocol == "openai" and isinstance(doc.get("choices"), list) and doc["choices"]:
        choice = doc["choices"][0]
        return choice.get("text") if "text" in choice else (choice.get("message") or {}).get("content")
    if protocol in ("v2", "v1", "openai"):  # these have a shape: a body without it is no prediction at all
        raise ValueError(f"not a {protocol} answer")
    return doc


def first_number(value: object) -> float:
    """The first number in a prediction (for distribution-shift tests), NaN when there is none."""
    while isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def read_response(protocol: str, raw: bytes) -> tuple[int, float]:
    """(label hash, first numeric value) of a response body; (NO_LABEL, NaN) when it is not JSON or not the
    protocol's answer shape."""
    try:
        pred = prediction(protocol, json.loads(raw))
    except ValueError:
        return NO_LABEL, math.nan
    return label_hash(pred), first_number(pred)


def load_dataset(path: str) -> list[Payload]:
    """Payloads from a JSONL file: a request body a line, or {"request": body, "expected": label}."""
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below; errors name the file
    except OSError as err:
        raise DatasetError(f"cannot read dataset {path}: {err.strerror}; give an existing JSONL file") from None
    out: list[Payload] = []
    with handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError as err:
                raise DatasetError(
                    f"{path}:{lineno}: not valid JSON ({err.msg}); each line must be one request body "
                    'or {"request": ..., "expected": ...}'
                ) from None
            if isinstance(doc, dict) and "request" in doc:
                expected = label_hash(doc["expected"]) if "expected" in doc else None
                out.append(Payload(json.dumps(doc["request"]).encode(), expected))
            else:
                out.append(Payload(json.dumps(doc).encode()))
    if not out:
        raise DatasetError(f"{path}: no request lines; add one JSON request body per line")
    return out


def random_v2_payloads(metadata: dict, count: int, seed: int) -> list[Payload]:
    """``count`` V2 inference bodies with random values of the shapes and datatypes the model declares."""
    inputs = metadata.get("inputs") if isinstance(metadata, dict) else None
    if not inputs:
        raise SourceError("the model's V2 metadata lists no inputs; give --dataset FILE with request bodies")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        tensors = []
        for spec in inputs:
            shape = [d if isinstance(d, int) and d > 0 else 1 for d in spec.get("shape", [1])]
            size = int(np.prod(shape)) if shape else 1
            dtype = str(spec.get("datatype", "FP32")).upper()
            if dtype.startswith("FP"):
                data: list = np.round(rng.normal(0.0, 1.0, size) * 2 + 3, 3).tolist()
            elif dtype.startswith(("INT", "UINT")):
                data = rng.integers(0, 10, size).tolist()
            elif dtype == "BOOL":
                data = rng.integers(0, 2, size).astype(bool).tolist()
            else:
                data = [f"s{int(x)}" for x in rng.integers(0, 1000, size)]
            tensors.append({"name": spec.get("name", "input-0"), "shape": shape, "datatype": dtype, "data": data})
        out.append(Payload(json.dumps({"inputs": tensors}).encode()))
    return out
