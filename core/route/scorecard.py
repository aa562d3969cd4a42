"""The strategy scorecard (feedback loop): per strategy and symbol, signals, intents and, from fills
attributed to the strategy, realised PnL after fees and the hit rate; and the automatic pause rule.

Pause rule: a strategy whose expectancy after fees (mean of realised PnL - fee per trade) over its last
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

    def seed(self, strategy: str, net_pnls_oldest_first: Iterable[Decimal]) -> None:
        """Rebuild a strategy's rolling window from stored fills (crash-only: same path as a cold start)."""
        window = self._window(strategy)
        window.clear()
        window.extend(net_pnls_oldest_first)

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

    def fill(self, fill: StrategyFill) -> Pause | None:
        """Count a fill; a Pause when it takes the strategy's expectancy below the minimum over a full window."""
        line = self.line(fill.strategy, fill.symbol)
        net = fill.realised_pnl_usd - fill.fee_usd
        line.trades += 1
        line.wins += 1 if net > 0 else 0
        line.realised_pnl_usd += fill.realised_pnl_usd
        line.fees_usd += fill.fee_usd
        self.dirty = True
        window = self._window(fill.strategy)
        window.append(net)
        return self.pause_due(fill.strategy)

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
        """The operator enabled the strategy again: it starts a fresh window."""
        self.paused.discard(strategy)
        self._window(strategy).clear()

    def pnl_by_strategy(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for (strategy, _symbol), line in self.lines.items():
            totals[strategy] = totals.get(strategy, ZERO) + line.net_pnl_usd
        return totals
