"""``mdash snapshot``: the dashboard once, headless, as a table, the stable JSON document, or CSV."""

from __future__ import annotations

import argparse
import sys
import time

from mdash.commands._common import add_source_args, dashboard_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "snapshot",
        help="print every panel once (table, JSON or CSV)",
        description="Fetch every panel once and print it. Exit 0 when it ran (even with panel errors), "
        "2 for a bad config, 3 when no data source answered. Without Prometheus (direct mode) it scrapes twice, "
        "one refresh interval apart, so rates have two points.",
    )
    add_source_args(p)
    p.add_argument("--format", "-f", choices=("table", "json", "csv"), default="table", help="output format")
    p.add_argument("--range", metavar="DURATION", help="time range of the series, e.g. 15m (default: config)")
    p.add_argument("--points", type=int, default=300, help="points per series (step = range / points)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdash.config import parse_duration
    from mdash.errors import ConfigError
    from mdash.render import render

    if args.points < 2:
        raise ConfigError(f"--points: expected an integer >= 2, got {args.points}")
    range_seconds = parse_duration(args.range, "--range") if args.range else None
    with dashboard_from_args(args) as dash:
        if range_seconds:
            dash.range_seconds = range_seconds
        dash.points = args.points
        if dash.source == "direct":  # a rate needs two scrapes: take one, wait one refresh interval, then report
            dash.snapshot()
            time.sleep(min(dash.config.interval, 5.0))
        snap = dash.snapshot()
    sys.stdout.write(render(snap, args.format))
    sys.stdout.flush()
    if not snap.reachable:
        for err in snap.errors:
            print(f"mdash: no data source answered: {err}", file=sys.stderr)
        return 3
    return 0
