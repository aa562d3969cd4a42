"""Route engine metrics (scanner and strategies), on the daemon's one registry.

Label values come from configuration only: symbols, strategy names, the fixed filter reasons and regimes.
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from kraken_runtime.core.route.filters import REJECTION_REASONS
from kraken_runtime.core.route.regime import REGIMES

SIDES = ("buy", "sell")

# Frame received -> intent made: the state holder's apply (~10 us to ms), the snapshot interval (100 ms by
# default, latest wins), the scanner's work on it (strategies, scoring, the intent stored), and the scan interval
# (200 ms) only with scanner.decide_on_snapshot off. Buckets from 1 ms to 10 s; beyond
# max_state_age_ms the state is stale and no intent is made, so the top buckets only show a struggling process.
TICK_TO_INTENT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)


class RouteMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.signals = Counter("krt_signals_total", "Signals with a direction, by strategy and symbol.", ["strategy", "symbol"], registry=r)
        self.intents = Counter("krt_intents_total", "Intents emitted (stored and sent to the risk envelope).", ["symbol", "side"], registry=r)
        self.eligible = Gauge("krt_symbol_eligible", "1 while the symbol passes every filter of the scanner.", ["symbol"], registry=r)
        self.rejections = Counter("krt_filter_rejections_total", "Symbol scans ruled out, by filter reason (one per reason per scan).",
                                  ["reason"], registry=r)
        self.regime = Gauge("krt_regime", "1 for the symbol's current regime, 0 for the others.", ["symbol", "regime"], registry=r)
        self.strategy_enabled = Gauge("krt_strategy_enabled", "1 while the strategy contributes (configured, switched on, not paused).",
                                      ["strategy"], registry=r)
        self.strategy_pnl = Gauge("krt_strategy_pnl_usd", "Realised PnL after fees attributed to the strategy in this run, USD.",
                                  ["strategy"], registry=r)
        self.tick_to_intent = Histogram("krt_tick_to_intent_seconds", "Receipt of the frame that produced the state -> intent made.",
                                        buckets=TICK_TO_INTENT_BUCKETS, registry=r)
        self.strategy_errors = Counter("krt_strategy_errors_total",
                                       "Strategies that raised on the scanner's thread (each isolated; its actor restarted).",
                                       ["strategy"], registry=r)
        self.scans = Counter("krt_scans_total", "Scanner passes over every symbol.", registry=r)
        self.intents_not_stored = Counter("krt_intents_not_stored_total",
                                          "Intents lost: the risk envelope could not take them and they could not be stored either.", registry=r)

    def register(self, symbols: Iterable[str], strategies: Iterable[str]) -> None:
        strategies = tuple(strategies)
        for symbol in symbols:
            self.eligible.labels(symbol=symbol).set(0)
            for side in SIDES:
                self.intents.labels(symbol=symbol, side=side)
            for regime in REGIMES:
                self.regime.labels(symbol=symbol, regime=regime).set(1 if regime == REGIMES[0] else 0)
            for strategy in strategies:
                self.signals.labels(strategy=strategy, symbol=symbol)
        for reason in REJECTION_REASONS:
            self.rejections.labels(reason=reason)
        for strategy in strategies:
            self.strategy_enabled.labels(strategy=strategy).set(0)
            self.strategy_pnl.labels(strategy=strategy).set(0)
            self.strategy_errors.labels(strategy=strategy)

    def set_regime(self, symbol: str, regime: str) -> None:
        for name in REGIMES:
            self.regime.labels(symbol=symbol, regime=name).set(1 if name == regime else 0)
