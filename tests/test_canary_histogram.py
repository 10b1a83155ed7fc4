"""The HDR-style histogram: 3 significant digits, constant memory, HdrHistogram's percentile convention."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mdash.canary.histogram import SIZE, Histogram, bucket_high, bucket_index


@given(st.integers(min_value=0, max_value=2**39))
def test_every_value_lands_in_a_bucket_narrower_than_a_thousandth_of_it(value):
    idx = bucket_index(np.array([value]))
    high = int(bucket_high(idx)[0])
    low = int(bucket_high(idx - 1)[0]) + 1 if idx[0] > 0 else 0
    assert 0 <= idx[0] < SIZE
    assert low <= value <= high
    assert high - low + 1 <= max(1, value / 1000)


def test_percentiles_agree_with_exact_ones_to_three_significant_digits():
    rng = np.random.default_rng(1)
    values = (rng.lognormal(np.log(3000), 0.8, 50_000)).astype(np.int64)
    h = Histogram()
    h.record(values)
    for q in (50, 90, 99, 99.9):
        exact = np.percentile(values, q, method="inverted_cdf")
        assert abs(h.percentile(q) - exact) <= exact / 1000 + 1
    assert h.percentile(100) == values.max()


def test_memory_does_not_grow_with_the_number_of_values():
    h = Histogram()
    before = h.counts.nbytes
    h.record(np.arange(1, 200_000) * 37)
    assert h.counts.nbytes == before and h.total == 199_999


def test_an_empty_histogram_has_no_percentiles():
    assert Histogram().percentile(50) is None
