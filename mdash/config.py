"""``mdash.toml`` (and/or command-line flags) → a typed Config; every error names the file, the key and what was expected.

Secrets never live in the config text: it names the environment variables that hold them, and they are read only
when a request is about to be sent.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from mdash.errors import ConfigError
from mdash.panels import GROUPS, PanelSpec, Query

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@dataclass
class PrometheusConfig:
    """Where the Prometheus-compatible HTTP API lives and how to authenticate to it."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    bearer_token_env: str | None = None
    basic_user: str | None = None
    basic_password_env: str | None = None
    ca_file: str | None = None
    verify: bool = True
    timeout: float = 5.0

    def auth_headers(self) -> dict[str, str]:
        """The configured headers plus the bearer token read from its env var now (never stored in the config)."""
        headers = dict(self.headers)
        if self.bearer_token_env:
            headers["Authorization"] = f"Bearer {_secret(self.bearer_token_env, 'bearer_token_env')}"
        return headers

    def basic_auth(self) -> tuple[str, str] | None:
        """(user, password) with the password read from its env var now, or None without basic auth."""
        if not self.basic_user:
            return None
        return self.basic_user, _secret(self.basic_password_env, "basic_password_env") if self.basic_password_env else ""


def _secret(env: str, key: str) -> str:
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"[prometheus] {key}: environment variable {env} is not set; export it before running mdash")
    return value


@dataclass
class ModelConfig:
    """One deployed model: its inference endpoint, its /metrics page, its server preset and its PromQL selector."""

    name: str
    endpoint: str | None = None
    metrics: str | None = None
    preset: str = "auto"
    selector: str = ""
    baseline: str | None = None
    version: str | None = None
    served_name: str | None = None  # the name the server knows the model by (V2 /v2/models/{name}); default: name

    @property
    def server_name(self) -> str:
        return self.served_name or self.name


@dataclass
class Config:
    """Everything a dashboard needs; ``is_empty`` means nothing was configured, so commands start the demo."""

    prometheus: PrometheusConfig | None = None
    interval: float = 2.0
    range_seconds: float = 900.0
    models: list[ModelConfig] = field(default_factory=list)
    panels: list[PanelSpec] = field(default_factory=list)
    rollback: Any = None
    notify: list = field(default_factory=list)
    readonly: bool = False
    path: str | None = None
    demo: bool = False

    def model(self, name: str | None) -> ModelConfig | None:
        """The [[models]] entry named ``name``, or None."""
        return next((m for m in self.models if m.name == name), None)

    @property
    def is_empty(self) -> bool:
        return self.prometheus is None and not self.models and not self.panels


def parse_duration(text: str | float | int, where: str) -> float:
    """Seconds in a Prometheus-style duration ("15m", "1h30m", "500ms") or a plain number of seconds."""
    if isinstance(text, bool):
        raise ConfigError(f"{where}: expected a duration like \"15m\" or a number of seconds, got {text!r}")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        s = str(text).strip()
        parts = _DURATION.findall(s)
        if not s or "".join(n + u for n, u in parts) != s:
            raise ConfigError(f"{where}: expected a duration like \"15m\", \"1h30m\" or \"90s\", got {text!r}")
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{where}: expected a positive duration, got {text!r}")
    return seconds


