"""The exceptions mdash raises, as one short hierarchy a user can catch.

Every message says what went wrong, where, and what to do; the CLI prints ``str(err)`` and exits with
``err.exit_code`` and never shows a traceback.
"""

from __future__ import annotations


class MdashError(Exception):
    """Base of every error mdash raises on purpose."""

    exit_code = 1


class ConfigError(MdashError):
    """A config file, key, flag or value is wrong (names the file, the key and what was expected)."""

    exit_code = 2


class SourceError(MdashError):
    """A data source (Prometheus, a /metrics page, an endpoint) could not be reached or answered garbage."""

    exit_code = 3


class QueryError(SourceError):
    """A source answered, but refused or failed one query (bad PromQL, timeout, 5xx); text kept verbatim."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of the answer, when there was one


class DatasetError(MdashError):
    """A canary dataset file or line is unusable (names the file and line number)."""

    exit_code = 3


class ActionError(MdashError):
    """A canary or rollback action failed to deliver."""

    exit_code = 1


class ActionRefused(ActionError):
    """mdash itself refused an action (readonly, cooldown, not confirmed)."""

    exit_code = 4
