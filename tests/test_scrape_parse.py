"""The exposition-format parser: same samples as prometheus_client's, one clear error for garbage, never a crash."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from mdash.errors import SourceError
from mdash.sources.scrape import parse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "metrics"

TRICKY = r"""# HELP odd A help text with "quotes" and \\ backslashes.
# TYPE odd gauge
odd{path="/a,b}",msg="say \"hi\"\nbye",slash="C:\\x"} 1.5 1700000000000
odd{ empty = "" } -Inf
plain_total 3e3
nan_value NaN
"""


def reference(text: str) -> list[tuple[str, tuple, float]]:
    out = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.append((s.name, tuple(sorted(s.labels.items())), s.value))
    return out


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("text", [(FIXTURES / "mdash-demo.txt").read_text(), TRICKY], ids=["demo-recorded", "escapes"])
def test_parser_agrees_with_prometheus_client(text):
    ours = parse(text).samples
    theirs = reference(text)
    assert [(n, lab) for n, lab, _ in ours] == [(n, lab) for n, lab, _ in theirs]
    assert all(same(a[2], b[2]) for a, b in zip(ours, theirs, strict=True))


def test_parser_reads_types_and_unescapes_labels():
    page = parse(TRICKY)
    assert page.types == {"odd": "gauge"}
    assert dict(page.samples[0][1]) == {"path": "/a,b}", "msg": 'say "hi"\nbye', "slash": "C:\\x"}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("metric{a=b} 1", "line 1: bad label set"),
        ("ok 1\nmetric 1 2 3", "line 2: expected"),
        ("metric one", "is not a number"),
        ("9bad 1", "bad metric name"),
        ("# TYPE m potato", "unknown metric type"),
        ('m{a="1" 1', "without '}'"),
    ],
)
def test_garbage_gets_one_error_naming_the_line(text, words):
    with pytest.raises(SourceError, match=words):
        parse(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab_:{}="\\,# \n\t0123456789.+-eInfNa'), max_size=120))
def test_any_text_parses_or_raises_source_error(text):
    try:
        page = parse(text)
    except SourceError:
        return
    for name, labels, value in page.samples:
        assert isinstance(name, str) and isinstance(labels, tuple) and isinstance(value, float)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_unicode_parses_or_raises_source_error(text):
    try:
        page = parse(text)
    except SourceError as exc:
        assert str(exc).startswith("line ")  # the message names the line
    else:
        assert all(isinstance(v, float) for _, _, v in page.samples)
