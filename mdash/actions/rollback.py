"""The rollback action behind every surface: refuse unless allowed, audit, deliver, audit the answer.

mdash refuses by itself (ActionRefused, exit 4) when actions are readonly, the rollback is not confirmed, or
the same model was rolled back within the cooldown; the cooldown is read back from the audit log, so it holds
across restarts and across surfaces.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from mdash.actions.audit import AuditLog
from mdash.actions.settings import RollbackSettings
from mdash.actions.webhook import Outcome, PlannedRequest, deliver, make_event, plan
from mdash.errors import ActionRefused, ConfigError


def resolve_settings(settings: RollbackSettings | None, model: str) -> RollbackSettings:
    """The webhook settings for `model`, with `[rollback.models.<model>]` applied; ConfigError without a URL."""
    settings = (settings or RollbackSettings()).for_model(model)
    if not (settings.url or settings.url_env):
        raise ConfigError(
            "no rollback webhook configured: set url (or url_env) in the [rollback] table of mdash.toml, "
            "or pass --webhook URL"
        )
    # read every credential now: a missing env var is a clear exit 2 before anything is sent or audited
    settings.resolved_url()
    settings.secret()
    settings.auth_header()
    return settings


def plan_rollback(
    model: str,
    reason: str,
    *,
    to_version: str | None = None,
    settings: RollbackSettings | None = None,
    from_version: str | None = None,
    summary: dict[str, Any] | None = None,
) -> PlannedRequest:
    """The exact request a rollback would send (credentials redacted, signature shown), sending nothing."""
    target = resolve_settings(settings, model)
    event = make_event(
        "rollback", model, reason, from_version=from_version, to_version=to_version, summary=summary
    )
    return plan(target, event)


def rollback(
    model: str,
    reason: str,
    *,
    to_version: str | None = None,
    settings: RollbackSettings | None = None,
    confirmed: bool = False,
    dry_run: bool = False,
    force: bool = False,
    readonly: bool = False,
    audit_log: str | None = None,
    summary: dict[str, Any] | None = None,
    from_version: str | None = None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Outcome:
    """Send a signed rollback event for `model`; raises ActionRefused when readonly, unconfirmed or cooling down."""
    if not reason.strip():
        raise ConfigError(
            "rollback needs a reason (--reason TEXT): it goes to the receiver and the audit log"
        )
    target = resolve_settings(settings, model)
    if dry_run:
        request = plan_rollback(
            model, reason, to_version=to_version, settings=target, from_version=from_version, summary=summary
        )
        return Outcome(False, None, 0, request.event_id, "dry run: nothing was sent", plan=request)
    audit = AuditLog(audit_log, clock=clock)

    def refuse(why: str) -> ActionRefused:
        audit.record("rollback_refused", model=model, reason=reason, why=why)
        return ActionRefused(f"rollback of {model} refused: {why}")

    if readonly:
        raise refuse("actions are readonly (--readonly or readonly = true in the config)")
    if not confirmed:
        raise refuse("not confirmed; pass --yes, or run in a terminal and type the model name")
    last = None if force else audit.last_delivered_rollback(model, since=clock() - target.cooldown)
    if last is not None:
        wait = target.cooldown - (clock() - last)
        raise refuse(
            f"{model} was rolled back {clock() - last:.0f} s ago and the cooldown is {target.cooldown:.0f} s; "
            f"wait {wait:.0f} s or pass --force"
        )
    event = make_event(
        "rollback",
        model,
        reason,
        from_version=from_version,
        to_version=to_version,
        summary=summary,
        clock=clock,
    )
    audit.record(
        "rollback",
        event_id=event["event_id"],
        model=model,
        from_version=from_version,
        to_version=to_version,
        reason=reason,
        verdict=event.get("verdict"),
        forced=force,
        template=target.template,
    )
    result = deliver(target, event, audit=audit, clock=monotonic, sleep=sleep, rng=rng, wall=clock)
    audit.record(
        "rollback_result",
        event_id=event["event_id"],
        model=model,
        delivered=result.delivered,
        status=result.status,
        attempts=result.attempts,
        message=result.message,
    )
    return result
