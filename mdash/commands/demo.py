"""``mdash demo``: run the demo model pair (and a real Prometheus when installed) until Ctrl-C, SIGTERM or --duration."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run a demo model pair (stable + faulty canary) with metrics, and Prometheus if installed",
        description="Start two versions of a real iris classifier behind Open Inference Protocol V2 on 127.0.0.1, "
        "a traffic generator, and a Prometheus scraping both when the binary is found.",
    )
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C/SIGTERM)")
    p.add_argument("--no-prometheus", action="store_true", help="do not start Prometheus (dashboards use direct mode)")
    p.add_argument("--port", type=int, metavar="BASE", help="stable on BASE, canary on BASE+1, Prometheus on BASE+2")
    p.add_argument("--canary-latency", type=float, default=0, metavar="MS", help="median latency added to the canary")
    p.add_argument("--canary-errors", type=float, default=0, metavar="RATE", help="fraction of canary requests answered 500")
    p.add_argument("--canary-timeouts", type=float, default=0, metavar="RATE", help="fraction of canary requests timing out")
    p.add_argument("--canary-noise", type=float, default=0, metavar="RATE", help="fraction of repeated inputs answered at random")
    p.add_argument("--canary-drift", type=float, default=0, metavar="SD", help="shift canary inputs by SD standard deviations")
    p.add_argument("--no-traffic", action="store_true", help="do not generate traffic")
    p.add_argument("--rps", type=float, default=20.0, help="built-in traffic per version (default 20 requests/s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the traffic and the faults")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdash.demo.stack import VERSIONS, DemoStack
    from mdash.errors import ConfigError

    if args.duration is not None and args.duration <= 0:
        raise ConfigError(f"--duration {args.duration:g}: give a positive number of seconds")
    stack = DemoStack(
        base_port=args.port, prometheus=False if args.no_prometheus else None, canary_latency_ms=args.canary_latency,
        canary_errors=args.canary_errors, canary_timeouts=args.canary_timeouts, canary_noise=args.canary_noise,
        canary_drift=args.canary_drift, traffic=not args.no_traffic, seed=args.seed, traffic_rps=args.rps,
    )
    done = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        stack.start()
        for version in VERSIONS:
            url = stack.url(version)
            print(f"{version:<7} {url}/v2/models/{stack.model_name}/infer   metrics {url}/metrics   admin {stack.admin_url(version)}")
        if stack.prometheus_url:
            print(f"prometheus {stack.prometheus_url}")
            print(f"try: mdash tui --prometheus {stack.prometheus_url}")
        else:
            print("prometheus: not started (--no-prometheus or no binary found); dashboards use direct mode:")
            print(f"try: mdash tui --endpoint {stack.canary_url}")
        print(f"faults at run time: curl -X POST {stack.admin_url('canary')} -d '{{\"latency_ms\": 100, \"errors\": 0.05}}'")
        print("press Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait(args.duration)
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
    print("demo stopped")
    return 0
