"""Route engine scenarios on the local exchange's scripted market: the real feeds, state holders, strategies
and scanner under the real supervisor, the market driven through phases by the admin API, a tap recording
every signal the strategies make (on the scanner's thread) and a probe standing in for the risk envelope.
Conditions are awaited with deadlines, never sleeps; the local exchange binds 127.0.0.1 on a free port."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import pykka
import pytest

from kraken_runtime.actors.base import PeriodicTimer
from kraken_runtime.actors.directory import Directory
from kraken_runtime.actors.ingest import ingest_child_specs
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.actors.metrics import RuntimeMetrics
from kraken_runtime.actors.route import route_child_specs
from kraken_runtime.actors.route_metrics import RouteMetrics
from kraken_runtime.actors.supervisor import SupervisorActor, SupervisorConfig
from kraken_runtime.actors.supervisor_store import DatabaseStore
from kraken_runtime.core import control as ctl
from kraken_runtime.core.config import Secrets, load_settings
from kraken_runtime.core.messages import ApplyControl, GetStatus, Intent, Signal, StartChildren, StopChildren, SupervisorTick
from kraken_runtime.core.supervision import Backoff, RestartBudget
from kraken_runtime.market import open_market
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database

class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.signals: list[tuple[float, Signal]] = []
        self.intents: list[tuple[float, Intent]] = []

    def add(self, item: Any) -> None:
        with self.lock:
            if isinstance(item, Signal):
                self.signals.append((time.monotonic(), item))
            else:
                self.intents.append((time.monotonic(), item))

    def signals_of(self, strategy: str, *, since: float = 0.0, until: float = float("inf"), direction: int | None = None) -> list[Signal]:
        with self.lock:
            return [s for t, s in self.signals if since <= t <= until and s.strategy == strategy
                    and (s.direction != 0 if direction is None else s.direction == direction)]

    def intents_for(self, symbol: str, *, since: float = 0.0, until: float = float("inf")) -> list[Intent]:
        with self.lock:
            return [i for t, i in self.intents if since <= t <= until and i.symbol == symbol]


class RegimeLog(RouteMetrics):
    """The route metrics, also keeping every regime the scanner sets, with its time (a poll of the gauge
    could miss a short-lived reading)."""

    def __init__(self, registry: Any) -> None:
        super().__init__(registry)
        self.lock = threading.Lock()
        self.readings: list[tuple[float, str, str]] = []

    def set_regime(self, symbol: str, regime: str) -> None:
        with self.lock:
            self.readings.append((time.monotonic(), symbol, regime))
        super().set_regime(symbol, regime)

    def seen(self, symbol: str, regime: str, *, since: float = 0.0) -> bool:
        with self.lock:
            return any(t >= since and s == symbol and r == regime for t, s, r in self.readings)


class RiskProbe(pykka.ThreadingActor):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Intent):
            self.recorder.add(message)


def scenario_settings(symbols: tuple[str, ...], *, scanner: dict[str, Any] | None = None,
                      strategies: dict[str, Any] | None = None, reference_max_age_ms: int = 5000):
    scan = dict(scan_interval_ms=50, epoch_settle_ms=500, regime_sample_ms=100, regime_min_samples=10,
                regime_trend_lookback_s=3.0, min_intent_interval_ms=300, scorecard_write_interval_s=1.0)
    scan.update(scanner or {})
    return load_settings(overrides={
        "runtime": {"symbols": list(symbols), "status_interval_s": 1.0},
        "feed": {"idle_timeout_ms": 3000, "reconnect_initial_ms": 50, "reconnect_max_ms": 500},
        "state": {"snapshot_interval_ms": 50, "write_interval_ms": 100, "stale_after_ms": 1500},
        "reference": {"max_age_ms": reference_max_age_ms},
        "scanner": scan,
        "strategies": strategies or {"spread_compression": {"min_samples": 10, "sample_ms": 100},
                                     "momentum": {"min_samples": 10, "sample_ms": 100, "base_lookback_s": 2.0, "min_lookback_s": 1.0,
                                                  "max_lookback_s": 5.0}},
    })


class Pipeline:
    def __init__(self, settings, run_id: int) -> None:
        self.settings = settings
        self.run_id = run_id
        self.source = open_market(settings, Secrets())
        runtime_metrics = RuntimeMetrics()
        self.registry = runtime_metrics.registry
        self.directory = Directory(runtime_metrics)
        self.recorder = Recorder()
        self.directory.register("risk")
        self.directory.attach("risk", RiskProbe.start(self.recorder))
        budget = RestartBudget(max_restarts=3, period_s=60)
        backoff = Backoff(initial_s=0.05, max_s=0.2, jitter_ratio=0.0)
        specs = ingest_child_specs(settings, run_id=run_id, source=self.source, send=self.directory.send,
                                   send_latest=self.directory.send_latest, metrics=IngestMetrics(self.registry), budget=budget,
                                   backoff=backoff, version="test", scanner_name="scanner", peer_state=self.directory.state)
        self.regimes = RegimeLog(self.registry)
        specs += route_child_specs(settings, run_id=run_id, send=self.directory.send, send_latest=self.directory.send_latest,
                                   peer_state=self.directory.state, metrics=self.regimes, budget=budget,
                                   backoff=backoff, on_signal=self.recorder.add)
        self.supervisor = SupervisorActor.start(
            specs=specs, directory=self.directory, metrics=runtime_metrics, store=DatabaseStore(run_id=run_id, shard="default"),
            config=SupervisorConfig(heartbeat_interval_s=0.5, heartbeat_deadline_s=10, run_id=run_id))
        self.supervisor.ask(StartChildren(), timeout=30)
        self.sweeper = PeriodicTimer(0.05, self.supervisor, lambda _n: SupervisorTick(), name="test-sweep", max_pending=3)
        self.sweeper.start()

    def admin(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.source.sim.endpoints["admin"] + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def script(self, symbol: str, *phases: dict[str, Any]) -> float:
        answer = self.admin("POST", "/script", {"symbol": symbol, "phases": list(phases)})
        assert answer["symbol"] == symbol and answer["current"] == phases[0]["phase"], answer
        return time.monotonic()

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def regime_is(self, symbol: str, regime: str) -> bool:
        return self.value("krt_regime", symbol=symbol, regime=regime) == 1

    def child_state(self, name: str) -> str:
        doc = self.supervisor.ask(GetStatus(), timeout=5)
        return next(child["state"] for child in doc["children"] if child["name"] == name)

    def stop(self) -> None:
        self.sweeper.stop()
        if self.supervisor.is_alive():
            self.supervisor.ask(StopChildren(deadline_s=10), timeout=20)
            self.supervisor.stop(timeout=10)
        self.source.stop()


@pytest.fixture(autouse=True)
def stop_all_actors():
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=5)



@pytest.fixture
def pipeline(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'route.db'}")
    started: list[Pipeline] = []

    def start(settings) -> Pipeline:
        run_id = repo.start_run(mode="paper", market="sim", shard="default", config_hash="t", version="test", hostname="h",
                                pid=1, now_ns=time.time_ns())
        started.append(Pipeline(settings, run_id))
        return started[-1]

    yield start
    for running in started:
        running.stop()
    close_database(db)


def test_each_strategy_fires_on_its_pattern_and_momentum_follows_the_trend(pipeline, wait_until):
    p = pipeline(scenario_settings(("BTC/USD",), strategies={
        "spread_compression": {"min_samples": 10, "sample_ms": 100},
        "momentum": {"min_samples": 10, "sample_ms": 100, "base_lookback_s": 2.0, "min_lookback_s": 1.0, "max_lookback_s": 5.0},
        "premium_gap": {"min_gap_bps": 1, "full_gap_bps": 10}}))  # the local reference venue quotes 2 bps off Kraken
    rec = p.recorder
    for strategy in ("imbalance", "spread_compression", "premium_gap"):  # the unscripted flow has these patterns
        wait_until(lambda strategy=strategy: rec.signals_of(strategy), timeout=30, what=f"{strategy} signals on the normal flow")

    up = p.script("BTC/USD", {"phase": "trending", "seconds": 6, "drift_bps_per_s": 15})
    wait_until(lambda: len(rec.signals_of("momentum", since=up, direction=1)) >= 5, timeout=10, what="momentum buys in the up-trend")
    wait_until(lambda: time.monotonic() > up + 6, timeout=10, what="the up-trend over")
    assert rec.signals_of("momentum", since=up + 2, until=up + 6, direction=-1) == []  # never against the trend

    down = p.script("BTC/USD", {"phase": "trending", "seconds": 6, "drift_bps_per_s": -15})
    wait_until(lambda: len(rec.signals_of("momentum", since=down, direction=-1)) >= 5, timeout=10, what="momentum sells in the down-trend")
    wait_until(lambda: time.monotonic() > down + 6, timeout=10, what="the down-trend over")
    assert rec.signals_of("momentum", since=down + 2, until=down + 6, direction=1) == []

    frozen = p.script("BTC/USD", {"phase": "frozen", "seconds": 3})
    wait_until(lambda: time.monotonic() > frozen + 3, timeout=10, what="the freeze over")
    # a still price: no momentum (the book itself may be served again by a resubscribe, so the book-shape
    # strategies may still have a view of it)
    assert rec.signals_of("momentum", since=frozen + 1, until=frozen + 3) == []


def history(rec: Recorder) -> int:
    """Mids the momentum strategy has sampled (every 100 ms here): how much market history the run has."""
    with rec.lock:
        return max((int(dict(s.features)["samples"]) for _, s in rec.signals if s.strategy == "momentum"), default=0)


def test_a_volatile_regime_halves_the_size(pipeline, wait_until):
    # a volatile market thins the book near the mid too: the depth yardstick is loosened so that the
    # volatility, not the thin book, is what this scenario measures
    p = pipeline(scenario_settings(("BTC/USD",), scanner={"regime_illiquid_depth_ratio": 0.2}))
    rec = p.recorder
    wait_until(lambda: rec.intents_for("BTC/USD"), timeout=40, what="intents on the normal flow")
    wait_until(lambda: history(rec) >= 60, timeout=40, what="a calm history to measure volatility against")
    volatile = p.script("BTC/USD", {"phase": "volatile", "seconds": 10, "volatility_scale": 6})
    wait_until(lambda: p.regimes.seen("BTC/USD", "volatile", since=volatile), timeout=10, what="BTC/USD volatile")
    wait_until(lambda: time.monotonic() > volatile + 10, timeout=15, what="the volatile phase over")
    for intent in rec.intents_for("BTC/USD", since=volatile):
        reasons = dict(intent.reasons)
        if reasons["regime"] == "volatile":
            assert reasons["throttle.regime"] == "0.5000"
            assert intent.size * intent.limit_price <= 50  # half of scanner.intent_notional_usd at most


def test_an_illiquid_regime_makes_no_intents(pipeline, wait_until):
    p = pipeline(scenario_settings(("BTC/USD",)))
    rec = p.recorder
    wait_until(lambda: rec.intents_for("BTC/USD"), timeout=40, what="intents on the normal flow")
    start = p.script("BTC/USD", {"phase": "illiquid", "seconds": 8, "spread_factor": 40})
    wait_until(lambda: p.regimes.seen("BTC/USD", "illiquid", since=start) or p.value("krt_symbol_eligible", symbol="BTC/USD") == 0,
               timeout=8, what="BTC/USD illiquid (or ruled out by its spread)")
    seen = time.monotonic()
    wait_until(lambda: time.monotonic() > start + 8, timeout=12, what="the illiquid phase over")
    during = rec.intents_for("BTC/USD", since=seen + 0.1, until=start + 7)
    assert during == [], [(dict(i.reasons)["regime"], {k: v for k, v in i.reasons if k.startswith(("regime.", "state.spread"))}) for i in during]
    assert all(dict(i.reasons)["regime"] != "illiquid" for i in rec.intents_for("BTC/USD"))


def test_frozen_and_disabled_symbols_produce_nothing(pipeline, wait_until):
    # the scanner calls a silent symbol stale (1 s) before its state holder resubscribes (1.5 s); the
    # resubscribes that follow are a resync storm (3 within a minute)
    p = pipeline(scenario_settings(("BTC/USD", "ETH/USD"), scanner={"disabled_symbols": ["ETH/USD"], "max_state_age_ms": 1000}))
    rec = p.recorder
    wait_until(lambda: rec.intents_for("BTC/USD"), timeout=40, what="BTC/USD intents")
    wait_until(lambda: p.value("krt_filter_rejections_total", reason="symbol_disabled") > 10, timeout=5, what="ETH/USD ruled out")
    frozen = p.script("BTC/USD", {"phase": "frozen", "seconds": 7})
    wait_until(lambda: p.value("krt_symbol_eligible", symbol="BTC/USD") == 0, timeout=5, what="frozen BTC/USD stale")
    stale_at = time.monotonic()
    wait_until(lambda: p.value("krt_filter_rejections_total", reason="resync_cooldown") > 0, timeout=12,
               what="the resubscribes of a silent book taken for a resync storm")
    wait_until(lambda: time.monotonic() > frozen + 8, timeout=10, what="the freeze over and the book moving again")
    assert rec.intents_for("BTC/USD", since=stale_at) == []  # stale, then resyncing, then cooling down
    assert p.value("krt_filter_rejections_total", reason="stale") > 0
    assert rec.intents_for("ETH/USD") == []
    assert rec.signals_of("imbalance") and any(s.symbol == "ETH/USD" for s in rec.signals_of("imbalance"))  # watched, never traded


def test_a_stale_reference_silences_premium_gap_and_the_others_go_on(pipeline, wait_until):
    p = pipeline(scenario_settings(("BTC/USD",), reference_max_age_ms=1000, strategies={
        "premium_gap": {"min_gap_bps": 1, "full_gap_bps": 10}}))
    rec = p.recorder
    wait_until(lambda: rec.signals_of("premium_gap"), timeout=30, what="premium_gap signals while the reference is fresh")
    result = p.supervisor.ask(ApplyControl(command=ctl.InjectFault(actor="feed:reference", times=1000)), timeout=5)
    assert result.status == "applied"
    wait_until(lambda: p.child_state("feed:reference") == "disabled", timeout=15, what="the reference feed disabled")
    gone = time.monotonic()
    wait_until(lambda: len(rec.signals_of("imbalance", since=gone + 2)) >= 5, timeout=15, what="imbalance going on")
    assert rec.signals_of("premium_gap", since=gone + 1.5) == []  # unknown premium: no view, never a zero premium
    quiet = [s for s in rec.signals_of("premium_gap", since=gone + 1.5, direction=0)]
    assert quiet and all(dict(s.features)["premium_bps"] == "unknown" for s in quiet)
    for intent in rec.intents_for("BTC/USD", since=gone + 1.5):
        assert dict(intent.reasons)["throttle.reference"] == "0.7500"
