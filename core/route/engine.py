"""The scanner's logic as one pure object: snapshots and signals in, eligibility, regimes and intents out.

The scanner actor feeds it messages and the time; it answers what to store, send and count. Nothing here
reads a clock, a socket or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Collection, Iterable, Mapping

from kraken_runtime.core.config import ScannerSettings
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import Intent, IntentDecided, Signal, StrategyFill
from kraken_runtime.core.route.filters import SymbolGuard, rejections
from kraken_runtime.core.route.history import NS_PER_MS, ZERO
from kraken_runtime.core.route.regime import UNKNOWN, RegimeReading, RegimeTracker
from kraken_runtime.core.route.scorecard import Pause, Scorecard
from kraken_runtime.core.route.scoring import Decision, Weighted, decide
from kraken_runtime.core.route.throttle import RejectRate, throttle


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolScan:
    symbol: str
    rejections: tuple[str, ...]
    regime: str
    decision: Decision | None  # None when the symbol was not scored (ineligible, waiting, or nothing new)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    symbols: tuple[SymbolScan, ...]
    intents: tuple[Intent, ...]


@dataclass
class _Symbol:
    guard: SymbolGuard
    regime: RegimeTracker
    rejects: RejectRate
    snapshot: StateSnapshot | None = None
    last_intent_ns: int | None = None
    last_intent_seq: tuple[int, int] | None = None
    stored_regime: str | None = None


@dataclass
class RouteEngine:
    settings: ScannerSettings
    symbols: tuple[str, ...]
    weights: Mapping[str, Decimal]  # configured (enabled) strategies and their weights
    enabled: dict[str, bool] = field(default_factory=dict)  # the operator's switches (strategy_settings)
    scorecard: Scorecard | None = None
    signals: dict[tuple[str, str], Signal] = field(default_factory=dict)
    _symbols: dict[str, _Symbol] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for symbol in self.symbols:
            self._symbols[symbol] = _Symbol(guard=SymbolGuard(), regime=RegimeTracker(self.settings),
                                            rejects=RejectRate(self.settings.throttle_reject_window))
        if self.scorecard is None:
            self.scorecard = Scorecard(self.settings)

    # --- inputs ---------------------------------------------------------------------------------------------

    def seed(self, rows: Iterable[Mapping[str, object]]) -> None:
        """After a restart: the stored epochs and regimes of run_symbol_state (decisions still wait for fresh
        snapshots: nothing is eligible without one)."""
        for row in rows:
            entry = self._symbols.get(str(row.get("symbol")))
            if entry is None:
                continue
            epoch = row.get("epoch")
            if isinstance(epoch, int):
                entry.guard.epoch = epoch
            regime = row.get("regime")
            entry.stored_regime = regime if isinstance(regime, str) else None

    def on_snapshot(self, snapshot: StateSnapshot, now_ns: int) -> bool:
        """Take a snapshot (the symbol's latest; the regime samples it on its timer); True when a resync storm
        began."""
        entry = self._symbols.get(snapshot.symbol)
        if entry is None:
            return False
        entry.snapshot = snapshot
        return entry.guard.observe(snapshot, now_ns, self.settings)

    def sample_regimes(self, now_ns: int) -> list[tuple[str, RegimeReading]]:
        """One regime sample of every symbol from its latest snapshot (the scanner's timer, every
        `regime_sample_ms`); the symbols whose regime changed (or differs from the stored one after a
        restart), with their new reading."""
        changed: list[tuple[str, RegimeReading]] = []
        for symbol, entry in self._symbols.items():
            if entry.snapshot is None:
                continue
            before = entry.regime.regime
            reading = entry.regime.sample(entry.snapshot, now_ns)
            if reading.regime != before or (entry.stored_regime is not None and entry.stored_regime != reading.regime):
                changed.append((symbol, reading))
            entry.stored_regime = None
        return changed

    def on_signal(self, signal: Signal) -> bool:
        """Keep the strategy's latest view of the symbol; True when it is a signal (a direction, not 'no view')."""
        if signal.symbol not in self._symbols:
            return False
        self.signals[(signal.strategy, signal.symbol)] = signal
        if signal.direction != 0:
            assert self.scorecard is not None
            self.scorecard.signal(signal.strategy, signal.symbol)
            return True
        return False

    def set_enabled(self, strategy: str, enabled: bool) -> None:
        self.enabled[strategy] = enabled
        assert self.scorecard is not None
        if enabled:
            self.scorecard.lift(strategy)
        else:
            for key in [key for key in self.signals if key[0] == strategy]:
                del self.signals[key]

    def on_fill(self, fill: StrategyFill, now_ns: int) -> Pause | None:
        """Score the fill; a trade that lost (after its fees) starts the symbol's loss cooldown."""
        assert self.scorecard is not None
        net, pause = self.scorecard.fill(fill)
        entry = self._symbols.get(fill.symbol)
        if entry is not None and net is not None and net < 0:
            entry.guard.loss(now_ns, self.settings)
        if pause is not None:
            self.set_enabled(pause.strategy, False)
        return pause

    def on_decided(self, decided: IntentDecided) -> None:
        entry = self._symbols.get(decided.symbol)
        if entry is not None:
            entry.rejects.record(decided.accepted)

    # --- scanning -------------------------------------------------------------------------------------------

    def active(self, running: Collection[str]) -> dict[str, Decimal]:
        """Strategies that count now, with their effective weights: configured, running, not switched off
        or paused; a poor recent record scales the weight down."""
        assert self.scorecard is not None
        return {
            name: weight * self.scorecard.weight_factor(name)
            for name, weight in self.weights.items()
            if name in running and self.enabled.get(name, True) and name not in self.scorecard.paused
        }

    def regime(self, symbol: str) -> str:
        entry = self._symbols.get(symbol)
        return entry.regime.regime if entry is not None else UNKNOWN

    def scan(self, now_ns: int, running: Collection[str], only: str | None = None) -> ScanResult:
        """Score every symbol (the scan timer), or `only` that one (its fresh snapshot, scanner.decide_on_snapshot)."""
        active = self.active(running)
        total_weight = sum(active.values(), ZERO)
        scans: list[SymbolScan] = []
        intents: list[Intent] = []
        chosen = self._symbols.items() if only is None else \
            ([(only, self._symbols[only])] if only in self._symbols else [])
        for symbol, entry in chosen:
            snapshot = entry.snapshot
            reasons = rejections(snapshot, entry.guard, now_ns, self.settings, symbol=symbol)
            regime = entry.regime.reading
            if reasons or snapshot is None:
                scans.append(SymbolScan(symbol=symbol, rejections=reasons, regime=regime.regime, decision=None))
                continue
            waiting = entry.last_intent_ns is not None and \
                now_ns - entry.last_intent_ns < self.settings.min_intent_interval_ms * NS_PER_MS
            if waiting or entry.last_intent_seq == (snapshot.epoch, snapshot.seq):
                scans.append(SymbolScan(symbol=symbol, rejections=(), regime=regime.regime, decision=None))
                continue
            max_age_ns = self.settings.signal_max_age_ms * NS_PER_MS
            current = [
                Weighted(signal=signal, weight=active[name])
                for name in active
                if (signal := self.signals.get((name, symbol))) is not None
                and signal.epoch == snapshot.epoch and snapshot.state_ts_ns - signal.state_ts_ns <= max_age_ns
            ]
            limits = throttle(regime=regime.regime, reference_fresh=snapshot.premium_bps is not None,
                              reject_ratio=entry.rejects.ratio(), settings=self.settings)
            decision = decide(snapshot=snapshot, signals=current, total_weight=total_weight, throttle=limits,
                              regime=regime, settings=self.settings, now_ns=now_ns)
            if decision.intent is not None:
                entry.last_intent_ns = now_ns
                entry.last_intent_seq = (snapshot.epoch, snapshot.seq)
                intents.append(decision.intent)
                assert self.scorecard is not None
                self.scorecard.intent(decision.intent.strategies, symbol)
            scans.append(SymbolScan(symbol=symbol, rejections=(), regime=regime.regime, decision=decision))
        return ScanResult(symbols=tuple(scans), intents=tuple(intents))
