"""A Snapshot's flat views agree: CSV rows and ``Snapshot.to_frame()`` come from the same panel row."""

from __future__ import annotations

import csv
import io
import math

import pytest

from mdash.panels import PanelResult, PanelSpec, Query, Snapshot
from mdash.render import CSV_FIELDS, to_csv

SPEC = PanelSpec("p95", "performance", (Query("x"),), unit="s", warn=0.2, model="iris")
SNAP = Snapshot(
    taken_at=0,
    source="direct",
    panels=[
        PanelResult(SPEC, value=0.25, state="warn", age=3.0, anomaly=True),
        PanelResult(SPEC, value=math.nan, state="error", error="HTTP 503"),
    ],
)


def test_to_frame_has_a_row_per_panel_with_native_types():
    frame = SNAP.to_frame()
    assert list(frame.columns) == list(CSV_FIELDS)
    first, second = frame.to_dict("records")
    assert (first["state"], first["value"], first["age_s"], first["anomaly"]) == ("warn", 0.25, 3.0, True)
    assert second["value"] is None or math.isnan(second["value"])
    assert second["error"] == "HTTP 503"


def test_csv_rows_match_the_frame():
    rows = list(csv.DictReader(io.StringIO(to_csv(SNAP))))
    assert [r["state"] for r in rows] == list(SNAP.to_frame()["state"])
    assert (rows[0]["value"], rows[0]["age_s"], rows[0]["anomaly"]) == ("0.25", "3.0", "yes")
    assert (rows[1]["value"], rows[1]["anomaly"], rows[1]["error"]) == ("", "", "HTTP 503")


@pytest.mark.parametrize(("value", "unit", "long", "short"), [
    (0.000465, "s", "465 µs", "465µs"),  # sub-millisecond latency reads in µs in titles, axes and legends alike
    (0.25, "s", "250 ms", "250ms"),
    (2.5, "s", "2.5 s", "2.5s"),
    (0.0, "s", "0 ms", "0"),
    (0.0213, "ratio", "2.13%", "2.13%"),
    (1.5 * 2**30, "bytes", "1.5 GiB", "1.5GiB"),
    (12345.0, "req/s", "12.35k req/s", "12.3k"),  # never "1.234e+04"
    (1234.5, "req/s", "1234 req/s", "1.23k"),
    (3.2e9, "", "3.2G", "3.2G"),
    (0.00099996, "s", "1 ms", "1ms"),  # rounded before the unit is chosen: never "1e+03 µs"
    (9999.7, "req/s", "10k req/s", "10k"),
    (5000.0, "s", "83.3 min", "83min"),
    (1023.9, "bytes", "1 KiB", "1KiB"),
    (1.2e16, "", "12P", "12P"),
    (-0.0004, "s", "-400 µs", "-400µs"),
    (float("nan"), "s", "—", "—"),
    (None, "s", "—", "—"),
])
def test_values_read_the_same_in_every_renderer(value, unit, long, short):
    from mdash.fmt import fmt_value

    assert fmt_value(value, unit) == long
    assert fmt_value(value, unit, short=True) == short
