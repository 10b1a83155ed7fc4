"""Prometheus answers (recorded from a real server) become frames: UTC index, a float column a series, legends."""

from __future__ import annotations

import json
import math

from promtools import recorded

from mdash.sources.prometheus import MAX_POINTS, legend_for, step_for, to_frame


def data(case: str) -> dict:
    return json.loads(recorded(case)["body"])["data"]


def test_matrix_becomes_one_float_column_per_series_named_by_the_legend_template():
    frame = to_frame(data("range_two_series"), "status {{status}}")
    assert sorted(frame.columns) == ["status 200", "status 500"]
    assert str(frame.index.tz) == "UTC" and frame.index.is_monotonic_increasing
    assert frame.dtypes.eq(float).all()
    assert frame["status 500"].dropna().iloc[-1] == 10.0


def test_without_a_template_the_legend_is_prometheus_series_notation():
    labels = {"__name__": "up", "job": "app", "instance": "h:1"}
    assert legend_for(labels, "", "fallback") == 'up{instance="h:1", job="app"}'
    assert legend_for({}, "", "sum(up)") == "sum(up)"
    assert legend_for(labels, "{{ job }}/{{missing}}", "") == "app/"


def test_repeated_legends_stay_distinct_columns():
    frame = to_frame(data("range_two_series"), "same")
    assert sorted(frame.columns) == ["same", "same #2"]


def test_scalar_and_nan_answers_parse():
    assert to_frame(data("instant_scalar")).iloc[0, 0] == 42.0
    assert math.isnan(to_frame(data("instant_nan")).iloc[0, 0])


def test_step_keeps_points_within_prometheus_limit():
    assert step_for(900, 300) == 3.01  # whole milliseconds, rounded down so the last step reaches the end
    for seconds in (60, 3600, 86400, 7 * 86400):
        assert math.floor(seconds / step_for(seconds, 50_000)) + 1 <= MAX_POINTS
