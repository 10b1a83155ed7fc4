"""Direct-mode engine: Prometheus' rate (resets, extrapolation), bucketQuantile, sums by label, ratios, ring buffer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mdash.errors import QueryError
from mdash.expr import Agg, BinOp, Num, OrZero, Quantile, bucket_quantile, parse_selector, rate, sel
from mdash.sources.scrape import Scraper


def scraper_with(pages: list[tuple[float, str]], max_points: int = 100) -> Scraper:
    s = Scraper("http://127.0.0.1:1/metrics", max_points=max_points)
    for at, text in pages:
        s.ingest(text, at)
    return s


def counter_pages(values, code="200"):
    return [(float(t), f'reqs_total{{code="{code}"}} {v}\n') for t, v in enumerate(values)]


def last(frame) -> float:
    return float(frame.iloc[-1, 0])


def test_rate_of_a_steady_counter_is_its_slope():
    s = scraper_with(counter_pages([10 * t for t in range(11)]))
    assert last(s.evaluate(rate("reqs_total", 5), 10, 10, 1)) == pytest.approx(10.0)


def test_rate_adds_the_value_before_a_counter_reset():
    s = scraper_with(counter_pages([0, 10, 20, 5, 15]))
    # adjusted 0,10,20,25,35: increase 35 over 4 s; first value 0 caps the extrapolation at the start
    assert last(s.evaluate(rate("reqs_total", 4), 4, 4, 1)) == pytest.approx(35 / 4)


def test_rate_extrapolates_half_an_interval_when_samples_stop_short_of_the_window():
    s = scraper_with([(t, f"c_total {100 + 10 * t}\n") for t in (0.0, 2.0, 4.0)])
    # window (−6, 4]: samples at 0,2,4; to_start 6 > 1.1*2 → +1 s; to_end 0 → extrapolated interval 5 s
    assert last(s.evaluate(rate("c_total", 10), 4, 4, 1)) == pytest.approx(40 * 5 / 4 / 10)


def test_rate_needs_two_samples_in_the_window():
    s = scraper_with(counter_pages([1, 2]))
    assert s.evaluate(rate("reqs_total", 60), 0, 0, 1).empty
    assert not s.evaluate(rate("reqs_total", 60), 1, 1, 1).empty


@pytest.mark.parametrize(("q", "expected"), [(0.5, 0.15), (0.9, 0.2), (0.05, 0.02), (0.0, 0.0), (1.0, 0.2)])
def test_bucket_quantile_interpolates_like_prometheus(q, expected):
    buckets = [(0.1, np.array([10.0])), (0.2, np.array([30.0])), (math.inf, np.array([40.0]))]
    assert bucket_quantile(q, buckets)[0] == pytest.approx(expected)


def test_bucket_quantile_special_cases():
    one = np.array([5.0])
    assert math.isnan(bucket_quantile(0.5, [(0.1, one), (1.0, one)])[0])  # no +Inf bucket
    assert math.isnan(bucket_quantile(0.5, [(0.1, 0 * one), (math.inf, 0 * one)])[0])  # no observations
    assert bucket_quantile(-1, [(0.1, one), (math.inf, one)])[0] == -math.inf
    assert bucket_quantile(0.5, [(-1.0, one), (math.inf, 2 * one)])[0] == -1.0  # lowest bound <= 0
    forced = bucket_quantile(0.6, [(0.1, 10 * one), (0.2, one), (0.5, 15 * one), (math.inf, 20 * one)])
    assert forced[0] == pytest.approx(0.2 + 0.3 * 2 / 5)  # the 0.2 bucket is lifted to 10 (ensureMonotonic)
    coalesced = bucket_quantile(0.5, [(0.1, 4 * one), (0.2, 5 * one), (0.2, 5 * one), (math.inf, 10 * one)])
    assert coalesced[0] == pytest.approx(0.1 + 0.1 * 1 / 6)


def histogram_page(t: float, fast: int, slow: int) -> str:
    lines = [
        f'lat_bucket{{le="0.1",job="x"}} {fast}',
        f'lat_bucket{{le="1",job="x"}} {fast + slow}',
        f'lat_bucket{{le="+Inf",job="x"}} {fast + slow}',
    ]
    return "\n".join(lines) + "\n"


def test_quantile_of_rates_summed_by_le_reads_the_recent_window():
    pages = [(float(t), histogram_page(t, 9 * t, t)) for t in range(11)]
    s = scraper_with(pages)
    p95 = Quantile(0.95, Agg("sum", rate("lat_bucket", 5), by=("le",)))
    # per second: 9 fast, 1 slow → rank 9.5 of 10 lies halfway into (0.1, 1]
    assert last(s.evaluate(p95, 10, 10, 1)) == pytest.approx(0.1 + 0.9 * 0.5)


def test_sum_by_label_and_error_ratio():
    pages = [(float(t), f'r_total{{code="200"}} {90 * t}\nr_total{{code="500"}} {10 * t}\n') for t in range(6)]
    s = scraper_with(pages)
    by_code = s.evaluate(Agg("sum", rate("r_total", 5), by=("code",)), 5, 5, 1, legend="{{code}}")
    assert by_code.iloc[-1].to_dict() == pytest.approx({"200": 90.0, "500": 10.0})
    ratio = BinOp(OrZero(Agg("sum", rate("r_total", 5, code="~5.."))), "/", Agg("sum", rate("r_total", 5)))
    assert last(s.evaluate(ratio, 5, 5, 1)) == pytest.approx(0.1)
    ok_only = BinOp(OrZero(Agg("sum", rate("r_total", 5, code="~4.."))), "/", Agg("sum", rate("r_total", 5)))
    assert last(s.evaluate(ok_only, 5, 5, 1)) == 0.0
    assert last(s.evaluate(BinOp(Agg("sum", rate("r_total", 5)), "*", Num(60)), 5, 5, 1)) == pytest.approx(6000)


def test_instant_selector_respects_staleness_and_ignores_target_labels():
    s = scraper_with([(0.0, "g 1\n"), (1.0, "g 2\nother 1\n"), (2.0, "other 2\n")])
    frame = s.evaluate(sel("g", job="anything"), 0, 2, 1)
    assert frame.iloc[:, 0].tolist()[:2] == [1.0, 2.0] and math.isnan(frame.iloc[2, 0])


def test_ring_buffer_keeps_only_max_points_scrapes():
    s = scraper_with(counter_pages(range(50)), max_points=10)
    frame = s.evaluate(sel("reqs_total"), 0, 49, 1)
    assert frame.iloc[:, 0].first_valid_index().timestamp() == 40.0
    assert s.memory_bytes() <= 16 * 10 * 8 + 10 * 8


def test_promql_text_matches_the_structure():
    ratio = BinOp(OrZero(Agg("sum", rate("r_total", 300, code="~5.."))), "/", Agg("sum", rate("r_total", 300)))
    assert ratio.scoped(parse_selector('{job="api"}')).promql() == (
        '((sum (rate(r_total{code=~"5..", job="api"}[5m]))) or vector(0)) / (sum (rate(r_total{job="api"}[5m])))'
    )


def test_custom_promql_text_needs_prometheus():
    with pytest.raises(QueryError, match="needs Prometheus"):
        scraper_with([]).evaluate("up", 0, 1, 1)
