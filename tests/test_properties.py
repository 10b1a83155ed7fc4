"""Property tests: arbitrary input to the exposition parser and scraper, the Prometheus JSON decoder, config loading
and the canary report loader gives a result or one clear mdash.errors exception, never another exception.

(Arbitrary text into ``parse`` alone is in test_scrape_parse.py; these add generated valid pages checked against
prometheus_client, the Scraper path, and the three other loaders.)"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from mdash.canary.report import Report
from mdash.config import Config, load
from mdash.errors import ConfigError, MdashError, QueryError, SourceError
from mdash.expr import Agg, Quantile, Rate, Selector
from mdash.sources.prometheus import to_frame
from mdash.sources.scrape import Scraper, parse

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# ---- JSON values ------------------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)

# ---- the exposition format --------------------------------------------------------------------------------

metric_names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True)
label_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,8}", fullmatch=True)
label_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
sample_values = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**12), 10**12)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


@st.composite
def pages(draw) -> tuple[str, list[tuple[str, tuple, float]]]:
    """A valid text page and the samples it holds (one gauge family per metric name, series unique)."""
    lines, expected = [], []
    for name in draw(st.lists(metric_names, min_size=1, max_size=4, unique=True)):
        lines += [f"# HELP {name} generated", f"# TYPE {name} gauge"]
        for labels in draw(st.lists(st.dictionaries(label_names, label_values, max_size=3), min_size=1,
                                    max_size=3, unique_by=lambda d: tuple(sorted(d.items())))):
            value = draw(sample_values)
            text = ",".join(f'{k}="{escape(v)}"' for k, v in labels.items())
            stamp = draw(st.none() | st.integers(0, 2**41))
            lines.append(f"{name}{{{text}}} {number(value)}" + ("" if stamp is None else f" {stamp}"))
            expected.append((name, tuple(sorted(labels.items())), float(value)))
    return "\n".join(lines) + "\n", expected


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@FAST
@given(pages())
def test_generated_valid_pages_parse_to_the_same_samples_as_prometheus_client(page):
    text, expected = page
    ours = [(n, tuple(sorted(lab)), v) for n, lab, v in parse(text).samples]
    theirs = [(s.name, tuple(sorted(s.labels.items())), s.value)
              for family in text_string_to_metric_families(text) for s in family.samples]
    for got in (ours, theirs):
        assert [(n, lab) for n, lab, _ in got] == [(n, lab) for n, lab, _ in expected]
        assert all(same(a[2], b[2]) for a, b in zip(got, expected, strict=True))


exposition_chars = st.sampled_from('ab_:{}="\\,# \n\t0123456789.+-eInfNa') | st.characters()


@FAST
@given(st.lists(st.text(exposition_chars, max_size=60), min_size=1, max_size=4), st.floats(0.1, 60))
def test_any_pages_scraped_in_turn_evaluate_or_raise_a_source_error(texts, step):
    scraper = Scraper("http://127.0.0.1:9/metrics", max_points=8)
    ingested = 0
    for i, text in enumerate(texts):
        try:
            scraper.ingest(text, 1_700_000_000.0 + 15 * i)
            ingested += 1
        except SourceError as err:
            assert "not a Prometheus text page: line " in str(err)
    exprs = [Selector("a"), Rate(Selector("a_total"), 60.0), Agg("sum", Rate(Selector("b"), 30.0), ("le",)),
             Quantile(0.99, Agg("sum", Rate(Selector("a_bucket"), 60.0), ("le",)))]
    for expr in exprs:
        frame = scraper.evaluate(expr, 1_700_000_000.0, 1_700_000_000.0 + 15 * len(texts), step)
        assert isinstance(frame.index, pd.DatetimeIndex) and all(dtype.kind == "f" for dtype in frame.dtypes)
    assert scraper.scrapes == ingested


# ---- Prometheus JSON --------------------------------------------------------------------------------------

timestamps = st.floats() | st.integers(-(2**66), 2**66) | st.text(max_size=6) | st.none()
sample_texts = st.sampled_from(["1", "NaN", "+Inf", "-Inf", "0.5", "", "x"]) | json_values
pairs = st.lists(timestamps, max_size=3) | st.tuples(timestamps, sample_texts).map(list)
series = st.fixed_dictionaries(
    {},
    optional={"metric": st.dictionaries(st.text(max_size=6), st.text(max_size=6) | json_values, max_size=3)
              | json_values, "values": st.lists(pairs, max_size=4) | json_values, "value": pairs | json_values},
)
answers = st.fixed_dictionaries(
    {"resultType": st.sampled_from(["matrix", "vector", "scalar", "string", "bogus"]) | json_values,
     "result": st.lists(series | json_values, max_size=4) | json_values}
)


def check_frame(frame: pd.DataFrame) -> None:
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    assert all(dtype.kind == "f" for dtype in frame.dtypes) and frame.columns.is_unique


@FAST
@given(answers | json_values, st.sampled_from(["", "{{instance}}", "{{ job }}/{{x}}", "same"]))
def test_any_prometheus_answer_decodes_to_a_frame_or_a_query_error(data, template):
    try:
        frame = to_frame(data, template, fallback="up")
    except QueryError as err:
        assert str(err).startswith("up: not a Prometheus query answer (")
        return
    check_frame(frame)


@FAST
@given(st.lists(st.tuples(st.integers(0, 4 * 10**9), st.sampled_from(["1", "2.5", "NaN", "+Inf"])), max_size=20),
       st.integers(1, 5))
def test_well_formed_matrices_keep_every_point_on_one_sorted_index(points, copies):
    data = {"resultType": "matrix", "result": [{"metric": {"i": str(k)}, "values": points} for k in range(copies)]}
    frame = to_frame(data, "same")
    check_frame(frame)
    assert list(frame.columns) == ["same", *(f"same #{n}" for n in range(2, copies + 1))]
    assert frame.index.is_monotonic_increasing and len(frame) == len({t for t, _ in points})


# ---- config files -----------------------------------------------------------------------------------------


def toml(value) -> str:
    """A TOML inline value (the generated documents use inline tables and arrays only)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"


