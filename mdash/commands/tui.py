"""``mdash tui``: the live terminal dashboard (with nothing configured, over the embedded demo)."""

from __future__ import annotations

import argparse
import sys

from mdash.commands._common import add_source_args, dashboard_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tui",
        help="the live terminal dashboard",
        description="Live dashboard of the configured models: Performance, Resources and Exceptions panels, an "
        "events feed, canary (c) and rollback (b) from the keyboard. Press ? inside for the keys.",
    )
    add_source_args(p)
    p.add_argument("--readonly", action="store_true", help="disable canary and rollback (also: readonly = true)")
    p.add_argument("--interval", metavar="DURATION", help="refresh interval, e.g. 1s (default: config, 2s)")
    p.add_argument("--range", metavar="DURATION", help="time range of the graphs, e.g. 15m (default: config)")
    p.add_argument("--export-dir", metavar="DIR", default=".", help="where e (export) writes its files (default: .)")
    p.add_argument("--audit-log", metavar="FILE", help="audit log to show and write (default: the actions' default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdash.config import parse_duration
    from mdash.errors import ConfigError

    interval = parse_duration(args.interval, "--interval") if args.interval else None
    if interval is not None and interval < 0.2:
        raise ConfigError(f"--interval: expected at least 200ms, got {args.interval!r}")
    range_seconds = parse_duration(args.range, "--range") if args.range else None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ConfigError("mdash tui needs a terminal; for pipes and scripts use `mdash snapshot` or `mdash check`")
    from mdash.tui.app import MdashApp

    with dashboard_from_args(args, demo_wait=0) as dash:
        if range_seconds:
            dash.range_seconds = range_seconds
        app = MdashApp(dash, readonly=args.readonly, interval=interval, export_dir=args.export_dir,
                       audit_log=args.audit_log)
        app.run()
    return app.return_code or 0
