"""What every strategy shares: the Strategy protocol, the strategy names and make_signal (core/signals/).

Each strategy is a small class holding the bounded history it needs, fed one StateSnapshot at a time
(`on_snapshot`), and answering one `Signal` per snapshot: direction +1 / -1 with a strength in [0, 1], or
direction 0 (no view) when its pattern is absent or its inputs are unknown. Time is the snapshot's own
state time, so the same snapshots always give the same signals. `features` names every value and threshold
used, so an intent can explain itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

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
