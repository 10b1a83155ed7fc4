"""Alert notifications from `[[notify]]` rules, sent through the same signed, retried, audited delivery.

A `Notifier` watches one Snapshot per refresh: a rule fires once when its condition has held for N refreshes,
stays quiet while it keeps holding, and sends one `alert_resolved` when it clears. Panels in error, stale or
without data neither fire nor resolve (the condition is unknown, not cleared). Sends run on one background
thread so a slow receiver never holds up the refresh.
"""

from __future__ import annotations

import fnmatch
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from mdash.actions.audit import AuditLog
from mdash.actions.settings import NotifyRule, Target
from mdash.actions.webhook import Outcome, deliver, make_event
from mdash.errors import ConfigError, MdashError

if TYPE_CHECKING:
    from mdash.panels import PanelResult, Snapshot

_UNKNOWN = ("error", "stale", "nodata")


class Notifier:
    """Turns snapshots and canary verdicts into deduplicated alert / alert_resolved webhook events."""

    def __init__(
        self,
        rules: list[NotifyRule],
        *,
        default_target: Target | None = None,
        audit_log: str | os.PathLike[str] | None = None,
        **deliver_kw: Any,
    ):
        for rule in rules:
            target = rule.target or default_target
            if target is None or not (target.url or target.url_env):
                raise ConfigError(
                    f"notify rule {rule.name} has no url and no [rollback] url is configured: give it a url"
                )
        self.rules = rules
        self.default_target = default_target
        self.audit = AuditLog(audit_log)
        self._deliver_kw = deliver_kw  # clock / sleep / rng for tests
        self._streak: dict[tuple[int, str], int] = {}
        self._active: dict[tuple[int, str], str] = {}  # (rule, key) → event_id of the firing alert
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mdash-notify")
        self._pending: list[Future[Outcome]] = []

    def observe(self, snapshot: Snapshot) -> list[dict[str, Any]]:
        """Update every panel rule with this refresh; return the events queued for sending."""
        events = []
        for i, rule in enumerate(self.rules):
            if rule.when == "canary_fail":
                continue
            for panel in snapshot.panels:
                if not _matches(rule, panel.spec.model, panel.spec.title) or panel.state in _UNKNOWN:
                    continue
                holds = panel.state == "crit" if rule.when == "crit" else panel.anomaly
                event = self._step(
                    i, rule, panel.spec.key, holds, panel.spec.model, _panel_fields(rule, panel)
                )
                if event:
                    events.append(event)
        return events

    def canary(self, model: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
        """Feed one canary report (its `to_dict()`): a fail fires, a later pass resolves, inconclusive waits."""
        verdict = summary.get("verdict")
        if verdict not in ("pass", "fail"):
            return []
        events = []
        for i, rule in enumerate(self.rules):
            if rule.when == "canary_fail" and _matches(rule, model):
                fields = {"verdict": verdict, "summary": summary, "rule": rule.name}
                event = self._step(
                    i, rule, f"{model}/canary", verdict == "fail", model, fields, "canary_verdict"
                )
                if event:
                    events.append(event)
        return events

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Block until every queued send has finished; their outcomes, oldest first."""
        done = [f.result(timeout) for f in self._pending]
        self._pending = [f for f in self._pending if not f.done()]
        return done

    def close(self) -> None:
        """Finish queued sends and stop the sending thread."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _step(
        self,
        i: int,
        rule: NotifyRule,
        key: str,
        holds: bool,
        model: str,
        fields: dict[str, Any],
        kind: str = "alert",
    ) -> dict[str, Any] | None:
        slot = (i, key)
        self._streak[slot] = self._streak.get(slot, 0) + 1 if holds else 0
        if holds and slot not in self._active and self._streak[slot] >= rule.refreshes:
            event = make_event(kind, model, _reason(rule, key, fields), **fields)
            self._active[slot] = event["event_id"]
        elif not holds and slot in self._active:
            fields = {**fields, "resolves": self._active.pop(slot)}
            event = make_event("alert_resolved", model, f"{key}: {rule.when} condition cleared", **fields)
        else:
            return None
        self._send(rule.target or self.default_target, event)
        return event

    def _send(self, target: Target | None, event: dict[str, Any]) -> None:
        assert target is not None  # checked in __init__
        self.audit.record(
            "alert",
            event_id=event["event_id"],
            type=event["type"],
            model=event["model"],
            reason=event["reason"],
        )

        def send() -> Outcome:
            try:
                result = deliver(target, event, audit=self.audit, **self._deliver_kw)
            except MdashError as err:  # e.g. a secret env var missing: audited, never raised into the refresh
                result = Outcome(False, None, 0, event["event_id"], str(err))
            self.audit.record(
                "alert_result",
                event_id=event["event_id"],
                model=event["model"],
                delivered=result.delivered,
                status=result.status,
                attempts=result.attempts,
                message=result.message,
            )
            return result

        self._pending = [f for f in self._pending if not f.done()]  # a long-running refresh loop stays bounded
        self._pending.append(self._pool.submit(send))


def _matches(rule: NotifyRule, model: str, title: str | None = None) -> bool:
    """Model glob (case-sensitive) and, for panel rules, title glob (case-insensitive)."""
    if not fnmatch.fnmatchcase(model, rule.model):
        return False
    return title is None or fnmatch.fnmatchcase(title.lower(), rule.panel.lower())


def _panel_fields(rule: NotifyRule, panel: PanelResult) -> dict[str, Any]:
    spec = panel.spec
    return {
        "panel": spec.title,
        "state": panel.state,
        "value": panel.value,
        "unit": spec.unit,
        "rule": rule.name,
    }


def _reason(rule: NotifyRule, key: str, fields: dict[str, Any]) -> str:
    if rule.when == "canary_fail":
        return f"canary verdict fail for {key.removesuffix('/canary')}"
    what = "in crit" if rule.when == "crit" else "anomalous"
    value = (
        f" (value {fields['value']:.4g} {fields['unit']})".replace(" )", ")")
        if fields["value"] is not None
        else ""
    )
    return f"{key} {what} for {rule.refreshes} refresh{'es' if rule.refreshes != 1 else ''}{value}"
