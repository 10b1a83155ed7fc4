"""`mdash rollback`: send a signed, retried, audited rollback webhook, after confirmation."""

from __future__ import annotations

import argparse
import dataclasses
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "rollback",
        help="send a rollback webhook for a model (confirmed, signed, retried, audited)",
        description="Send a signed rollback event to the configured webhook. Exit codes: 0 delivered, "
        "1 refused by the receiver or deadline passed, 2 bad input, 4 refused by mdash "
        "(readonly, cooldown, not confirmed).",
    )
    p.add_argument("--model", required=True, metavar="NAME", help="the model to roll back")
    p.add_argument(
        "--reason", required=True, metavar="TEXT", help="why (sent to the receiver, kept in the audit)"
    )
    p.add_argument("--to", dest="to_version", metavar="VERSION", help="the version to roll back to")
    p.add_argument("--webhook", metavar="URL", help="receiver URL (overrides [rollback] url)")
    p.add_argument("--secret-env", metavar="VAR", help="env var holding the HMAC signing secret")
    p.add_argument("--template", metavar="NAME", help="generic, slack, github, argo-events or jenkins")
    p.add_argument("--deadline", metavar="DURATION", help="total time for all tries (default 30s)")
    p.add_argument(
        "--dry-run", action="store_true", help="print the exact request and a curl line; send nothing"
    )
    p.add_argument("--yes", "-y", action="store_true", help="confirm without the interactive prompt")
    p.add_argument("--force", action="store_true", help="ignore the per-model cooldown")
    p.add_argument("--readonly", action="store_true", help="refuse every action (for shared terminals)")
    p.add_argument(
        "--audit-log", metavar="PATH", help="audit log (default $XDG_STATE_HOME/mdash/audit.jsonl)"
    )
    p.add_argument("--config", "-c", metavar="FILE", help="mdash.toml with a [rollback] table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdash.actions import RollbackSettings, parse_rollback, rollback
    from mdash.config import load

    config = load(args.config)
    settings = (config.rollback or RollbackSettings()).for_model(args.model)
    flags = {
        "url": args.webhook,
        "secret_env": args.secret_env,
        "template": args.template,
        "deadline": args.deadline,
    }
    flags = {k: v for k, v in flags.items() if v is not None}
    if flags:
        override = parse_rollback(flags, "command line")
        settings = dataclasses.replace(settings, **{k: getattr(override, k) for k in flags})
        if args.webhook:
            settings = dataclasses.replace(settings, url_env=None)
    from_version = getattr(config.model(args.model), "version", None)
    confirmed = args.yes or args.dry_run or _ask(args.model)
    outcome = rollback(
        args.model,
        args.reason,
        to_version=args.to_version,
        from_version=from_version,
        settings=settings,
        confirmed=confirmed,
        dry_run=args.dry_run,
        force=args.force,
        readonly=args.readonly or config.readonly,
        audit_log=args.audit_log,
    )
    if outcome.plan is not None:
        print(outcome.plan)
        print("mdash: dry run: nothing was sent", file=sys.stderr)
        return 0
    tries = f"{outcome.attempts} tr{'y' if outcome.attempts == 1 else 'ies'}"
    if outcome.delivered:
        print(f"rollback of {args.model} {outcome.message}; event {outcome.event_id}, {tries}")
        return 0
    print(
        f"mdash: rollback of {args.model} NOT delivered: {outcome.message} (event {outcome.event_id})",
        file=sys.stderr,
    )
    return 1


def _ask(model: str) -> bool:
    """Interactive confirmation: the user must type the model name; no terminal means no confirmation."""
    if not sys.stdin.isatty():
        return False
    try:
        answer = input(f"Roll back {model}? Type the model name to confirm: ")
    except EOFError:
        return False
    return answer.strip() == model
