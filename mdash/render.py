"""A Snapshot as plain text: the stable JSON document ("mdash.snapshot/1"), CSV rows, or an aligned table.

No rich here: the CLI output must stay importable from the core and readable in any pipe.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from mdash.fmt import fmt_age, fmt_value, num
from mdash.panels import PanelResult, Snapshot

SCHEMA = "mdash.snapshot/1"


def panel_dict(p: PanelResult) -> dict[str, Any]:
    """One panel in the documented JSON shape (NaN and ±Inf become null)."""
    return {
        "model": p.spec.model,
        "group": p.spec.group,
        "title": p.spec.title,
        "unit": p.spec.unit,
        "state": p.state,
        "value": num(p.value),
        "series": [{"legend": legend, "points": [[t, v] for t, v in points]} for legend, points in p.series],
        "error": p.error or None,
    }


def snapshot_dict(snap: Snapshot) -> dict[str, Any]:
    """The whole snapshot as the stable, documented "mdash.snapshot/1" document."""
    return {
        "schema": SCHEMA,
        "taken_at": snap.taken_at,
        "source": snap.source,
        "panels": [panel_dict(p) for p in snap.panels],
    }


def to_json(snap: Snapshot) -> str:
    return json.dumps(snapshot_dict(snap), allow_nan=False)


CSV_FIELDS = ("model", "group", "title", "unit", "state", "value", "age_s", "anomaly", "error")


def panel_row(p: PanelResult) -> dict[str, Any]:
    """One panel's latest reading as a flat row (CSV_FIELDS): the CSV output and ``Snapshot.to_frame()``."""
    return {
        "model": p.spec.model, "group": p.spec.group, "title": p.spec.title, "unit": p.spec.unit, "state": p.state,
        "value": num(p.value), "age_s": p.age, "anomaly": p.anomaly, "error": p.error,
    }


def to_csv(snap: Snapshot) -> str:
    """One row per panel with its latest value, for spreadsheets (the series are in the JSON)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for p in snap.panels:
        row = panel_row(p)
        row["value"] = "" if row["value"] is None else repr(row["value"])
        row["age_s"] = "" if p.age is None else f"{p.age:.1f}"
        row["anomaly"] = "yes" if p.anomaly else ""
        writer.writerow(row.values())
    return out.getvalue()


def to_table(snap: Snapshot) -> str:
    """An aligned plain-text table of every panel, grouped as the dashboard shows them, then endpoints and errors."""
    when = datetime.fromtimestamp(snap.taken_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"mdash snapshot · {snap.source} · {when}" + (" · demo data" if snap.demo else "")]
    rows = [("MODEL", "GROUP", "PANEL", "VALUE", "STATE", "AGE", "NOTE")]
    for p in snap.panels:
        note = p.error or (p.anomaly_reason if p.anomaly else "") or p.spec.note
        state = p.state + ("!" if p.anomaly else "")
        rows.append((p.spec.model or "-", p.spec.group, p.spec.title, fmt_value(p.value, p.spec.unit), state,
                     fmt_age(p.age), " ".join(note.split())[:100]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows]
    for e in snap.endpoints:
        latency = "" if e.latency_ms is None else f" in {e.latency_ms:.0f} ms"
        lines.append(f"endpoint {e.model}: {e.status}{latency} ({e.url}){' — ' + e.error if e.error else ''}")
    lines += [f"alert {a.name}: {a.state}" for a in snap.alerts if a.state == "firing"]
    lines += [f"error: {e}" for e in snap.errors]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def render(snap: Snapshot, fmt: str) -> str:
    return {"json": lambda s: to_json(s) + "\n", "csv": to_csv, "table": to_table}[fmt](snap)
