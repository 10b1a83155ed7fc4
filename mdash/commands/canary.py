"""`mdash canary`: judged canary-vs-baseline traffic, and `mdash canary replay report.json`.

Exit codes: 0 pass, 1 fail, 2 inconclusive, 3 could not run (bad URL, endpoint down, bad dataset line).
"""

from __future__ import annotations

import argparse
import sys

from mdash.errors import DatasetError, MdashError, SourceError


def register(subparsers) -> None:
    """Add `mdash canary` and its flags."""
    p = subparsers.add_parser(
        "canary",
        help="send paired canary/baseline traffic and judge it (pass/fail/inconclusive)",
        description="Send the same seeded payloads to a canary and (optionally) a baseline endpoint, measure "
        "latency, errors and answers, and judge them with real statistics. `mdash canary replay REPORT` "
        "recomputes a saved report. Exit codes: 0 pass, 1 fail, 2 inconclusive, 3 could not run.",
    )
    p.add_argument("replay", nargs="*", metavar="replay REPORT", help="recompute the verdict of a saved --report")
    p.add_argument("--endpoint", metavar="URL", help="the canary endpoint (base URL, or a full inference URL)")
    p.add_argument("--baseline", metavar="URL", help="the baseline endpoint (without it: absolute limits only)")
    p.add_argument("--model", metavar="NAME", help="model name at the endpoints")
    p.add_argument("--protocol", default="v2", choices=("v2", "v1", "torchserve", "openai", "json"))
    size = p.add_mutually_exclusive_group()
    size.add_argument("--requests", type=int, metavar="N", help="requests per arm (default 300)")
    size.add_argument("--duration", type=float, metavar="S", help="seconds of traffic")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--concurrency", type=int, default=8, metavar="C", help="closed loop: in flight per arm")
    load.add_argument("--rate", type=float, metavar="R", help="open loop: requests/s per arm")
    p.add_argument("--dataset", metavar="FILE", help='JSONL: a body a line, or {"request": ..., "expected": ...}')
    p.add_argument("--seed", type=int, default=0, help="fixes payload order and resampling (default 0)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="per request (default 5)")
    p.add_argument("--warmup", type=int, default=10, metavar="N", help="unmeasured requests per arm (default 10)")
    p.add_argument("--max-p99-ms", type=float, metavar="MS", help="absolute limit on the canary's p99")
    p.add_argument("--max-error-ratio", type=float, default=0.01, metavar="F", help="absolute limit (default 0.01)")
    p.add_argument("--min-accuracy", type=float, metavar="F", help="absolute minimum accuracy (labelled dataset)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (schema mdash.canary/1)")
    p.add_argument("--report", metavar="FILE", help="write the full report with samples (replayable)")
    p.add_argument("--rollback-on-fail", action="store_true", help="send the rollback webhook when the verdict is fail")
    p.add_argument("--config", "-c", metavar="FILE", help="mdash.toml with the [rollback] webhook")
    p.add_argument("--audit-log", metavar="PATH", help="audit log (default $XDG_STATE_HOME/mdash/audit.jsonl)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run (or replay) a canary, print the table or JSON, return the verdict's exit code."""
    from mdash.canary import CanarySettings, Report, canary

    try:
        if args.replay:
            if len(args.replay) != 2 or args.replay[0] != "replay":
                raise SourceError("usage: mdash canary replay REPORT.json (unexpected arguments: "
                                  f"{' '.join(args.replay)})")
            report = Report.replay(args.replay[1])
        else:
            served = args.model
            if not args.endpoint and args.config and args.model:
                m = _from_config(args.config, args.model)
                args.endpoint, args.baseline, served = m.endpoint, args.baseline or m.baseline, m.server_name
            if not args.endpoint:
                raise SourceError("--endpoint URL is required: the canary to test (or --config FILE --model NAME "
                                  "with that model's endpoint and baseline, or `mdash canary replay FILE`)")
            settings = CanarySettings(
                endpoint=args.endpoint, baseline=args.baseline, model=served, protocol=args.protocol,
                requests=args.requests, duration=args.duration, concurrency=args.concurrency, rate=args.rate,
                dataset=args.dataset, seed=args.seed, timeout=args.timeout, warmup=args.warmup,
                max_p99_ms=args.max_p99_ms, max_error_ratio=args.max_error_ratio, min_accuracy=args.min_accuracy,
                audit_log=args.audit_log,
            )
            if sys.stderr.isatty() and not args.json:
                with LiveProgress() as live:
                    report = canary(settings, progress=live)
            else:
                report = canary(settings)
    except MdashError as err:
        err.exit_code = 3  # every failure before a verdict means "could not run"
        raise
    if args.report:
        try:
            with open(args.report, "w", encoding="utf-8") as fh:
                fh.write(report.to_json())
        except OSError as err:
            raise DatasetError(f"cannot write the report to {args.report} ({err.strerror}): "
                               "give a writable path to --report") from None
    print(report.to_json(indent=2, samples=False) if args.json else report.summary())
    if args.rollback_on_fail and report.verdict == "fail" and not args.replay:
        roll_back(args, report)
    return report.exit_code


class LiveProgress:
    """A rich progress bar per arm on stderr, with the running numbers (rps, p50, p99, errors)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"), console=Console(stderr=True),
        )
        self.tasks: dict[str, int] = {}

    def __call__(self, p) -> None:
        p50 = "-" if p.p50_ms is None else f"{p.p50_ms:.2f}"
        p99 = "-" if p.p99_ms is None else f"{p.p99_ms:.2f}"
        stats = f"{p.rps:6.0f} req/s  p50 {p50} ms  p99 {p99} ms  errors {p.errors}"
        if p.arm not in self.tasks:
            self.tasks[p.arm] = self.progress.add_task(p.arm, total=p.total, stats=stats)
        self.progress.update(self.tasks[p.arm], completed=p.done, total=p.total, stats=stats)

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _from_config(path: str, model: str):
    """The [[models]] entry ``model`` of the config: its endpoint, baseline and served name feed the canary."""
    from mdash.config import load
    from mdash.errors import ConfigError

    config = load(path)
    found = config.model(model)
    if found is not None:
        return found
    names = ", ".join(m.name for m in config.models) or "none"
    raise ConfigError(f"{path}: no [[models]] entry named {model!r} (models: {names})")


def roll_back(args: argparse.Namespace, report) -> None:
    """Call the rollback action with the report summary attached (the flag is the confirmation)."""
    from mdash.actions import RollbackSettings, rollback
    from mdash.config import load

    config = load(args.config)
    model = args.model or "canary"
    settings = (config.rollback or RollbackSettings()).for_model(model)
    summary = {"verdict": report.verdict, "reason": report.reason, "seed": report.seed,
               "failed": [m.to_dict() for m in report.metrics if m.verdict in ("high", "low")],
               "arms": {k: {"requests": a["requests"], "errors": a["errors"], "latency_ms": a["latency_ms"]}
                        for k, a in report.arms.items()}}
    try:
        outcome = rollback(model, f"canary failed: {report.reason}", settings=settings,
                           confirmed=True, readonly=config.readonly, audit_log=args.audit_log, summary=summary)
    except MdashError as err:
        print(f"mdash: rollback not sent: {err}", file=sys.stderr)
        return
    state = "delivered" if outcome.delivered else "NOT delivered"
    print(f"rollback of {model} {state}: {outcome.message} (event {outcome.event_id})", file=sys.stderr)
