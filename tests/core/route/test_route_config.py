"""The route engine's configuration: strict, one line per problem naming the key and what was expected."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_runtime.core import control as ctl
from kraken_runtime.core.config import ConfigError, load_settings
from kraken_runtime.core.signals import STRATEGY_NAMES


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("strategies: {regime: {enabled: true}}",
     "config error: strategies.regime (from config file): unknown setting; expected one of: imbalance, spread_compression, momentum, premium_gap"),
    ("strategies: {momentum: {lookback: 3}}", "config error: strategies.momentum.lookback (from config file): unknown setting; expected one of: enabled, weight,"),
    ("strategies: {imbalance: {min_imbalance: 0.9}}",
     "config error: strategies.imbalance = a mapping (from config file): expected full_imbalance (0.8) above min_imbalance (0.9)"),
    ("strategies: {momentum: {max_lookback_s: 500}}", "expected min_lookback_s (2) <= base_lookback_s (10) <= max_lookback_s (500) <= history_s (120)"),
    ("strategies: {premium_gap: {weight: -1}}", "config error: strategies.premium_gap.weight = -1 (from config file): expected a number >= 0"),
    ("scanner: {taker_score: 0.3}", "config error: scanner.taker_score = '0.3' (from config file): expected at least scanner.hybrid_score = '0.5'"),
    ("scanner: {regime_trend_lookback_s: 400}", "expected at most scanner.regime_history_s = 300.0"),
    ("scanner: {min_score: 0}", "config error: scanner.min_score = 0 (from config file): expected a number > 0"),
])
def test_bad_route_settings_are_one_line(yaml_text, expected):
    with pytest.raises(ConfigError) as info:
        load_settings(yaml_text=yaml_text)
    message = str(info.value)
    assert "\n" not in message and expected in message, message


def test_a_strategy_can_be_left_out_and_weighted():
    settings = load_settings(yaml_text="strategies: {premium_gap: {enabled: false}, momentum: {weight: 2.5}}")
    assert settings.strategies.premium_gap.enabled is False and settings.strategies.momentum.weight == Decimal("2.5")
    assert settings.strategies.imbalance.enabled  # the other keys keep their defaults
    from kraken_runtime.actors.route import configured_strategies
    assert configured_strategies(settings) == {"imbalance": 1, "spread_compression": 1, "momentum": Decimal("2.5")}


def test_ctl_knows_exactly_the_strategies_that_exist():
    assert ctl.KNOWN_STRATEGIES == STRATEGY_NAMES
    with pytest.raises(ctl.CommandError, match="unknown strategy 'regime'; expected one of imbalance, spread_compression, momentum, premium_gap"):
        ctl.parse_command("disable-strategy", {"strategy": "regime"})
