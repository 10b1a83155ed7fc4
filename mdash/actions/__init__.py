"""Actions that change the world, and their trail: rollback webhooks, alert notifications and the audit log.

`plan_rollback` shows what would be sent and sends nothing; `rollback` sends it signed, retried and audited
(after confirmation, outside the cooldown, unless readonly); `read_audit` returns the JSONL trail; `record`
appends to it (canary runs); `Notifier` turns snapshots into deduplicated alerts.
"""

from __future__ import annotations

from mdash.actions.audit import AuditLog, read_audit, record
from mdash.actions.notify import Notifier
from mdash.actions.rollback import plan_rollback, rollback
from mdash.actions.settings import NotifyRule, RollbackSettings, Target, parse_notify, parse_rollback
from mdash.actions.webhook import Outcome, PlannedRequest

__all__ = [
    "AuditLog",
    "Notifier",
    "NotifyRule",
    "Outcome",
    "PlannedRequest",
    "RollbackSettings",
    "Target",
    "parse_notify",
    "parse_rollback",
    "plan_rollback",
    "read_audit",
    "record",
    "rollback",
]
