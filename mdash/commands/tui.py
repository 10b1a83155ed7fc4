"""``mdash tui``: the live terminal dashboard (with nothing configured, over the embedded demo)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time

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
    from mdash.errors import ConfigError

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ConfigError("mdash tui needs a terminal; for pipes and scripts use `mdash snapshot` or `mdash check`")
    from mdash.tui.app import MdashApp

    exits = contextlib.ExitStack()
    connected = threading.Event()

    def connect():
        """Config, demo start-up (when nothing is configured) and the Dashboard, while the app already shows."""
        try:
            from mdash.config import parse_duration

            interval = parse_duration(args.interval, "--interval") if args.interval else None
            if interval is not None and interval < 0.2:
                raise ConfigError(f"--interval: expected at least 200ms, got {args.interval!r}")
            range_seconds = parse_duration(args.range, "--range") if args.range else None
            dash = exits.enter_context(dashboard_from_args(args, demo_wait=0))
            if interval:
                dash.config.interval = interval
            if range_seconds:
                dash.range_seconds = range_seconds
            return dash
        finally:
            connected.set()

    app = MdashApp(connect=connect, readonly=args.readonly, export_dir=args.export_dir, audit_log=args.audit_log)

    closing = threading.Lock()

    def close() -> None:
        with closing:
            exits.close()

    def hang_up(signum: int, _frame: object) -> None:
        """Terminal closed or process told to stop: quit through the normal path so the demo is stopped; if
        Textual cannot finish (its terminal is gone), stop the demo anyway and leave after 3 s."""

        def last_resort() -> None:
            time.sleep(3)
            close()
            os._exit(128 + signum)

        threading.Thread(target=last_resort, daemon=True).start()
        if app.is_running:
            app.exit(return_code=128 + signum)
        else:
            raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, hang_up) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        app.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        connected.wait(60)  # quit while connecting: let the demo finish starting, then stop it
        close()
    if app.connect_error is not None:
        raise app.connect_error
    return app.return_code or 0
