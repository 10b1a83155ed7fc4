"""`[rollback]` and `[[notify]]` parsing: typed settings, per-model overrides, one clear error per bad value."""

from __future__ import annotations

import pytest

from mdash.actions import parse_notify, parse_rollback
from mdash.config import load
from mdash.errors import ConfigError


def test_rollback_table_parses_durations_and_per_model_overrides():
    s = parse_rollback(
        {
            "url": "https://hooks.example/a",
            "secret_env": "S",
            "deadline": "45s",
            "cooldown": "10m",
            "headers": {"X-Team": "ml"},
            "models": {"fraud": {"url": "https://hooks.example/fraud", "template": "github"}},
        },
        "mdash.toml: rollback",
    )
    assert (s.url, s.deadline, s.cooldown, s.timeout, s.template) == (
        "https://hooks.example/a",
        45,
        600,
        10,
        "generic",
    )
    fraud = s.for_model("fraud")
    assert (fraud.url, fraud.template, fraud.secret_env, fraud.cooldown) == (
        "https://hooks.example/fraud",
        "github",
        "S",
        600,
    )
    assert s.for_model("iris").url == "https://hooks.example/a"
    assert parse_rollback({"url": "http://x", "cooldown": 0}, "w").cooldown == 0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"url": "hooks.example"}, "mdash.toml: rollback.url: expected an http:// or https:// URL"),
        ({"secret": "hunter2"}, "unknown key(s) secret"),
        ({"template": "teams"}, "rollback.template: expected one of generic, slack, github"),
        ({"deadline": "soon"}, "rollback.deadline"),
        ({"headers": {"Authorization": "Bearer x"}}, "put credentials in bearer_token_env"),
        ({"models": {"m": {"url": 3}}}, "rollback.models.m.url: expected a string"),
    ],
)
def test_bad_rollback_values_name_the_key_and_the_expectation(table, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rollback(table, "mdash.toml: rollback")


def test_notify_rules_parse_with_defaults_and_their_own_targets():
    rules = parse_notify(
        [{"when": "crit", "panel": "p99*", "refreshes": 3}, {"when": "canary_fail", "url": "https://h/x"}],
        "f: notify",
    )
    assert (rules[0].when, rules[0].model, rules[0].panel, rules[0].refreshes, rules[0].target) == (
        "crit",
        "*",
        "p99*",
        3,
        None,
    )
    assert rules[1].target.url == "https://h/x"
    for bad, message in (
        ([{"when": "sometimes"}], r"f: notify\[0\].when: expected one of crit, anomaly, canary_fail"),
        ([{"when": "crit", "refreshes": 0}], r"notify\[0\].refreshes: expected an integer ≥ 1"),
        ({"when": "crit"}, "must be an array of tables"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_notify(bad, "f: notify")


def test_config_file_hands_its_rollback_and_notify_tables_to_these_parsers(tmp_path):
    path = tmp_path / "mdash.toml"
    path.write_text('readonly = true\n[rollback]\nurl = "https://h/r"\n[[notify]]\nwhen = "anomaly"\n')
    cfg = load(str(path))
    assert cfg.readonly and cfg.rollback.url == "https://h/r" and cfg.notify[0].when == "anomaly"
    path.write_text('[rollback]\nurl = "https://h/r"\ntoken = "x"\n')
    with pytest.raises(ConfigError, match=r"mdash.toml: rollback: unknown key\(s\) token"):
        load(str(path))
