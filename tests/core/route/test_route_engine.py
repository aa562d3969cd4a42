"""RouteEngine, the scanner's pure core: snapshots and signals in, intents out, on an injected clock."""

from __future__ import annotations

from decimal import Decimal as D

from kraken_runtime.core.config import ScannerSettings
from kraken_runtime.core.messages import IntentDecided, Signal, StrategyFill
from kraken_runtime.core.route.engine import RouteEngine

from .conftest import T0

MS = 1_000_000
SETTINGS = ScannerSettings(regime_sample_ms=10, regime_min_samples=3, epoch_settle_ms=0, min_intent_interval_ms=1000)
WEIGHTS = {"imbalance": D(1), "momentum": D(1)}
RUNNING = {"imbalance", "momentum"}


def warm(engine: RouteEngine, make_snapshot, *, symbol: str = "BTC/USD", n: int = 5, start: int = T0):
    snap = None
    for i in range(n):
        snap = make_snapshot(symbol=symbol, seq=i + 1, ts_ns=start + i * 10 * MS)
        engine.on_snapshot(snap, snap.state_ts_ns)
        engine.sample_regimes(snap.state_ts_ns)  # the scanner's regime timer, every regime_sample_ms (10 here)
    return snap


def signal(snap, strategy: str = "imbalance", direction: int = 1, strength: str = "1") -> Signal:
    return Signal(strategy=strategy, symbol=snap.symbol, direction=direction, strength=D(strength), epoch=snap.epoch,
                  seq=snap.seq, state_ts_ns=snap.state_ts_ns, features=(("imbalance", "0.9"),))


def engine() -> RouteEngine:
    return RouteEngine(settings=SETTINGS, symbols=("BTC/USD", "ETH/USD"), weights=WEIGHTS)


def test_signals_on_an_eligible_calm_symbol_make_one_intent_per_interval(make_snapshot):
    e = engine()
    snap = warm(e, make_snapshot)
    assert e.regime("BTC/USD") == "calm"
    assert e.on_signal(signal(snap)) and not e.on_signal(signal(snap, "momentum", 0, "0"))
    now = snap.state_ts_ns + MS
    result = e.scan(now, RUNNING)
    (intent,) = result.intents
    assert (intent.symbol, intent.side, intent.score, intent.seq) == ("BTC/USD", "buy", D("0.5"), snap.seq)
    assert {s.symbol: s.rejections for s in result.symbols} == {"BTC/USD": (), "ETH/USD": ("no_snapshot",)}
    later = make_snapshot(seq=99, ts_ns=now + 500 * MS)
    e.on_snapshot(later, later.state_ts_ns)
    e.on_signal(signal(later))
    assert e.scan(later.state_ts_ns, RUNNING).intents == ()  # within min_intent_interval_ms
    last = make_snapshot(seq=100, ts_ns=now + 1000 * MS)
    e.on_snapshot(last, last.state_ts_ns)
    e.on_signal(signal(last))
    assert len(e.scan(last.state_ts_ns, RUNNING).intents) == 1
    line = e.scorecard.line("imbalance", "BTC/USD")
    assert (line.signals, line.intents) == (3, 2)


def test_signals_of_an_older_epoch_or_too_old_do_not_count(make_snapshot):
    e = engine()
    snap = warm(e, make_snapshot)
    stale = Signal(strategy="imbalance", symbol="BTC/USD", direction=1, strength=D(1), epoch=snap.epoch,
                   seq=1, state_ts_ns=snap.state_ts_ns - SETTINGS.signal_max_age_ms * MS - 1, features=())
    e.on_signal(stale)
    assert e.scan(snap.state_ts_ns, RUNNING).intents == ()
    e.on_signal(Signal(strategy="imbalance", symbol="BTC/USD", direction=1, strength=D(1), epoch=snap.epoch - 1,
                       seq=snap.seq, state_ts_ns=snap.state_ts_ns, features=()))
    assert e.scan(snap.state_ts_ns, RUNNING).intents == ()


def test_a_switched_off_or_not_running_strategy_neither_signals_nor_weighs(make_snapshot):
    e = engine()
    snap = warm(e, make_snapshot)
    e.on_signal(signal(snap, strength="0.3"))
    assert e.scan(snap.state_ts_ns, RUNNING).intents == ()  # 0.3 / 2 strategies = 0.15 < 0.2
    (intent,) = e.scan(snap.state_ts_ns, {"imbalance"}).intents  # momentum's actor is down: 0.3 / 1
    assert intent.score == D("0.3")
    e2 = engine()
    snap2 = warm(e2, make_snapshot)
    e2.on_signal(signal(snap2))
    e2.set_enabled("imbalance", False)
    assert e2.signals == {} and e2.scan(snap2.state_ts_ns, RUNNING).intents == ()
    assert e2.active(RUNNING) == {"momentum": D(1)}