toml_scalars = (st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=10)
                | st.sampled_from(["http://127.0.0.1:9090", "15m", "2s", "0", "-1s", "https://x", "auto", "lower"]))
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
keys = {
    "prometheus": ("url", "headers", "timeout", "verify", "bearer_token_env", "ca_file"),
    "refresh": ("interval", "range"),
    "rollback": ("url", "deadline", "timeout", "cooldown", "template", "secret_env", "headers", "models"),
}
tables = st.one_of(*(
    st.tuples(st.just(name), st.dictionaries(st.sampled_from(known) | st.text(max_size=5), toml_values, max_size=4))
    for name, known in keys.items()
))
item_keys = st.sampled_from(["name", "endpoint", "metrics", "preset", "title", "group", "query", "queries",
                             "warn", "crit", "better", "kind", "when", "model", "url", "refreshes"])
arrays = st.tuples(st.sampled_from(["models", "panels", "notify"]),
                   st.lists(st.dictionaries(item_keys, toml_values, max_size=5), max_size=3))
documents = st.lists(tables | arrays | st.tuples(st.sampled_from(["readonly", "other"]), toml_values), max_size=5)


@FAST
@given(documents)
def test_any_config_document_loads_or_raises_one_config_error(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("cfg") / "mdash.toml"
    path.write_text("\n".join(f"{key} = {toml(value)}" for key, value in dict(document).items()) + "\n")
    try:
        cfg = load(str(path))
    except ConfigError as err:
        assert str(err).startswith(str(path)), err  # names the file
        assert "\n" not in str(err).strip() or "TOML" in str(err)
        return
    assert isinstance(cfg, Config)


@FAST
@given(st.binary(max_size=80) | st.text(max_size=80).map(str.encode))
def test_any_bytes_as_a_config_file_load_or_raise_one_config_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("cfg") / "mdash.toml"
    path.write_bytes(raw)
    try:
        assert isinstance(load(str(path)), Config)
    except ConfigError as err:
        assert str(err).startswith(str(path))


# ---- canary reports ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_report() -> dict:
    """The recorded demo report cut to 80 samples an arm, replayed once so it is a valid document."""
    doc = json.loads(Path("fixtures/canary/report-demo-aa.json").read_text())
    for arm in ("canary", "baseline"):
        for column in ("t_us", "latency_us", "raw_us", "status", "payload", "label", "value"):
            doc["samples"][arm][column] = doc["samples"][arm][column][:80]
    return Report.replay(doc).to_dict()


def paths(doc, prefix=()):
    """Every key path of a nested document (lists stepped into through their first elements)."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:2]):
            yield from paths(v, (*prefix, i))


@FAST
@given(st.data())
def test_a_report_with_any_field_replaced_replays_or_raises_a_clear_error(small_report, data):
    doc = copy.deepcopy(small_report)
    targets = [p for p in paths(doc) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(targets))
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = data.draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    try:
        report = Report.replay(doc)
    except MdashError as err:
        assert str(err) and "Traceback" not in str(err)
        return
    assert report.verdict in ("pass", "fail", "inconclusive")
    assert json.loads(report.to_json())["schema"] == "mdash.canary/1"


@FAST
@given(json_values | st.text(max_size=40))
def test_any_file_given_as_a_report_replays_or_raises_a_clear_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("report") / "report.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(MdashError):
        Report.replay(str(path))
