"""mdash.toml and flags → Config; every bad input is one clear message with exit code 2 and no traceback."""

from __future__ import annotations

import os

import pytest

from mdash.cli import main
from mdash.config import load, parse_duration
from mdash.errors import ConfigError

FULL = """
readonly = true
[prometheus]
url = "https://mimir.example:9009/prometheus/"
headers = { "X-Scope-OrgID" = "team-a" }
bearer_token_env = "MDASH_TEST_TOKEN"
timeout = 2.5

[refresh]
interval = "500ms"
range = "1h30m"

[[models]]
name = "iris"
endpoint = "http://127.0.0.1:8080"
selector = '{job="iris"}'
baseline = "http://127.0.0.1:8090"

[[panels]]
title = "p95 latency"
query = 'histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m])))'
legend = "{{instance}}"
unit = "s"
warn = 0.2
crit = 0.5

[[panels]]
title = "accuracy"
queries = [{ query = "acc", legend = "now" }, { query = "acc offset 1d", legend = "yesterday" }]
warn = 0.9
crit = 0.8
"""


def write(tmp_path, text: str) -> str:
    path = tmp_path / "mdash.toml"
    path.write_text(text)
    return str(path)


def test_full_config_reads_every_section(tmp_path):
    cfg = load(write(tmp_path, FULL))
    assert cfg.prometheus.url == "https://mimir.example:9009/prometheus"
    assert cfg.prometheus.headers == {"X-Scope-OrgID": "team-a"} and cfg.prometheus.timeout == 2.5
    assert (cfg.interval, cfg.range_seconds, cfg.readonly) == (0.5, 5400.0, True)
    (model,) = cfg.models
    assert model.metrics == "http://127.0.0.1:8080/metrics" and model.preset == "auto"
    p95, acc = cfg.panels
    assert (p95.group, p95.better, p95.queries[0].legend) == ("performance", "lower", "{{instance}}")
    assert acc.better == "higher" and [q.legend for q in acc.queries] == ["now", "yesterday"]
    assert not cfg.is_empty


def test_bearer_token_comes_from_the_environment_only_when_sending(tmp_path, monkeypatch):
    cfg = load(write(tmp_path, FULL))
    monkeypatch.delenv("MDASH_TEST_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="MDASH_TEST_TOKEN is not set"):
        cfg.prometheus.auth_headers()
    monkeypatch.setenv("MDASH_TEST_TOKEN", "s3cret")
    assert cfg.prometheus.auth_headers()["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(cfg)


def test_flags_alone_describe_prometheus_and_one_model():
    cfg = load(prometheus="http://127.0.0.1:9090", endpoint="http://127.0.0.1:8080/", preset="mlserver", model="iris")
    assert cfg.prometheus.url == "http://127.0.0.1:9090"
    assert [(m.name, m.endpoint, m.metrics, m.preset) for m in cfg.models] == [
        ("iris", "http://127.0.0.1:8080", "http://127.0.0.1:8080/metrics", "mlserver")
    ]


def test_flags_override_the_file(tmp_path):
    cfg = load(write(tmp_path, FULL), prometheus="http://127.0.0.1:9090", metrics="http://h:8082/metrics", model="iris")
    assert cfg.prometheus.url == "http://127.0.0.1:9090" and cfg.prometheus.timeout == 2.5
    assert cfg.models[0].metrics == "http://h:8082/metrics" and len(cfg.models) == 1


def test_nothing_configured_is_empty():
    assert load().is_empty


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("1h30m", 5400), ("500ms", 0.5), (90, 90), ("2d", 172800)])
def test_durations_parse_like_prometheus(text, seconds):
    assert parse_duration(text, "x") == seconds


BAD = {
    "unknown key": ('[prometheus]\nurl = "http://h:9090"\nurll = "x"\n', "prometheus.urll: unknown key"),
    "key with a newline": ('[prometheus]\nurl = "http://h:9090"\n"a\\nb" = 1\n', 'prometheus."a\\nb": unknown key'),
    "wrong type": ('[prometheus]\nurl = "http://h:9090"\ntimeout = "fast"\n', "prometheus.timeout: expected a number, got str 'fast'"),
    "missing url": ('[prometheus]\ntimeout = 3\n', "prometheus.url: missing; expected a non-empty string"),
    "bad url": ('[prometheus]\nurl = "localhost:9090"\n', "prometheus.url: expected an http:// or https:// URL"),
    "bad range": ('[refresh]\nrange = "15 minutes"\n', 'refresh.range: expected a duration like "15m"'),
    "bad TOML": ('[prometheus\nurl = "x"\n', "not valid TOML"),
    "unknown group": ('[[panels]]\ntitle = "t"\ngroup = "perf"\nquery = "up"\n', "panels[0].group: expected one of performance"),
    "bool as number": ('[[panels]]\ntitle = "t"\nquery = "up"\nwarn = true\n', "panels[0].warn: expected a number"),
    "secret in headers": ('[prometheus]\nurl = "http://h"\nheaders = { Authorization = "Bearer x" }\n', "no secrets in the config"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_exits_2_with_one_message_naming_file_and_key(tmp_path, capsys, case):
    text, expected = BAD[case]
    path = write(tmp_path, text)
    assert main(["check", "--config", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mdash: {path}: ") and expected in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["snapshot", "--config", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "nope.toml: no such config file" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_exits_2(tmp_path, capsys):
    path = write(tmp_path, FULL)
    os.chmod(path, 0)
    assert main(["check", "--config", path]) == 2
    assert "cannot read the config file" in capsys.readouterr().err


def test_unreadable_file_as_a_directory_exits_2(tmp_path, capsys):
    assert main(["check", "--config", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: cannot read the config file" in err and "Traceback" not in err


def test_bad_flag_url_exits_2(capsys):
    assert main(["snapshot", "--prometheus", "127.0.0.1:9090"]) == 2
    assert "--prometheus: expected an http:// or https:// URL" in capsys.readouterr().err


@pytest.mark.parametrize("key", ["url", "a\nb", "modèle", "😀", "x\x7fy", 'say "hi"'])
def test_keys_in_messages_are_written_as_toml_reads_them(key):
    import tomllib

    from mdash.config import toml_key

    assert tomllib.loads(f"{toml_key(key)} = 1") == {key: 1} and "\n" not in toml_key(key)