def test_a_losing_trade_cools_the_symbol_down_an_opening_fee_does_not(make_snapshot):
    e = engine()
    snap = warm(e, make_snapshot)
    now = snap.state_ts_ns
    e.on_fill(StrategyFill(strategy="imbalance", symbol="BTC/USD", realised_pnl_usd=D(0), fee_usd=D("0.1"), ts_ns=now), now)
    e.on_signal(signal(snap))
    assert e.scan(now, RUNNING).symbols[0].rejections == ()
    e.on_fill(StrategyFill(strategy="imbalance", symbol="BTC/USD", realised_pnl_usd=D("-1"), fee_usd=D("0.1"), ts_ns=now), now)
    assert e.scan(now + MS, RUNNING).symbols[0].rejections == ("loss_cooldown",)


def test_rejected_intents_throttle_the_symbol(make_snapshot):
    e = engine()
    snap = warm(e, make_snapshot)
    for i in range(4):
        e.on_decided(IntentDecided(intent_id=i, symbol="BTC/USD", accepted=False, reason="max_exposure", ts_ns=T0))
    e.on_signal(signal(snap))
    (scanned, _) = e.scan(snap.state_ts_ns, RUNNING).symbols
    assert scanned.decision is not None and scanned.decision.skipped == "throttled"


def test_a_restart_seeds_epochs_and_decides_nothing_without_a_fresh_snapshot(make_snapshot):
    e = engine()
    e.seed([{"symbol": "BTC/USD", "epoch": 7, "regime": "trending"}, {"symbol": "NOPE/USD", "epoch": 1}])
    assert e.scan(T0, RUNNING).symbols[0].rejections == ("no_snapshot",)
    snap = make_snapshot(epoch=7, ts_ns=T0)
    assert not e.on_snapshot(snap, T0)
    assert e.sample_regimes(T0)[0][0] == "BTC/USD"  # the stored regime is replaced when measured
    assert e.regime("BTC/USD") == "unknown"


def test_the_regime_is_sampled_on_the_timer_from_the_latest_snapshot_not_per_snapshot(make_snapshot):
    e = engine()
    for i in range(50):  # 50 snapshots, 1 ms apart, no timer: no regime sample at all
        e.on_snapshot(make_snapshot(seq=i + 1, ts_ns=T0 + i * MS), T0 + i * MS)
    assert e.regime("BTC/USD") == "unknown" and e._symbols["BTC/USD"].regime.samples == 0
    assert e.sample_regimes(T0 + 50 * MS) == []  # one sample: still unknown (3 needed), nothing changed
    assert e.sample_regimes(T0 + 60 * MS) == []  # the same snapshot again: a silent feed adds no sample
    assert e._symbols["BTC/USD"].regime.samples == 1
    for k in (2, 3):
        snap = make_snapshot(seq=100 + k, ts_ns=T0 + (50 + 10 * k) * MS)
        e.on_snapshot(snap, snap.state_ts_ns)
        changed = e.sample_regimes(snap.state_ts_ns)
    assert [(symbol, reading.regime) for symbol, reading in changed] == [("BTC/USD", "calm")]


def test_a_scan_of_one_symbol_decides_that_symbol_only(make_snapshot):
    e = engine()
    btc = warm(e, make_snapshot)
    eth = warm(e, make_snapshot, symbol="ETH/USD")
    e.on_signal(signal(btc))
    e.on_signal(signal(eth))
    result = e.scan(eth.state_ts_ns + MS, RUNNING, only="ETH/USD")  # ETH's fresh snapshot (scanner.decide_on_snapshot)
    assert [s.symbol for s in result.symbols] == ["ETH/USD"] and [i.symbol for i in result.intents] == ["ETH/USD"]
    assert e.scan(eth.state_ts_ns + MS, RUNNING, only="ETH/USD").intents == ()  # never two from one snapshot
    assert [i.symbol for i in e.scan(eth.state_ts_ns + MS, RUNNING).intents] == ["BTC/USD"]  # the timer's scan: the rest
