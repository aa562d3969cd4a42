"""ScannerActor: the route engine's hub (child `scanner`). Wiring only; the logic is core/route/.

In: StateSnapshot from the state holders (latest wins per symbol: while one waits in the mailbox a newer
one replaces it, so a busy scanner works on the newest state and its mailbox holds at most one snapshot per
symbol), StrategyEnablementChanged from the strategy actors, StrategyFill and IntentDecided from the risk
envelope / executor (feedback loop), and its own ScanTick and RegimeSample timers. Out: each intent told to
`risk` through the directory, which stores it in `intents` (with its snapshot and reasons) together with its
decision, in one transaction (an intent `risk` cannot take now is stored here, undecided), the regime written
to run_symbol_state.regime, the scorecard stored, metrics, one INFO line per intent and a one-line scan
summary per status interval.

The strategies run here, on the scanner's thread: each snapshot is handed to every installed, switched-on
strategy (actors/strategy.py: the strategy actors stay the supervised units and hand their instances over
through a StrategySlot), and their signals go straight into the engine: no thread hop or wake-up per
strategy. With scanner.decide_on_snapshot (default) the symbol is then scored at once, so an intent does not
wait for the scan timer, which still scores every symbol every scan_interval_ms. A strategy that raises is
isolated at once (not called again), counted in krt_strategy_errors_total, logged once, and its actor told,
which fails so the supervisor restarts or disables it; the scanner carries on with the others. The regime
is sampled on its own timer (`regime_sample_ms`) from each symbol's latest snapshot, not per snapshot. Once
the supervisor asks it to stop, the scanner drops snapshots and timer ticks still queued, so it stops
within a message or two.

Crash-only: a (re)started scanner seeds itself from run_symbol_state, the operator's switches from
strategy_settings and each strategy's trade window from strategy_fills, and decides nothing until fresh
snapshots arrive (a missing or stale snapshot is a filter rejection).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping

from kraken_runtime.actors.base import ChildLink, InjectedFault, SupervisedActor, describe_error
from kraken_runtime.actors.route_metrics import RouteMetrics
from kraken_runtime.actors.strategy import StrategyFailed, StrategySlot, strategy_child_name
from kraken_runtime.core.config import ScannerSettings
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import Intent, IntentDecided, ScanTick, Signal, StrategyEnablementChanged, StrategyFill
from kraken_runtime.core.route.engine import RouteEngine, ScanResult
from kraken_runtime.core.route.history import NS_PER_S, text
from kraken_runtime.core.route.regime import RegimeReading
from kraken_runtime.storage import repo
from kraken_runtime.storage import route as route_store
from kraken_runtime.storage.db import reset_thread_connection

log = logging.getLogger(__name__)

SCANNER_NAME = "scanner"
SEED_FILLS_PER_TRADE = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimeSample:
    """The scanner's own timer: sample every symbol's regime from its latest snapshot."""

    n: int


def intent_line(intent: Intent) -> str:
    number = f" #{intent.intent_id}" if intent.intent_id else ""  # unstored: the risk envelope stores it
    return (f"intent{number} {intent.symbol} {intent.side} {format(intent.size, 'f')} @ {format(intent.limit_price, 'f')} "
            f"{intent.style} score={text(intent.score)} strategies={'+'.join(intent.strategies) or '-'} "
            f"regime={dict(intent.reasons).get('regime', '?')} epoch={intent.epoch} seq={intent.seq}")


class ScannerActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, run_id: int, settings: ScannerSettings, symbols: tuple[str, ...],
                 weights: Mapping[str, Decimal], send: Callable[[str, Any], bool], send_latest: Callable[[str, Any, Any], bool],
                 peer_state: Callable[[str], str | None], metrics: RouteMetrics, strategies: Mapping[str, StrategySlot],
                 shard: str = "default", risk_name: str = "risk", summary_interval_s: float = 5.0,
                 clock_ns: Callable[[], int] = time.time_ns, on_signal: Callable[[Signal], None] | None = None) -> None:
        """`strategies`: each configured strategy's slot (where its actor installs the instance to run);
        `on_signal`: an observer of every signal the strategies produce (tests, the benchmark)."""
        super().__init__(link=link)
        self.slots = dict(strategies)
        self.on_signal = on_signal
        self._failed: dict[str, int] = {}  # strategy -> the generation that raised here (not called again)
        self._signal_counters: dict[tuple[str, str], Any] = {}
        self.run_id = run_id
        self.settings = settings
        self.symbols = symbols
        self.weights = dict(weights)
        self.send = send
        self.send_latest = send_latest  # unused since the strategies run here; kept for the composition's call
        self.peer_state = peer_state
        self.metrics = metrics
        self.shard = shard
        self.risk_name = risk_name
        self.summary_interval_ns = int(summary_interval_s * NS_PER_S)
        self.clock_ns = clock_ns
        self.engine = RouteEngine(settings=settings, symbols=symbols, weights=self.weights)
        self._counts = {"scans": 0, "signals": 0, "intents": 0}
        self._last_summary_ns = 0
        self._last_scorecard_ns = 0
        self._eligible: dict[str, int] = {}
        self._last_rejections: dict[str, tuple[str, ...]] = {}

    # --- lifecycle ------------------------------------------------------------------------------------------

    def on_supervised_start(self) -> None:
        self.engine.enabled.update(repo.strategy_enabled_map())
        self.engine.seed(repo.symbol_states(self.run_id))
        assert self.engine.scorecard is not None
        for name in self.weights:
            # a trade may have several opening fills before it: read a few fills per trade of the window
            self.engine.scorecard.seed(name, route_store.recent_strategy_fills(name, SEED_FILLS_PER_TRADE * self.settings.scorecard_trades))
        now = self.clock_ns()
        self._last_summary_ns = self._last_scorecard_ns = now
        for name, slot in self.slots.items():
            stuck = slot.inside
            if stuck is not None:  # the scanner before this one was replaced while inside this strategy's code
                self._strategy_failed(name, stuck, TimeoutError("the previous scanner hung inside it"))
        self._publish_enabled()
        self.every(self.settings.scan_interval_ms / 1000, lambda n: ScanTick(n=n), name=f"{self.link.name}-scan")
        self.every(self.settings.regime_sample_ms / 1000, lambda n: RegimeSample(n=n), name=f"{self.link.name}-regime")

    def on_supervised_stop(self) -> None:
        self._save_scorecard(self.clock_ns(), force=True)

    # --- messages -------------------------------------------------------------------------------------------

    def handle(self, message: Any) -> Any:
        match message:
            case StateSnapshot():
                if not self.link.stop_requested.is_set():  # stopping: what is still queued is not worth a decision
                    self._on_snapshot(message)
            case Signal():
                self._take_signal(message)
            case ScanTick():
                if not self.link.stop_requested.is_set():
                    self._scan(self.clock_ns())
            case RegimeSample():
                if not self.link.stop_requested.is_set():
                    for symbol, reading in self.engine.sample_regimes(self.clock_ns()):
                        self._regime_changed(symbol, reading)
            case StrategyEnablementChanged():
                self.engine.set_enabled(message.strategy, message.enabled)
                self._publish_enabled()
            case StrategyFill():
                self._on_fill(message)
            case IntentDecided():
                self.engine.on_decided(message)
            case _:
                raise TypeError(f"{self.link.name}: unexpected message {type(message).__name__}")

    def _running(self) -> set[str]:
        return {name for name in self.weights if self.peer_state(strategy_child_name(name)) == "running"}

    def _on_snapshot(self, snapshot: StateSnapshot) -> None:
        if self.engine.on_snapshot(snapshot, self.clock_ns()):
            log.warning("%s: %s resync storm (%d book rebuilds within %gs); no intents for %gs", self.link.name, snapshot.symbol,
                        self.settings.resync_storm_count, self.settings.resync_storm_window_s, self.settings.resync_cooldown_s)
        switches, abandoned = self.engine.enabled, self.link.abandoned
        for name, slot in self.slots.items():
            if abandoned.is_set():  # replaced (hung) meanwhile: the strategies belong to the new scanner now
                return
            installed = slot.current()
            if installed is None or not installed.enabled or not switches.get(name, True) \
                    or self._failed.get(name) == installed.generation:
                continue
            slot.inside = installed.generation
            try:
                if installed.fault.take():
                    raise InjectedFault(f"fault injected into {strategy_child_name(name)} by the operator")
                signal = installed.strategy.on_snapshot(snapshot)
            except Exception as exc:  # noqa: BLE001 - the strategy is isolated; its actor and the supervisor take over
                self._strategy_failed(name, installed.generation, exc)
                continue
            finally:
                if slot.inside == installed.generation:
                    slot.inside = None
            self._take_signal(signal)
        if self.settings.decide_on_snapshot:  # decide now, not at the next scan tick (up to scan_interval_ms later)
            now = self.clock_ns()
            for intent in self.engine.scan(now, self._running(), only=snapshot.symbol).intents:
                self._emit(intent, now)

    def _take_signal(self, signal: Signal) -> None:
        if self.engine.on_signal(signal):
            self._counts["signals"] += 1
            key = (signal.strategy, signal.symbol)
            counter = self._signal_counters.get(key)
            if counter is None:
                counter = self._signal_counters[key] = self.metrics.signals.labels(strategy=signal.strategy, symbol=signal.symbol)
            counter.inc()
        if self.on_signal is not None:
            self.on_signal(signal)

    def _strategy_failed(self, name: str, generation: int, exc: Exception) -> None:
        self._failed[name] = generation
        self.metrics.strategy_errors.labels(strategy=name).inc()
        error = describe_error(exc)
        log.error("%s: strategy %s raised (%s); not called again until its actor restarts it", self.link.name, name, error)
        self.send(strategy_child_name(name), StrategyFailed(strategy=name, generation=generation, error=error))

    def _regime_changed(self, symbol: str, reading: RegimeReading) -> None:
        self.metrics.set_regime(symbol, reading.regime)
        log.debug("%s: %s regime %s (%s)", self.link.name, symbol, reading.regime,
                  " ".join(f"{k}={v}" for k, v in reading.features))
        try:
            route_store.set_symbol_regime(self.run_id, symbol, reading.regime)
        except Exception as exc:  # noqa: BLE001 - the regime is written again on its next change
            reset_thread_connection()
            log.error("%s: cannot store the regime of %s: %s", self.link.name, symbol, exc)

    def _on_fill(self, fill: StrategyFill) -> None:
        if fill.strategy not in self.weights:
            log.warning("%s: fill attributed to unknown strategy %r ignored; expected one of %s", self.link.name,
                        fill.strategy, ", ".join(self.weights))
            return
        try:
            if not route_store.insert_strategy_fill(self.run_id, fill):
                return  # seen before (same exec id): counted once
        except Exception as exc:  # noqa: BLE001 - still counted in memory; the window is rebuilt from storage on restart
            reset_thread_connection()
            log.error("%s: cannot store a fill of strategy %s: %s", self.link.name, fill.strategy, exc)
        pause = self.engine.on_fill(fill, self.clock_ns())
        assert self.engine.scorecard is not None
        for strategy, pnl in self.engine.scorecard.pnl_by_strategy().items():
            self.metrics.strategy_pnl.labels(strategy=strategy).set(float(pnl))
        if pause is None:
            return
        now = self.clock_ns()
        log.warning("%s: strategy %s paused by the scorecard: %s; `ctl enable-strategy %s` lifts it", self.link.name,
                    pause.strategy, pause.reason, pause.strategy)
        # The pause goes through the operator's own channel: persisted in strategy_settings by the supervisor,
        # audited as a control command (issued_by scorecard) and an actor event, shown by `ctl status`.
        repo.insert_control_command("disable-strategy", {"strategy": pause.strategy, "reason": pause.reason},
                                    issued_by="scorecard", now_ns=now, target_shard=self.shard)
        repo.record_actor_event(self.run_id, strategy_child_name(pause.strategy), "paused", pause.reason, now)
        self._publish_enabled()

    # --- scanning -------------------------------------------------------------------------------------------

    def _scan(self, now: int) -> None:
        result = self.engine.scan(now, self._running())
        self._counts["scans"] += 1
        self.metrics.scans.inc()
        self._count(result)
        for intent in result.intents:
            self._emit(intent, now)
        if now - self._last_summary_ns >= self.summary_interval_ns:
            self._summary(now)
        self._save_scorecard(now)

    def _count(self, result: ScanResult) -> None:
        for scanned in result.symbols:
            eligible = 0 if scanned.rejections else 1
            if self._eligible.get(scanned.symbol) != eligible:
                self._eligible[scanned.symbol] = eligible
                self.metrics.eligible.labels(symbol=scanned.symbol).set(eligible)
            for reason in scanned.rejections:
                self.metrics.rejections.labels(reason=reason).inc()
            if scanned.rejections != self._last_rejections.get(scanned.symbol, ()):
                self._last_rejections[scanned.symbol] = scanned.rejections
                log.debug("%s: %s %s", self.link.name, scanned.symbol,
                         f"ineligible: {', '.join(scanned.rejections)}" if scanned.rejections else "eligible")

    def _emit(self, intent: Intent, now: int) -> None:
        """Send the intent to the risk envelope, which stores it with its decision in one transaction (so an
        intent row never lacks its decision, and the tick-to-intent path holds no commit). An intent the risk
        envelope cannot take now (restarting, disabled) is stored here, so every emitted intent is on record."""
        self._counts["intents"] += 1
        self.metrics.intents.labels(symbol=intent.symbol, side=intent.side).inc()
        self.metrics.tick_to_intent.observe(max(0, now - intent.recv_ts_ns) / NS_PER_S)
        if self.send(self.risk_name, intent):
            log.info("%s", intent_line(intent))
            return
        try:
            intent_id = route_store.insert_intent(self.run_id, intent, state=intent.snapshot_state())
        except Exception as exc:  # noqa: BLE001 - counted and said; the risk envelope never saw it, so nothing went out
            reset_thread_connection()
            self.metrics.intents_not_stored.inc()
            log.error("%s: intent for %s neither decided (%s not running) nor stored: %s", self.link.name, intent.symbol,
                      self.risk_name, exc)
            return
        log.warning("%s: %s; %s not running, so it is stored undecided", self.link.name,
                    intent_line(dataclasses.replace(intent, intent_id=intent_id)), self.risk_name)

    def _summary(self, now: int) -> None:
        self._last_summary_ns = now
        eligible = sum(self._eligible.values())
        regimes = ",".join(f"{symbol}={self.engine.regime(symbol)}"
                           + (f"({'+'.join(self._last_rejections[symbol])})" if self._last_rejections.get(symbol) else "")
                           for symbol in self.symbols)
        running = self._running()
        off = [name for name in self.weights if name not in running or not self.engine.enabled.get(name, True)]
        log.info("scan: scans=%d signals=%d intents=%d eligible=%d/%d regimes %s strategies_off=%s",
                 self._counts["scans"], self._counts["signals"], self._counts["intents"], eligible, len(self.symbols),
                 regimes, ",".join(off) or "-")
        self._publish_enabled()

    def _publish_enabled(self) -> None:
        running = self._running()
        assert self.engine.scorecard is not None
        for name in self.weights:
            on = name in running and self.engine.enabled.get(name, True) and name not in self.engine.scorecard.paused
            self.metrics.strategy_enabled.labels(strategy=name).set(1 if on else 0)

    def _save_scorecard(self, now: int, *, force: bool = False) -> None:
        card = self.engine.scorecard
        assert card is not None
        if not card.dirty or (not force and now - self._last_scorecard_ns < self.settings.scorecard_write_interval_s * NS_PER_S):
            return
        self._last_scorecard_ns = now
        lines = [(strategy, symbol, {"signals": line.signals, "intents": line.intents, "trades": line.trades, "wins": line.wins,
                                     "realised_pnl_usd": line.realised_pnl_usd, "fees_usd": line.fees_usd})
                 for (strategy, symbol), line in card.lines.items()]
        try:
            route_store.save_scorecard(self.run_id, lines, now_ns=now)
            card.dirty = False
        except Exception as exc:  # noqa: BLE001 - kept in memory, stored on the next interval
            reset_thread_connection()
            log.error("%s: cannot store the scorecard: %s", self.link.name, exc)