def toml_key(name: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted (so a key holding a newline stays on one line)."""
    if re.fullmatch(r"[A-Za-z0-9_-]+", name):
        return name
    return json.dumps(name, ensure_ascii=False).replace("\x7f", "\\u007f")  # TOML escapes DEL too


class _Table:
    """One TOML table being read: typed getters that name the file and key, and a check for unknown keys."""

    def __init__(self, data: Any, where: str, label: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: {label}: expected a table, got {type(data).__name__}")
        self.data, self.where, self.label = data, where, label

    def key(self, name: str) -> str:
        return f"{self.where}: {self.label}.{toml_key(name)}" if self.label else f"{self.where}: {toml_key(name)}"

    def check_keys(self, allowed: tuple[str, ...]) -> None:
        for k in self.data:
            if k not in allowed:
                raise ConfigError(f"{self.key(k)}: unknown key (expected one of: {', '.join(allowed)})")

    def get(self, name: str, types: type | tuple[type, ...], expected: str, default: Any = None) -> Any:
        if name not in self.data:
            return default
        value = self.data[name]
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            value = None  # TOML booleans are ints to Python; never accept them as numbers
        if value is None or not isinstance(value, types):
            raise ConfigError(f"{self.key(name)}: expected {expected}, got {value_repr(self.data[name])}")
        return value

    def text(self, name: str, default: str | None = None, required: bool = False) -> str | None:
        value = self.get(name, str, "a string", default)
        if required and not value:
            raise ConfigError(f"{self.key(name)}: missing; expected a non-empty string")
        return value

    def number(self, name: str, default: float | None = None) -> float | None:
        value = self.get(name, (int, float), "a number", default)
        return None if value is None else float(value)


def value_repr(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _url(value: str | None, where: str) -> str | None:
    if value is None:
        return None
    if not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"{where}: expected an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def _prometheus(data: Any, where: str) -> PrometheusConfig:
    t = _Table(data, where, "prometheus")
    t.check_keys(("url", "headers", "bearer_token_env", "basic_user", "basic_password_env", "ca_file", "verify", "timeout"))
    url = _url(t.text("url", required=True), t.key("url"))
    headers = t.get("headers", dict, "a table of header names to strings", {})
    for k, v in headers.items():
        if not isinstance(v, str):
            raise ConfigError(f"{t.key('headers')}.{k}: expected a string, got {value_repr(v)}")
    if any(k.lower() == "authorization" for k in headers):
        raise ConfigError(f"{t.key('headers')}: no secrets in the config; use bearer_token_env or basic_password_env")
    ca_file = t.text("ca_file")
    if ca_file and not os.path.isfile(ca_file):
        raise ConfigError(f"{t.key('ca_file')}: no such file {ca_file!r}; give the PEM bundle that signed the server")
    timeout = t.number("timeout", 5.0)
    if timeout <= 0:
        raise ConfigError(f"{t.key('timeout')}: expected a positive number of seconds, got {timeout!r}")
    return PrometheusConfig(
        url=url,
        headers=dict(headers),
        bearer_token_env=t.text("bearer_token_env"),
        basic_user=t.text("basic_user"),
        basic_password_env=t.text("basic_password_env"),
        ca_file=ca_file,
        verify=t.get("verify", bool, "true or false", True),
        timeout=timeout,
    )


def _model(data: Any, where: str, label: str) -> ModelConfig:
    t = _Table(data, where, label)
    t.check_keys(("name", "endpoint", "metrics", "preset", "selector", "baseline", "version", "served_name"))
    endpoint = _url(t.text("endpoint"), t.key("endpoint"))
    metrics = _url(t.text("metrics"), t.key("metrics"))
    return ModelConfig(
        name=t.text("name", required=True),
        endpoint=endpoint,
        metrics=metrics or (f"{endpoint}/metrics" if endpoint else None),
        preset=t.text("preset", "auto") or "auto",
        selector=t.text("selector", "") or "",
        baseline=_url(t.text("baseline"), t.key("baseline")),
        version=t.text("version"),
        served_name=t.text("served_name"),
    )


def _panel(data: Any, where: str, label: str) -> PanelSpec:
    t = _Table(data, where, label)
    t.check_keys(("title", "group", "query", "queries", "legend", "unit", "warn", "crit", "better", "kind", "model", "note"))
    group = t.text("group", "performance")
    if group not in GROUPS:
        raise ConfigError(f"{t.key('group')}: expected one of {', '.join(GROUPS)}, got {group!r}")
    if ("query" in t.data) == ("queries" in t.data):
        raise ConfigError(f"{t.key('query')}: give exactly one of query = \"PromQL\" or queries = [{{query, legend}}]")
    if "query" in t.data:
        queries = [Query(t.text("query", required=True), t.text("legend", "") or "")]
    else:
        items = t.get("queries", list, "an array of tables {query = \"...\", legend = \"...\"}")
        queries = []
        for i, item in enumerate(items):
            q = _Table(item, where, f"{label}.queries[{i}]")
            q.check_keys(("query", "legend"))
            queries.append(Query(q.text("query", required=True), q.text("legend", "") or ""))
        if not queries:
            raise ConfigError(f"{t.key('queries')}: expected at least one query")
    better = t.text("better")
    if better not in (None, "lower", "higher"):
        raise ConfigError(f"{t.key('better')}: expected \"lower\" or \"higher\", got {better!r}")
    warn, crit = t.number("warn"), t.number("crit")
    if better is None:  # inferred: when crit is below warn, lower values are worse
        better = "higher" if warn is not None and crit is not None and crit < warn else "lower"
    kind = t.text("kind", "timeseries")
    if kind not in ("timeseries", "stat"):
        raise ConfigError(f"{t.key('kind')}: expected \"timeseries\" or \"stat\", got {kind!r}")
    return PanelSpec(
        title=t.text("title", required=True),
        group=group,
        queries=tuple(queries),
        unit=t.text("unit", "") or "",
        warn=warn,
        crit=crit,
        better=better,
        kind=kind,
        model=t.text("model", "") or "",
        note=t.text("note", "") or "",
    )


def _read(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; pass --config with an existing mdash.toml") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file ({err.strerror or err})") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: the file is not UTF-8 text") from None


def _actions(name: str, value: Any, where: str) -> Any:
    """Hand [rollback] / [[notify]] to the actions package's parsers; keep the raw table until they exist."""
    try:
        from mdash.actions import settings
    except ImportError:
        return value
    return settings.parse_rollback(value, where) if name == "rollback" else settings.parse_notify(value, where)


def _from_table(data: dict, where: str) -> Config:
    top = _Table(data, where, "")
    top.check_keys(("prometheus", "refresh", "models", "panels", "rollback", "notify", "readonly"))
    cfg = Config(path=where)
    if "prometheus" in data:
        cfg.prometheus = _prometheus(data["prometheus"], where)
    if "refresh" in data:
        r = _Table(data["refresh"], where, "refresh")
        r.check_keys(("interval", "range"))
        if "interval" in r.data:
            cfg.interval = parse_duration(r.get("interval", (int, float, str), "seconds or a duration"), r.key("interval"))
        if "range" in r.data:
            cfg.range_seconds = parse_duration(r.get("range", (int, float, str), "a duration like \"15m\""), r.key("range"))
    models = top.get("models", list, "an array of tables [[models]]", [])
    cfg.models = [_model(m, where, f"models[{i}]") for i, m in enumerate(models)]
    panels = top.get("panels", list, "an array of tables [[panels]]", [])
    cfg.panels = [_panel(p, where, f"panels[{i}]") for i, p in enumerate(panels)]
    cfg.readonly = top.get("readonly", bool, "true or false", False)
    if "rollback" in data:
        cfg.rollback = _actions("rollback", top.get("rollback", dict, "a table [rollback]"), f"{where}: rollback")
    if "notify" in data:
        cfg.notify = _actions("notify", top.get("notify", list, "an array of tables [[notify]]"), f"{where}: notify")
    _check_unique(cfg, where)
    return cfg


def _check_unique(cfg: Config, where: str) -> None:
    names = [m.name for m in cfg.models]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{where}: models: the name {name!r} is used twice; give each model its own name")
    keys = [p.key for p in cfg.panels]
    for p in cfg.panels:
        if keys.count(p.key) > 1:
            raise ConfigError(f"{where}: panels: two panels titled {p.title!r} in group {p.group!r}; rename one")


def load(
    path: str | None = None,
    *,
    prometheus: str | None = None,
    endpoint: str | None = None,
    metrics: str | None = None,
    preset: str | None = None,
    model: str | None = None,
) -> Config:
    """Read ``path`` (if given) and apply the flags over it; raises ConfigError naming file, key and expectation."""
    cfg = _from_table(_read(path), path) if path else Config()
    if prometheus:
        url = _url(prometheus, "--prometheus")
        if cfg.prometheus:
            cfg.prometheus.url = url
        else:
            cfg.prometheus = PrometheusConfig(url=url)
    if endpoint or metrics:
        endpoint, metrics = _url(endpoint, "--endpoint"), _url(metrics, "--metrics")
        name = model or "model"
        found = cfg.model(name)
        target = found or ModelConfig(name=name)
        if endpoint:
            target.endpoint = endpoint
            target.metrics = metrics or f"{endpoint}/metrics"
        if metrics:
            target.metrics = metrics
        if preset:
            target.preset = preset
        if not found:
            cfg.models.append(target)
    elif preset:
        for m in cfg.models:
            m.preset = preset
    elif model and not path:
        raise ConfigError("--model: needs --endpoint or --metrics (the model it names lives there)")
    return cfg
