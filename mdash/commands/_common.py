"""Flags shared by the commands that read a dashboard config (snapshot, check, tui)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager


def add_source_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data source (none given: the embedded demo)")
    g.add_argument("--config", "-c", metavar="FILE", help="mdash.toml to read")
    g.add_argument("--prometheus", metavar="URL", help="Prometheus-compatible HTTP API base URL")
    g.add_argument("--endpoint", metavar="URL", help="a model endpoint (inference base URL)")
    g.add_argument("--metrics", metavar="URL", help="the endpoint's /metrics URL (direct mode without --prometheus)")
    g.add_argument("--preset", metavar="NAME", help="model server preset (default: auto-detect)")
    g.add_argument("--model", metavar="NAME", help="model name at the endpoint")


def load_config_from_args(args: argparse.Namespace):
    """The Config the flags describe, merged over --config when both are given."""
    from mdash.config import load

    return load(
        getattr(args, "config", None),
        prometheus=getattr(args, "prometheus", None),
        endpoint=getattr(args, "endpoint", None),
        metrics=getattr(args, "metrics", None),
        preset=getattr(args, "preset", None),
        model=getattr(args, "model", None),
    )


@contextmanager
def dashboard_from_args(args: argparse.Namespace, *, demo_wait: float = 15.0) -> Iterator:
    """A Dashboard for the flags; with nothing configured, one over the embedded demo stack (stopped on exit)."""
    from mdash.dashboard import Dashboard

    config = load_config_from_args(args)
    stack = None
    try:
        if config.is_empty:
            from mdash.demo.stack import DemoStack

            stack = DemoStack().start()
            stack.wait_for_data(demo_wait)
            config = stack.config()
        with Dashboard(config) as dash:
            yield dash
    finally:
        if stack is not None:
            stack.stop()
