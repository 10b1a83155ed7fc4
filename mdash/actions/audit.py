"""The append-only JSONL audit log: every canary run, rollback attempt, delivery try and alert, with no secret.

Each record is one complete line written with a single ``os.write`` on an ``O_APPEND`` descriptor and fsynced
before the call returns, so a process killed at any moment leaves whole lines only, and a record written
before a send is on disk even if the send never comes back.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from mdash.actions.settings import redact
from mdash.errors import ConfigError

_SECRET_KEYS = {"authorization", "secret", "token", "password"}


def default_path() -> Path:
    """`$XDG_STATE_HOME/mdash/audit.jsonl`, falling back to ~/.local/state/mdash/audit.jsonl."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "mdash" / "audit.jsonl"


def rfc3339(ts: float) -> str:
    """A unix time as RFC 3339 UTC with milliseconds, e.g. 2026-11-25T11:48:42.123Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def actor() -> str:
    """The OS user performing the action."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid:{os.getuid()}"


class AuditLog:
    """One audit log file; `record` appends a redacted, fsynced line."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, clock: Callable[[], float] = time.time):
        self.path = Path(path) if path else default_path()
        self.clock = clock

    def record(self, kind: str, /, **fields: Any) -> dict[str, Any]:
        """Append `{"at", "ts", "kind", "actor", **fields}` (secrets scrubbed) and return what was written."""
        ts = self.clock()
        rec = _scrub({"at": rfc3339(ts), "ts": round(ts, 3), "kind": kind, "actor": actor(), **fields})
        line = (json.dumps(rec, separators=(",", ":"), default=str) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as err:
            raise ConfigError(
                f"audit log {self.path} cannot be opened ({err.strerror}): pass --audit-log PATH to a writable file"
            ) from None
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return rec

    def read(self, tail: int | None = None) -> list[dict[str, Any]]:
        """The records, oldest first (the last `tail` only, when given); unparseable lines are skipped."""
        if tail:
            return list(reversed(list(islice(self.newest(), tail))))
        if not self.path.exists():
            return []
        with open(self.path, "rb") as fh:
            return [rec for rec in map(_parse, fh) if rec is not None]

    def newest(self, block: int = 1 << 16) -> Iterator[dict[str, Any]]:
        """The records newest first, reading the file backwards, so recent history costs the same at any size."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            rest = b""
            while end > 0:
                start = max(0, end - block)
                fh.seek(start)
                lines = (fh.read(end - start) + rest).split(b"\n")
                rest = lines.pop(0) if start > 0 else b""  # may be the tail of a line that began earlier
                end = start
                yield from (rec for rec in map(_parse, reversed(lines)) if rec is not None)

    def last_delivered_rollback(self, model: str, since: float) -> float | None:
        """Unix time of the newest rollback of `model` the receiver accepted after `since`, for the cooldown."""
        for rec in self.newest():
            if not isinstance(rec.get("ts"), int | float) or rec["ts"] < since:
                return None
            if rec.get("kind") == "rollback_result" and rec.get("model") == model and rec.get("delivered"):
                return rec["ts"]
        return None


def record(kind: str, /, *, audit_log: str | os.PathLike[str] | None = None, **fields: Any) -> dict[str, Any]:
    """Append one record to the audit log (default path unless `audit_log`); for canary runs and other actions."""
    return AuditLog(audit_log).record(kind, **fields)


def read_audit(path: str | os.PathLike[str] | None = None, tail: int | None = None) -> list[dict[str, Any]]:
    """The audit records, oldest first; the last `tail` when given."""
    return AuditLog(path).read(tail)


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # a blank or torn line (not written by this module)
    return rec if isinstance(rec, dict) else None


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if str(k).lower() in _SECRET_KEYS and v else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value
