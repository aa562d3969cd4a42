"""Configuration: layers, strict validation with one clear line, secrets kept apart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from kraken_runtime.core.config import ConfigError, Settings, load_settings, secrets_from_env


def test_defaults_when_nothing_given_then_paper_on_sim_with_sqlite():
    settings = load_settings()
    assert (settings.runtime.mode, settings.runtime.market) == ("paper", "sim")
    assert settings.storage.db_url.startswith("sqlite:///")
    assert settings.risk.max_exposure_usd == Decimal("1000")


def test_default_yaml_documents_exactly_the_built_in_defaults(repo_root: Path):
    text = (repo_root / "config" / "default.yaml").read_text()
    assert load_settings(yaml_text=text) == Settings()
    document = yaml.safe_load(text)
    assert set(document) == set(Settings.model_fields)
    for section, model_field in Settings.model_fields.items():
        assert set(document[section]) == set(model_field.annotation.model_fields), section
    for line in text.splitlines():
        if line.startswith("  ") and ":" in line and not line.lstrip().startswith("#"):
            assert "#" in line, f"setting without a comment: {line.strip()}"


def test_precedence_file_then_environment_then_flags():
    yaml_text = "runtime:\n  mode: shadow\n  status_interval_s: 2\nhttp:\n  port: 9000\n"
    env = {"KRT_HTTP__PORT": "9100", "KRT_RUNTIME__STATUS_INTERVAL_S": "3"}
    settings = load_settings(yaml_text=yaml_text, env=env, overrides={"http": {"port": 9200}})
    assert settings.runtime.mode == "shadow"  # file over default
    assert settings.runtime.status_interval_s == 3  # environment over file
    assert settings.http.port == 9200  # flags over environment
    assert load_settings(yaml_text=yaml_text, env=env).http.port == 9100


def test_environment_symbols_as_comma_list():
    settings = load_settings(env={"KRT_RUNTIME__SYMBOLS": "BTC/USD, SOL/USD"})
    assert settings.runtime.symbols == ("BTC/USD", "SOL/USD")


def test_money_in_yaml_is_read_exactly():
    settings = load_settings(yaml_text="risk:\n  max_exposure_usd: 0.1\n  daily_loss_limit_usd: 12345678.12345678\n")
    assert settings.risk.max_exposure_usd == Decimal("0.1")
    assert settings.risk.daily_loss_limit_usd == Decimal("12345678.12345678")


@pytest.mark.parametrize(
    ("yaml_text", "env", "expected"),
    [
        ("runtime:\n  mode: yolo\n", {}, "runtime.mode = 'yolo' (from f.yaml): expected one of 'paper', 'shadow' or 'live'"),
        ("runtime:\n  modee: paper\n", {}, "runtime.modee (from f.yaml): unknown setting; expected one of: mode, market"),
        ("nope:\n  a: 1\n", {}, "nope (from f.yaml): unknown setting; expected one of: runtime, storage"),
        ("", {"KRT_HTTP__PORT": "70000"}, "http.port = 70000 (from environment KRT_HTTP__PORT): expected a number <= 65535"),
        ("http:\n  port: eighty\n", {}, "http.port = 'eighty' (from f.yaml): expected input should be a valid integer"),
        ("risk:\n  max_exposure_usd: -5\n", {}, "risk.max_exposure_usd = -5 (from f.yaml): expected a number >= 0"),
        ("runtime:\n  symbols: [btcusd]\n", {}, "runtime.symbols = ['btcusd'] (from f.yaml): expected symbols written BASE/QUOTE"),
        ("runtime:\n  symbols: []\n", {}, "expected at least one symbol"),
        ("storage:\n  db_url: mysql://x/y\n", {}, "storage.db_url = 'mysql://x/y' (from f.yaml): expected a URL sqlite:///PATH"),
        ("runtime: 3\n", {}, "runtime = 3 (from f.yaml): expected a mapping of keys"),
        ("- a\n- b\n", {}, "f.yaml: top level is list; expected a mapping of sections"),
        ("runtime: {mode: [\n", {}, "f.yaml line 2: not valid YAML"),
        ("", {"KRT_RUNTIMEMODE": "x"}, "environment variable KRT_RUNTIMEMODE: expected the form KRT_<SECTION>__<KEY>"),
        ("", {"KRT_BOGUS__X": "1"}, "bogus (from environment): unknown setting"),
    ],
)
def test_invalid_configuration_is_one_line_naming_key_value_and_expectation(yaml_text, env, expected):
    with pytest.raises(ConfigError) as info:
        load_settings(yaml_text=yaml_text, yaml_source="f.yaml", env=env)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("config error: ")
    assert expected in message


def test_settings_are_frozen():
    settings = load_settings()
    with pytest.raises(Exception):
        settings.runtime.mode = "live"  # type: ignore[misc]


def test_secrets_come_in_pairs_and_never_show():
    secrets = secrets_from_env({"KRAKEN_API_KEY": "key-abc", "KRAKEN_API_SECRET": "c2VjcmV0"})
    assert secrets.present
    assert "key-abc" not in repr(secrets) and "c2VjcmV0" not in str(secrets)
    assert secrets.redacted() == {"KRAKEN_API_KEY": "<set, redacted>", "KRAKEN_API_SECRET": "<set, redacted>"}
    assert not secrets_from_env({"KRAKEN_API_KEY": "", "KRAKEN_API_SECRET": ""}).present
    with pytest.raises(ConfigError, match="KRAKEN_API_SECRET is not set"):
        secrets_from_env({"KRAKEN_API_KEY": "only-key"})


def test_config_hash_changes_with_settings():
    assert load_settings().config_hash() == load_settings().config_hash()
    assert load_settings().config_hash() != load_settings(env={"KRT_RUNTIME__MODE": "shadow"}).config_hash()


@pytest.mark.parametrize(
    ("yaml_text", "env", "expected"),
    [
        ("supervisor:\n  heartbeat_interval_ms: 5000\n  heartbeat_deadline_ms: 5000\n", {},
         "supervisor.heartbeat_deadline_ms = 5000 (from f.yaml): expected more than "
         "supervisor.heartbeat_interval_ms = 5000 (from f.yaml)"),
        ("supervisor:\n  heartbeat_interval_ms: 20000\n", {},
         "supervisor.heartbeat_deadline_ms = 10000 (from built-in default): expected more than "
         "supervisor.heartbeat_interval_ms = 20000 (from f.yaml)"),
        ("supervisor:\n  heartbeat_deadline_ms: 2999\n", {},
         "supervisor.heartbeat_deadline_ms = 2999 (from f.yaml): expected a number >= 3000, so a feed blocked closing "
         "its socket is not taken for hung"),
        ("supervisor:\n  backoff_initial_ms: 5000\n", {"KRT_SUPERVISOR__BACKOFF_MAX_MS": "4999"},
         "supervisor.backoff_max_ms = 4999 (from environment KRT_SUPERVISOR__BACKOFF_MAX_MS): expected at least "
         "supervisor.backoff_initial_ms = 5000 (from f.yaml)"),
        ("feed:\n  reconnect_max_ms: 499\n", {},
         "feed.reconnect_max_ms = 499 (from f.yaml): expected at least feed.reconnect_initial_ms = 500 (from built-in default)"),
        ("state:\n  stale_after_ms: 499\n", {}, "state.stale_after_ms = 499 (from f.yaml): expected a number >= 500"),
        ("state:\n  volatility_windows_s: [60, 86401]\n", {},
         "state.volatility_windows_s = [60, 86401] (from f.yaml): expected window lengths of at most 86400 seconds"),
        ("state:\n  volatility_windows_s: [60, 1001]\n  volatility_sample_ms: 100\n", {},
         "state.volatility_windows_s = [60, 1001] (from f.yaml): expected windows of at most 10000 samples, so at most "
         "1000 s at state.volatility_sample_ms = 100 (from f.yaml)"),
        ("supervisor:\n  control_command_max_age_s: 0\n", {},
         "supervisor.control_command_max_age_s = 0 (from f.yaml): expected a number >= 1"),
    ],
)
def test_settings_that_do_not_fit_together_are_one_line_naming_both_keys(yaml_text, env, expected):
    with pytest.raises(ConfigError) as info:
        load_settings(yaml_text=yaml_text, yaml_source="f.yaml", env=env)
    message = str(info.value)
    assert "\n" not in message and message.startswith("config error: ")
    assert expected in message, message


@pytest.mark.parametrize("yaml_text", [
    "supervisor:\n  heartbeat_interval_ms: 2999\n  heartbeat_deadline_ms: 3000\n",  # the boundaries themselves
    "supervisor:\n  backoff_initial_ms: 5000\n  backoff_max_ms: 5000\n",
    "feed:\n  reconnect_initial_ms: 500\n  reconnect_max_ms: 500\n",
    "state:\n  stale_after_ms: 500\n  volatility_windows_s: [86400]\n  volatility_sample_ms: 8640\n",
    "state:\n  volatility_windows_s: [1000]\n  volatility_sample_ms: 100\n",
])
def test_settings_at_the_cross_check_boundaries_are_accepted(yaml_text):
    load_settings(yaml_text=yaml_text, yaml_source="f.yaml")
