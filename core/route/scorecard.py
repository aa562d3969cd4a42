"""The strategy scorecard (feedback loop): per strategy and symbol, signals, intents and, from fills
attributed to the strategy, realised PnL after fees and the hit rate; and the automatic pause rule.

A trade is a fill that realises PnL (it closes some of a position). A fill that only opens one realises
nothing: its fee is counted in the line's fees at once and charged to the strategy's next trade, so a trade's
net PnL is its realised PnL minus every fee paid since the previous trade (the round trip's cost). A trade
wins when its net is above zero; the hit rate is wins / trades.

Pause rule: a strategy whose expectancy after fees (the mean net PnL of its trades) over its last
`scorecard_trades` trades is below `scorecard_min_expectancy_usd` is paused. With fewer trades than that a
negative expectancy is a "poor record": its weight is multiplied by `throttle_poor_record` instead.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

from kraken_runtime.core.config import ScannerSettings
from kraken_runtime.core.messages import StrategyFill
from kraken_runtime.core.route.history import ONE, ZERO, text


@dataclass(slots=True)
class ScoreLine:
    """One (strategy, symbol) line of the scorecard for this run."""

    signals: int = 0
    intents: int = 0
    trades: int = 0
    wins: int = 0
    realised_pnl_usd: Decimal = ZERO
    fees_usd: Decimal = ZERO

    @property
    def net_pnl_usd(self) -> Decimal:
        return self.realised_pnl_usd - self.fees_usd

    @property
    def hit_rate(self) -> Decimal | None:
        return None if self.trades == 0 else Decimal(self.wins) / Decimal(self.trades)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause:
    strategy: str
    reason: str


@dataclass
class Scorecard:
    settings: ScannerSettings
    lines: dict[tuple[str, str], ScoreLine] = field(default_factory=dict)
    _recent: dict[str, deque[Decimal]] = field(default_factory=dict)
    _unpaid_fees: dict[str, Decimal] = field(default_factory=dict)  # fees of opening fills, charged to the next trade
    paused: set[str] = field(default_factory=set)
    dirty: bool = False

    def line(self, strategy: str, symbol: str) -> ScoreLine:
        key = (strategy, symbol)
        found = self.lines.get(key)
        if found is None:
            found = self.lines[key] = ScoreLine()
        return found

    def _window(self, strategy: str) -> deque[Decimal]:
        window = self._recent.get(strategy)
        if window is None:
            window = self._recent[strategy] = deque(maxlen=self.settings.scorecard_trades)
        return window

    def _trade(self, strategy: str, realised_pnl_usd: Decimal, fee_usd: Decimal) -> Decimal | None:
        """The net PnL of the trade this fill completes, or None when it realises nothing (its fee waits)."""
        if realised_pnl_usd == 0:
            self._unpaid_fees[strategy] = self._unpaid_fees.get(strategy, ZERO) + fee_usd
            return None
        net = realised_pnl_usd - fee_usd - self._unpaid_fees.pop(strategy, ZERO)
        self._window(strategy).append(net)
        return net

    def seed(self, strategy: str, fills_oldest_first: Iterable[tuple[Decimal, Decimal]]) -> None:
        """Rebuild a strategy's rolling window from its stored fills, (realised PnL, fee) oldest first
        (crash-only: the same path as live fills)."""
        self._window(strategy).clear()
        self._unpaid_fees.pop(strategy, None)
        for realised, fee in fills_oldest_first:
            self._trade(strategy, realised, fee)

    def signal(self, strategy: str, symbol: str) -> None:
        self.line(strategy, symbol).signals += 1
        self.dirty = True

    def intent(self, strategies: Iterable[str], symbol: str) -> None:
        for strategy in strategies:
            self.line(strategy, symbol).intents += 1
        self.dirty = True

    def expectancy(self, strategy: str) -> Decimal | None:
        window = self._recent.get(strategy)
        if not window:
            return None
        return sum(window, ZERO) / len(window)

    def fill(self, fill: StrategyFill) -> tuple[Decimal | None, Pause | None]:
        """Count a fill: (the net PnL of the trade it completes, or None; a Pause when that trade takes the
        strategy's expectancy below the minimum over a full window)."""
        line = self.line(fill.strategy, fill.symbol)
        line.realised_pnl_usd += fill.realised_pnl_usd
        line.fees_usd += fill.fee_usd
        self.dirty = True
        net = self._trade(fill.strategy, fill.realised_pnl_usd, fill.fee_usd)
        if net is None:
            return None, None
        line.trades += 1
        line.wins += 1 if net > 0 else 0
        return net, self.pause_due(fill.strategy)

    def pause_due(self, strategy: str) -> Pause | None:
        window = self._window(strategy)
        if strategy in self.paused or len(window) < self.settings.scorecard_trades:
            return None
        expectancy = self.expectancy(strategy)
        if expectancy is None or expectancy >= self.settings.scorecard_min_expectancy_usd:
            return None
        self.paused.add(strategy)
        return Pause(strategy=strategy, reason=(
            f"expectancy after fees {text(expectancy, 4)} USD per trade over the last {len(window)} trades is below "
            f"scanner.scorecard_min_expectancy_usd {text(self.settings.scorecard_min_expectancy_usd, 4)}"))

    def weight_factor(self, strategy: str) -> Decimal:
        """1, or `throttle_poor_record` while the strategy's recent expectancy is below the minimum."""
        expectancy = self.expectancy(strategy)
        if expectancy is not None and expectancy < self.settings.scorecard_min_expectancy_usd:
            return self.settings.throttle_poor_record
        return ONE

    def lift(self, strategy: str) -> None:
        """The operator enabled the strategy again: it starts a fresh window (fees already paid stay paid)."""
        self.paused.discard(strategy)
        self._window(strategy).clear()
        self._unpaid_fees.pop(strategy, None)

    def pnl_by_strategy(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for (strategy, _symbol), line in self.lines.items():
            totals[strategy] = totals.get(strategy, ZERO) + line.net_pnl_usd
        return totals
