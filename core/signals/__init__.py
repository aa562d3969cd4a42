"""The strategies' pure signal functions, one module per strategy.

Each strategy is a small class holding the bounded history it needs, fed one StateSnapshot at a time
(`on_snapshot`), and answering one `Signal` per snapshot: direction +1 / -1 with a strength in [0, 1], or
direction 0 (no view) when its pattern is absent or its inputs are unknown. Time is the snapshot's own
state time, so the same snapshots always give the same signals. `features` names every value and threshold
used, so an intent can explain itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import Signal

STRATEGY_NAMES: tuple[str, ...] = ("imbalance", "spread_compression", "momentum", "premium_gap")


class Strategy(Protocol):
    name: str

    def on_snapshot(self, snapshot: StateSnapshot) -> Signal: ...

    def reset(self, symbol: str) -> None: ...


def make_signal(name: str, snapshot: StateSnapshot, direction: int, strength: Decimal,
                features: list[tuple[str, str]]) -> Signal:
    if direction == 0:
        strength = Decimal(0)
    return Signal(strategy=name, symbol=snapshot.symbol, direction=direction, strength=strength, epoch=snapshot.epoch,
                  seq=snapshot.seq, state_ts_ns=snapshot.state_ts_ns, features=tuple(features))


def build_strategy(name: str, settings: Any) -> Strategy:
    """The strategy called `name` with its settings section (core/config.py StrategiesSettings)."""
    from kraken_runtime.core.signals.imbalance import ImbalanceStrategy
    from kraken_runtime.core.signals.momentum import MomentumStrategy
    from kraken_runtime.core.signals.premium_gap import PremiumGapStrategy
    from kraken_runtime.core.signals.spread_compression import SpreadCompressionStrategy

    factories = {"imbalance": ImbalanceStrategy, "spread_compression": SpreadCompressionStrategy,
                 "momentum": MomentumStrategy, "premium_gap": PremiumGapStrategy}
    factory = factories.get(name)
    if factory is None:
        raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGY_NAMES)}")
    return factory(settings)
