"""Typed `[rollback]` and `[[notify]]` config: where a webhook goes, how it is signed, and when alerts fire.

Secrets are never config text: only the *names* of env vars (or a file path) live here, and are read at send time.
Every bad value raises one ConfigError naming the file, the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any

from mdash.config import parse_duration, toml_key
from mdash.errors import ConfigError

TEMPLATES = ("generic", "slack", "github", "argo-events", "jenkins")
CONDITIONS = ("crit", "anomaly", "canary_fail")

_SECRETS: set[str] = set()  # every secret value read in this process, scrubbed from any text mdash writes


@dataclass(frozen=True)
class Target:
    """Where and how one webhook is delivered: URL, payload template, signing secret, auth, TLS and time bounds."""

    url: str = ""
    url_env: str | None = None  # for URLs that are themselves secret (Slack, Jenkins tokens)
    template: str = "generic"
    secret_env: str | None = None
    secret_file: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    bearer_token_env: str | None = None
    basic_user: str | None = None
    basic_password_env: str | None = None
    ca_file: str | None = None
    deadline: float = 30.0  # total seconds for all tries and waits
    timeout: float = 10.0  # seconds for one try (capped by what is left of the deadline)
    event_type: str = ""  # GitHub repository_dispatch event_type (default: mdash-<event type>)

    def resolved_url(self) -> str:
        """The URL, read from `url_env` when the URL itself is a secret."""
        return _read_env(self.url_env, "url_env") if self.url_env else self.url

    def secret(self) -> str | None:
        """The HMAC signing secret from the env var or file, or None when none is configured."""
        if self.secret_env:
            return _read_env(self.secret_env, "secret_env")
        if self.secret_file:
            try:
                with open(self.secret_file, encoding="utf-8") as fh:
                    value = fh.read().strip()
            except OSError as err:
                raise ConfigError(
                    f"rollback secret_file {self.secret_file!r} cannot be read ({err.strerror}): "
                    "check the path and its permissions"
                ) from None
            return _remember(value)
        return None

    def auth_header(self) -> str | None:
        """The Authorization header value from bearer_token_env or basic_user/basic_password_env."""
        if self.bearer_token_env:
            return f"Bearer {_read_env(self.bearer_token_env, 'bearer_token_env')}"
        if self.basic_user:
            import base64

            password = (
                _read_env(self.basic_password_env, "basic_password_env") if self.basic_password_env else ""
            )
            token = base64.b64encode(f"{self.basic_user}:{password}".encode()).decode()
            return f"Basic {_remember(token)}"
        return None


@dataclass(frozen=True)
class RollbackSettings(Target):
    """The `[rollback]` table: a Target plus the cooldown and per-model overrides."""

    cooldown: float = 300.0
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # model name → Target fields to override

    def for_model(self, model: str) -> RollbackSettings:
        """These settings with `[rollback.models.<model>]` applied."""
        return dataclasses.replace(self, **self.models.get(model, {}), models={})


@dataclass(frozen=True)
class NotifyRule:
    """One `[[notify]]` rule: which condition fires an alert, for which panels, and where it is sent."""

    when: str  # "crit" | "anomaly" | "canary_fail"
    model: str = "*"  # glob on the model name
    panel: str = "*"  # glob on the panel title
    refreshes: int = 1  # consecutive refreshes the condition must hold before the alert fires
    target: Target | None = None  # None: send to the [rollback] webhook

    @property
    def name(self) -> str:
        return f"{self.when}:{self.model}/{self.panel}"


_TARGET_KEYS = {f.name for f in dataclasses.fields(Target)}


def parse_rollback(table: dict[str, Any], where: str) -> RollbackSettings:
    """The `[rollback]` table → RollbackSettings; `where` names the file (and table) in error messages."""
    table = dict(_require_table(table, where))
    models_raw = table.pop("models", {})
    fields = _parse_target_fields(table, where, extra={"cooldown"})
    models = {
        name: _parse_target_fields(_require_table(sub, f"{where}.models.{name}"), f"{where}.models.{name}")
        for name, sub in _require_table(models_raw, f"{where}.models").items()
    }
    return RollbackSettings(**fields, models=models)


def parse_notify(rules: list[Any], where: str) -> list[NotifyRule]:
    """The `[[notify]]` array of tables → NotifyRules; a rule without `url` sends to the [rollback] webhook."""
    if not isinstance(rules, list):
        raise ConfigError(f"{where}: [[notify]] must be an array of tables, got {type(rules).__name__}")
    out = []
    for i, raw in enumerate(rules):
        at = f"{where}[{i}]"
        table = dict(_require_table(raw, at))
        when = table.pop("when", None)
        if when not in CONDITIONS:
            raise ConfigError(f"{at}.when: expected one of {', '.join(CONDITIONS)}, got {when!r}")
        model = _typed(table.pop("model", "*"), str, f"{at}.model", "a glob string")
        panel = _typed(table.pop("panel", "*"), str, f"{at}.panel", "a glob string")
        refreshes = _typed(table.pop("refreshes", 1), int, f"{at}.refreshes", "an integer ≥ 1")
        if refreshes < 1:
            raise ConfigError(f"{at}.refreshes: expected an integer ≥ 1, got {refreshes}")
        target = Target(**_parse_target_fields(table, at)) if table else None
        out.append(NotifyRule(when=when, model=model, panel=panel, refreshes=refreshes, target=target))
    return out


def _parse_target_fields(table: dict[str, Any], where: str, extra: set[str] = frozenset()) -> dict[str, Any]:
    unknown = set(table) - _TARGET_KEYS - extra
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(map(toml_key, unknown)))}; expected some of "
            f"{', '.join(sorted(_TARGET_KEYS | extra))} (secrets go in env vars: secret_env, bearer_token_env)"
        )
    out: dict[str, Any] = {}
    for key, value in table.items():
        at = f"{where}.{key}"
        if key in {"deadline", "timeout", "cooldown"}:
            out[key] = (
                0.0 if key == "cooldown" and value == 0 else parse_duration(value, at)
            )  # cooldown 0: off
        elif key == "headers":
            headers = _require_table(value, at)
            for name, v in headers.items():
                _typed(v, str, f"{at}.{name}", "a string")
                if name.lower() == "authorization":
                    raise ConfigError(
                        f"{at}.{name}: put credentials in bearer_token_env or basic_password_env"
                    )
            out[key] = dict(headers)
        elif key == "template":
            if value not in TEMPLATES:
                raise ConfigError(f"{at}: expected one of {', '.join(TEMPLATES)}, got {value!r}")
            out[key] = value
        else:
            out[key] = _typed(value, str, at, "a string")
    if "url" in out:
        check_url(out["url"], f"{where}.url")
    return out


def check_url(url: str, where: str) -> None:
    """ConfigError naming `where` unless `url` is empty or an http(s) URL."""
    if url and not re.match(r"https?://[^/\s]+", url):
        raise ConfigError(f"{where}: expected an http:// or https:// URL, got {url!r}")


def _require_table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
    return value


def _typed(value: Any, kind: type, where: str, expected: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {expected}, got {value!r}")
    return value


def _read_env(name: str, key: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"rollback {key}: environment variable {name} is not set; export it before sending")
    return _remember(value)


def _remember(secret: str) -> str:
    if secret:
        _SECRETS.add(secret)
    return secret


def redact(text: str) -> str:
    """`text` with every secret value read in this process replaced by ***."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
