"""`mdash audit`: show the audit log of canary runs, rollbacks, delivery tries and alerts."""

from __future__ import annotations

import argparse
import json

_HEAD = ("at", "ts", "kind", "actor")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "audit", help="show the audit log (rollbacks, delivery tries, canary runs, alerts)"
    )
    p.add_argument("--tail", type=int, metavar="N", help="only the last N records")
    p.add_argument("--json", action="store_true", help="one JSON object per line, as stored")
    p.add_argument(
        "--audit-log", metavar="PATH", help="audit log (default $XDG_STATE_HOME/mdash/audit.jsonl)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdash.actions.audit import AuditLog
    from mdash.errors import ConfigError

    if args.tail is not None and args.tail < 1:
        raise ConfigError(f"--tail: expected a positive number of records, got {args.tail}")
    log = AuditLog(args.audit_log)
    records = log.read(args.tail)
    if not records:
        print(f"no audit records in {log.path}")
        return 0
    for rec in records:
        if args.json:
            print(json.dumps(rec, separators=(",", ":")))
            continue
        rest = " ".join(f"{k}={_short(v)}" for k, v in rec.items() if k not in _HEAD and v not in (None, ""))
        print(f"{rec.get('at', '?')}  {rec.get('kind', '?'):<16} {rec.get('actor', '?')}  {rest}")
    return 0


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    text = text if len(text) <= 80 else text[:79] + "…"
    return json.dumps(text) if " " in text else text
