"""The strategies' pure signal functions, one module per strategy.

Each strategy is a small class holding the bounded history it needs, fed one StateSnapshot at a time
(`on_snapshot`), and answering one `Signal` per snapshot: direction +1 / -1 with a strength in [0, 1], or
direction 0 (no view) when its pattern is absent or its inputs are unknown. Time is the snapshot's own
state time, so the same snapshots always give the same signals. `features` names every value and threshold
used, so an intent can explain itself.
"""

from __future__ import annotations

from typing import Any

from kraken_runtime.core.signals.base import STRATEGY_NAMES, Strategy, make_signal
from kraken_runtime.core.signals.imbalance import ImbalanceStrategy
from kraken_runtime.core.signals.momentum import MomentumStrategy
from kraken_runtime.core.signals.premium_gap import PremiumGapStrategy
from kraken_runtime.core.signals.spread_compression import SpreadCompressionStrategy

__all__ = ["STRATEGY_NAMES", "Strategy", "build_strategy", "make_signal"]


def build_strategy(name: str, settings: Any) -> Strategy:
    """The strategy called `name` with its settings section (core/config.py StrategiesSettings)."""
    factories = {"imbalance": ImbalanceStrategy, "spread_compression": SpreadCompressionStrategy,
                 "momentum": MomentumStrategy, "premium_gap": PremiumGapStrategy}
    factory = factories.get(name)
    if factory is None:
        raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGY_NAMES)}")
    return factory(settings)
