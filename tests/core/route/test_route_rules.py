"""Filters, regimes, throttling, scoring and the scorecard as pure rules on constructed states."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kraken_runtime.core.config import ScannerSettings
from kraken_runtime.core.messages import Signal, StrategyFill
from kraken_runtime.core.route import filters as f
from kraken_runtime.core.route.filters import SymbolGuard, rejections
from kraken_runtime.core.route.regime import (CALM, ILLIQUID, REGIMES, TRENDING, UNKNOWN, VOLATILE, RegimeReading, RegimeTracker, classify,
                                             efficiency_ratio, settle)
from kraken_runtime.core.route.scorecard import Scorecard
from kraken_runtime.core.route.scoring import Weighted, combined_score, decide, limit_price, style_for
from kraken_runtime.core.route.throttle import RejectRate, throttle

from .conftest import T0

MS = 1_000_000
S = 1_000_000_000
SETTINGS = ScannerSettings()


def settled(snapshot, settings=SETTINGS) -> SymbolGuard:
    guard = SymbolGuard()
    guard.observe(snapshot, snapshot.state_ts_ns - settings.epoch_settle_ms * MS, settings)
    return guard


# --- filters ---------------------------------------------------------------------------------------------


def test_fresh_ready_settled_symbol_is_eligible(make_snapshot):
    snap = make_snapshot()
    assert rejections(snap, settled(snap), T0, SETTINGS, symbol="BTC/USD") == ()


def test_no_snapshot_and_not_ready_are_rejected(make_snapshot):
    assert rejections(None, SymbolGuard(), T0, SETTINGS, symbol="BTC/USD") == (f.NO_SNAPSHOT,)
    snap = make_snapshot(status="resyncing")
    assert f.NOT_READY in rejections(snap, settled(snap), T0, SETTINGS, symbol="BTC/USD")


def test_stale_state_boundary(make_snapshot):
    snap = make_snapshot()
    guard = settled(snap)
    at_limit = T0 + SETTINGS.max_state_age_ms * MS
    assert f.STALE not in rejections(snap, guard, at_limit, SETTINGS, symbol="BTC/USD")
    assert f.STALE in rejections(snap, guard, at_limit + 1, SETTINGS, symbol="BTC/USD")


def test_new_epoch_waits_to_settle(make_snapshot):
    snap = make_snapshot(epoch=1)
    guard = settled(snap)
    rebuilt = make_snapshot(epoch=2, ts_ns=T0 + S)
    guard.observe(rebuilt, T0 + S, SETTINGS)
    assert f.EPOCH_UNSETTLED in rejections(rebuilt, guard, T0 + S + SETTINGS.epoch_settle_ms * MS - 1, SETTINGS, symbol="BTC/USD")
    assert rejections(rebuilt, guard, T0 + S + SETTINGS.epoch_settle_ms * MS, SETTINGS, symbol="BTC/USD") == ()
    # a snapshot from an epoch the guard has not seen is not settled either
    assert f.EPOCH_UNSETTLED in rejections(make_snapshot(epoch=3), guard, T0 + 10 * S, SETTINGS, symbol="BTC/USD")


def test_spread_bound(make_snapshot):
    settings = ScannerSettings(max_spread_bps=D(10))
    at = make_snapshot(bid="100", ask="100.1")  # 9.995 bps
    wide = make_snapshot(bid="100", ask="100.2")
    assert f.SPREAD not in rejections(at, settled(at, settings), T0, settings, symbol="BTC/USD")
    assert f.SPREAD in rejections(wide, settled(wide, settings), T0, settings, symbol="BTC/USD")


def test_depth_bound(make_snapshot):
    snap = make_snapshot(bid_qty="1", ask_qty="1", levels=1)  # ~100 USD a side
    assert f.DEPTH in rejections(snap, settled(snap), T0, SETTINGS, symbol="BTC/USD")
    ok = ScannerSettings(min_depth_usd=D(100))
    assert f.DEPTH not in rejections(snap, settled(snap, ok), T0, ok, symbol="BTC/USD")


def test_l3_quality_only_where_level3_runs(make_snapshot):
    none = make_snapshot(l3_quality=None)
    low = make_snapshot(l3_quality="0.49")
    at = make_snapshot(l3_quality="0.5")
    assert f.L3_QUALITY not in rejections(none, settled(none), T0, SETTINGS, symbol="BTC/USD")
    assert f.L3_QUALITY in rejections(low, settled(low), T0, SETTINGS, symbol="BTC/USD")
    assert f.L3_QUALITY not in rejections(at, settled(at), T0, SETTINGS, symbol="BTC/USD")


def test_venue_not_online_and_disabled_symbol_are_rejected(make_snapshot):
    snap = make_snapshot(venue_status="cancel_only")
    assert f.VENUE in rejections(snap, settled(snap), T0, SETTINGS, symbol="BTC/USD")
    settings = ScannerSettings(disabled_symbols=("BTC/USD",))
    ok = make_snapshot()
    assert rejections(ok, settled(ok, settings), T0, settings, symbol="BTC/USD") == (f.SYMBOL_DISABLED,)


def test_loss_cooldown(make_snapshot):
    snap = make_snapshot()
    guard = settled(snap)
    guard.loss(T0, SETTINGS)
    assert f.LOSS_COOLDOWN in rejections(snap, guard, T0, SETTINGS, symbol="BTC/USD")
    later = T0 + int(SETTINGS.loss_cooldown_s * S)
    assert f.LOSS_COOLDOWN not in rejections(make_snapshot(ts_ns=later), guard, later, SETTINGS, symbol="BTC/USD")


def test_resync_storm_starts_a_cooldown(make_snapshot):
    settings = ScannerSettings(resync_storm_count=3, resync_storm_window_s=60, resync_cooldown_s=120)
    guard = SymbolGuard()
    guard.observe(make_snapshot(epoch=1), T0, settings)
    assert not guard.observe(make_snapshot(epoch=2), T0 + S, settings)
    assert not guard.observe(make_snapshot(epoch=3), T0 + 2 * S, settings)
    assert guard.observe(make_snapshot(epoch=4), T0 + 3 * S, settings)
    now = T0 + 10 * S
    assert f.RESYNC_COOLDOWN in rejections(make_snapshot(epoch=4, ts_ns=now), guard, now, settings, symbol="BTC/USD")
    after = T0 + 3 * S + 120 * S
    assert f.RESYNC_COOLDOWN not in rejections(make_snapshot(epoch=4, ts_ns=after), guard, after, settings, symbol="BTC/USD")


def test_epoch_changes_spread_out_are_no_storm(make_snapshot):
    settings = ScannerSettings(resync_storm_count=3, resync_storm_window_s=60)
    guard = SymbolGuard()
    guard.observe(make_snapshot(epoch=1), T0, settings)
    for i in range(2, 8):
        assert not guard.observe(make_snapshot(epoch=i), T0 + i * 40 * S, settings)


# --- regime ----------------------------------------------------------------------------------------------


def test_classify_order_and_boundaries():
    s = ScannerSettings()
    base = dict(samples=s.regime_min_samples, spread_ratio=D(1), depth_ratio=D(1), vol_ratio=D(1), efficiency=D("0.1"), settings=s)
    assert classify(**{**base, "samples": s.regime_min_samples - 1}) == UNKNOWN
    assert classify(**base) == CALM
    assert classify(**{**base, "efficiency": s.regime_trend_efficiency}) == TRENDING
    assert classify(**{**base, "vol_ratio": s.regime_volatile_ratio}) == VOLATILE
    assert classify(**{**base, "vol_ratio": s.regime_volatile_ratio - D("0.01")}) == CALM
    assert classify(**{**base, "spread_ratio": s.regime_illiquid_spread_ratio}) == ILLIQUID
    assert classify(**{**base, "depth_ratio": s.regime_illiquid_depth_ratio}) == ILLIQUID
    assert classify(**{**base, "depth_ratio": s.regime_illiquid_depth_ratio + D("0.01")}) == CALM
    # illiquid beats volatile beats trending
    assert classify(**{**base, "spread_ratio": D(9), "vol_ratio": D(9), "efficiency": D(1)}) == ILLIQUID
    assert classify(**{**base, "vol_ratio": D(9), "efficiency": D(1)}) == VOLATILE
    assert set(REGIMES) == {UNKNOWN, CALM, TRENDING, VOLATILE, ILLIQUID}


def test_efficiency_ratio():
    assert efficiency_ratio([D(1), D(2), D(3)]) == 1
    assert efficiency_ratio([D(1), D(2), D(1)]) == 0
    assert efficiency_ratio([D(1)]) is None
    assert efficiency_ratio([D(1), D(1)]) == 0


# the measures alone: no confirmation, no margin (hysteresis is tested on its own below)
RAW = ScannerSettings(regime_confirm_samples=1, regime_hysteresis=D(0))


def _track(tracker: RegimeTracker, make_snapshot, mids, *, spread="0.02", qty="50", start_i=0):
    reading = tracker.reading
    for i, mid in enumerate(mids, start=start_i):
        m = D(mid)
        half = D(spread) / 2
        reading = tracker.observe(make_snapshot(bid=str(m - half), ask=str(m + half), bid_qty=qty, ask_qty=qty,
                                                ts_ns=T0 + i * SETTINGS.regime_sample_ms * MS))
    return reading


def test_regime_tracker_unknown_then_calm_then_trending(make_snapshot):
    tracker = RegimeTracker(RAW)
    zigzag = [str(D(100) + (D("0.01") if i % 2 else 0)) for i in range(30)]
    assert _track(tracker, make_snapshot, zigzag[:5]).regime == UNKNOWN
    assert _track(tracker, make_snapshot, zigzag[5:], start_i=5).regime == CALM
    rising = [str(D(100) + D("0.01") * i) for i in range(1, 80)]
    reading = _track(tracker, make_snapshot, rising, start_i=30)
    assert reading.regime == TRENDING and dict(reading.features)["trend_efficiency"] == "1.0000"


def test_regime_tracker_volatile_and_illiquid(make_snapshot):
    tracker = RegimeTracker(RAW)
    calm = [str(D(100) + (D("0.01") if i % 2 else 0)) for i in range(200)]
    _track(tracker, make_snapshot, calm)
    wild = [str(D(100) + (D("0.2") if i % 2 else 0)) for i in range(10)]
    assert _track(tracker, make_snapshot, wild, start_i=200).regime == VOLATILE
    thin = RegimeTracker(RAW)
    _track(thin, make_snapshot, calm[:40])
    assert _track(thin, make_snapshot, calm[:2], spread="0.2", start_i=40).regime == CALM  # one or two wide ticks: noise
    assert _track(thin, make_snapshot, calm[:1], spread="0.2", start_i=42).regime == ILLIQUID  # most of the latest five
    shallow = RegimeTracker(RAW)
    _track(shallow, make_snapshot, calm[:40])
    assert _track(shallow, make_snapshot, calm[:3], qty="5", start_i=40).regime == ILLIQUID


def test_classify_hysteresis_margin_at_its_boundaries():
    s = ScannerSettings(regime_hysteresis=D("0.1"))
    base = dict(samples=s.regime_min_samples, spread_ratio=D(1), depth_ratio=D(1), vol_ratio=D(1), efficiency=D("0.1"), settings=s)
    e, v = s.regime_trend_efficiency, s.regime_volatile_ratio  # 0.4, 2
    sp, dp = s.regime_illiquid_spread_ratio, s.regime_illiquid_depth_ratio  # 2.5, 0.4
    # entering needs the full threshold, from any other regime
    assert classify(**{**base, "efficiency": e - D("0.0001")}, current=CALM) == CALM
    assert classify(**{**base, "efficiency": e * D("0.9")}, current=VOLATILE) == CALM
    # staying: down to (1 - margin) x the threshold, not below
    assert classify(**{**base, "efficiency": e * D("0.9")}, current=TRENDING) == TRENDING
    assert classify(**{**base, "efficiency": e * D("0.9") - D("0.0001")}, current=TRENDING) == CALM
    assert classify(**{**base, "vol_ratio": v * D("0.9")}, current=VOLATILE) == VOLATILE
    assert classify(**{**base, "vol_ratio": v * D("0.9") - D("0.0001")}, current=VOLATILE) == CALM
    assert classify(**{**base, "vol_ratio": v * D("0.9")}, current=CALM) == CALM
    assert classify(**{**base, "spread_ratio": sp * D("0.9")}, current=ILLIQUID) == ILLIQUID
    assert classify(**{**base, "spread_ratio": sp * D("0.9") - D("0.0001")}, current=ILLIQUID) == CALM
    assert classify(**{**base, "depth_ratio": dp * D("1.1")}, current=ILLIQUID) == ILLIQUID
    assert classify(**{**base, "depth_ratio": dp * D("1.1") + D("0.0001")}, current=ILLIQUID) == CALM
    assert classify(**{**base, "depth_ratio": dp * D("1.1")}, current=CALM) == CALM
    # no margin: the plain thresholds whatever holds
    none = ScannerSettings(regime_hysteresis=D(0))
    assert classify(**{**base, "settings": none, "efficiency": e - D("0.0001")}, current=TRENDING) == CALM
    # too few samples: unknown whatever holds
    assert classify(**{**base, "samples": s.regime_min_samples - 1, "efficiency": D(1)}, current=TRENDING) == UNKNOWN


def test_settle_confirms_a_change_on_its_nth_consecutive_sample():
    assert settle(CALM, None, CALM, 3) == (CALM, None)
    assert settle(CALM, None, TRENDING, 3) == (CALM, (TRENDING, 1))
    assert settle(CALM, (TRENDING, 1), TRENDING, 3) == (CALM, (TRENDING, 2))
    assert settle(CALM, (TRENDING, 2), TRENDING, 3) == (TRENDING, None)  # the 3rd in a row
    assert settle(CALM, (TRENDING, 2), VOLATILE, 3) == (CALM, (VOLATILE, 1))  # another candidate starts over
    assert settle(CALM, (TRENDING, 2), CALM, 3) == (CALM, None)  # back to the current one: the count is gone
    assert settle(CALM, None, TRENDING, 1) == (TRENDING, None)  # 1: at once
    assert settle(UNKNOWN, None, CALM, 3) == (CALM, None)  # leaving unknown: nothing to confirm against
    assert settle(TRENDING, (CALM, 2), UNKNOWN, 3) == (UNKNOWN, None)  # too few samples again: at once


def test_a_regime_hovering_at_a_threshold_does_not_flicker(make_snapshot):
    """Efficiency alternating just above and just below the trend threshold: without hysteresis the regime
    flips on every sample; with the defaults (3 samples, 10 % margin) it changes once and holds."""
    def run(settings):
        tracker = RegimeTracker(settings)
        regimes = []
        for i in range(120):
            # a walk of +2 ticks then -1 tick: efficiency over the lookback hovers around 1/3 .. 0.5
            mid = D(100) + D("0.01") * (i // 3 * 1 + (2 if i % 3 == 1 else 1 if i % 3 == 2 else 0))
            tracker.observe(make_snapshot(bid=str(mid - D("0.01")), ask=str(mid + D("0.01")), seq=i + 1,
                                          ts_ns=T0 + i * settings.regime_sample_ms * MS))
            regimes.append(tracker.regime)
        return [r for r, prev in zip(regimes[1:], regimes) if r != prev]

    lookback = dict(regime_sample_ms=100, regime_min_samples=10, regime_trend_lookback_s=1.0, regime_history_s=60.0,
                    regime_trend_efficiency=D("0.33"))
    flips_raw = run(ScannerSettings(**lookback, regime_confirm_samples=1, regime_hysteresis=D(0)))
    flips = run(ScannerSettings(**lookback))
    assert len(flips_raw) > 4
    assert len(flips) < len(flips_raw) and len(flips) <= 2


def test_regime_sample_skips_a_snapshot_no_newer_than_the_last_one(make_snapshot):
    tracker = RegimeTracker(RAW)
    snap = make_snapshot(ts_ns=T0)
    tracker.sample(snap, T0)
    tracker.sample(snap, T0 + RAW.regime_sample_ms * MS)  # the timer fires again, the feed said nothing new
    assert tracker.samples == 1
    tracker.sample(make_snapshot(ts_ns=T0 + MS, seq=2), T0 + 2 * RAW.regime_sample_ms * MS)
    assert tracker.samples == 2


# --- throttle --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("regime", "factor"), [(CALM, D(1)), (TRENDING, D(1)), (VOLATILE, D("0.5")), (ILLIQUID, D(0)), (UNKNOWN, D(0))])
def test_throttle_by_regime(regime, factor):
    assert throttle(regime=regime, reference_fresh=True, reject_ratio=None, settings=SETTINGS).factor == factor


def test_throttle_stale_reference_and_reject_rates():
    assert throttle(regime=CALM, reference_fresh=False, reject_ratio=None, settings=SETTINGS).factor == D("0.75")
    assert throttle(regime=CALM, reference_fresh=True, reject_ratio=D("0.19"), settings=SETTINGS).factor == 1
    assert throttle(regime=CALM, reference_fresh=True, reject_ratio=D("0.2"), settings=SETTINGS).factor == D("0.5")
    assert throttle(regime=CALM, reference_fresh=True, reject_ratio=D("0.5"), settings=SETTINGS).factor == 0
    assert throttle(regime=VOLATILE, reference_fresh=False, reject_ratio=D("0.3"), settings=SETTINGS).factor == D("0.1875")


def test_reject_rate_over_a_window():
    rate = RejectRate(4)
    assert rate.ratio() is None
    for accepted in (True, False, True, True, False):
        rate.record(accepted)
    assert rate.ratio() == D("0.5")  # the last four: F T T F


# --- scoring ---------------------------------------------------------------------------------------------


def sig(strategy: str, direction: int, strength: str, snap) -> Signal:
    return Signal(strategy=strategy, symbol=snap.symbol, direction=direction, strength=D(strength), epoch=snap.epoch,
                  seq=snap.seq, state_ts_ns=snap.state_ts_ns, features=(("x", "1"), ("min_x", "0.5")))


CALM_READING = RegimeReading(regime=CALM, features=(("samples", "30"),))


def test_combined_score_normalises_by_every_active_weight(make_snapshot):
    snap = make_snapshot()
    signals = [Weighted(signal=sig("a", 1, "1", snap), weight=D(1)), Weighted(signal=sig("b", -1, "0.5", snap), weight=D(2))]
    assert combined_score(signals, D(4)) == D(0)
    assert combined_score(signals[:1], D(4)) == D("0.25")
    assert combined_score(signals, D(0)) == D(0)


def test_style_boundaries():
    assert style_for(D("0.49"), SETTINGS) == "maker"
    assert style_for(D("0.5"), SETTINGS) == "hybrid"
    assert style_for(D("-0.8"), SETTINGS) == "taker"


def test_limit_prices_by_style(make_snapshot):
    snap = make_snapshot(bid="100.00", ask="100.02")
    assert limit_price("buy", "maker", snap, SETTINGS) == D("100.00")
    assert limit_price("sell", "maker", snap, SETTINGS) == D("100.02")
    assert limit_price("buy", "hybrid", snap, SETTINGS) == D("100.02")
    assert limit_price("buy", "taker", snap, SETTINGS) == D("100.07")  # 100.02 + 5 bps = 100.07001 -> down
    assert limit_price("sell", "taker", snap, SETTINGS) == D("99.95")


def _decide(snap, signals, total=D(2), factor="1"):
    limits = throttle(regime=CALM, reference_fresh=True, reject_ratio=None, settings=SETTINGS)
    if factor != "1":
        limits = limits.__class__(factor=D(factor), reasons=limits.reasons)
    return decide(snapshot=snap, signals=signals, total_weight=total, throttle=limits, regime=CALM_READING,
                  settings=SETTINGS, now_ns=T0 + 5 * MS)


def test_decide_makes_an_explained_intent_tied_to_its_snapshot(make_snapshot):
    snap = make_snapshot(epoch=3, seq=99)
    signals = [Weighted(signal=sig("imbalance", 1, "0.8", snap), weight=D(1)),
               Weighted(signal=sig("momentum", 1, "0.4", snap), weight=D(1)),
               Weighted(signal=sig("premium_gap", -1, "0.2", snap), weight=D(1))]
    decision = _decide(snap, signals, total=D(3))
    intent = decision.intent
    assert intent is not None and decision.score == D("0.3333")
    assert (intent.side, intent.style, intent.epoch, intent.seq, intent.state_ts_ns) == ("buy", "maker", 3, 99, T0)
    assert intent.limit_price == D("100") and intent.size == (D("33.33") / D("100")).quantize(D("0.00000001"))
    assert intent.strategies == ("imbalance", "momentum")
    reasons = dict(intent.reasons)
    assert reasons["score"] == "0.3333" and reasons["min_score"] == "0.2000" and reasons["regime"] == "calm"
    assert reasons["imbalance"].startswith("buy strength=0.8000") and reasons["imbalance.min_x"] == "0.5"
    assert reasons["premium_gap"].startswith("sell") and reasons["state.epoch"] == "3"
    assert intent.expires_at_ns == T0 + 5 * MS + SETTINGS.intent_ttl_ms * MS


def test_decide_below_score_and_throttled_give_nothing(make_snapshot):
    snap = make_snapshot()
    weak = [Weighted(signal=sig("imbalance", 1, "0.39", snap), weight=D(1))]
    assert _decide(snap, weak).skipped == "below_score"
    at = [Weighted(signal=sig("imbalance", 1, "0.4", snap), weight=D(1))]
    assert _decide(snap, at).intent is not None
    assert _decide(snap, at, factor="0").skipped == "throttled"
    assert _decide(snap, []).skipped == "below_score"


def test_throttle_shrinks_the_size(make_snapshot):
    snap = make_snapshot()
    signals = [Weighted(signal=sig("imbalance", -1, "1", snap), weight=D(1))]
    full = _decide(snap, signals).intent
    half = _decide(snap, signals, factor="0.5").intent
    assert full is not None and half is not None and full.side == "sell"
    assert half.size * 2 == full.size


# --- scorecard -------------------------------------------------------------------------------------------


def fill(strategy: str, pnl: str, fee: str = "0.1", symbol: str = "BTC/USD") -> StrategyFill:
    return StrategyFill(strategy=strategy, symbol=symbol, realised_pnl_usd=D(pnl), fee_usd=D(fee), ts_ns=T0)


def test_scorecard_trades_are_fills_that_realise_pnl_charged_with_the_fees_since_the_last_one():
    card = Scorecard(ScannerSettings(scorecard_trades=10))
    card.signal("momentum", "BTC/USD")
    card.intent(("momentum", "imbalance"), "BTC/USD")
    assert card.fill(fill("momentum", "0", fee="0.2")) == (None, None)  # opens a position: no trade yet
    assert card.fill(fill("momentum", "1")) == (D("0.7"), None)  # closes it: 1 - 0.1 - the opening 0.2
    assert card.fill(fill("momentum", "-0.5")) == (D("-0.6"), None)
    line = card.line("momentum", "BTC/USD")
    assert (line.signals, line.intents, line.trades, line.wins) == (1, 1, 2, 1)
    assert line.net_pnl_usd == D("0.1") and line.fees_usd == D("0.4") and line.hit_rate == D("0.5")
    assert card.pnl_by_strategy() == {"momentum": D("0.1"), "imbalance": D(0)}


def test_scorecard_pauses_on_negative_expectancy_over_a_full_window_only():
    card = Scorecard(ScannerSettings(scorecard_trades=3))
    assert card.fill(fill("momentum", "-1"))[1] is None
    assert card.weight_factor("momentum") == D("0.5")  # poor record before the window is full
    assert card.fill(fill("momentum", "-1"))[1] is None
    net, pause = card.fill(fill("momentum", "1.5"))
    assert net == D("1.4") and pause is not None and pause.strategy == "momentum"
    assert "expectancy after fees -0.2667 USD per trade over the last 3 trades" in pause.reason
    assert card.fill(fill("momentum", "-1"))[1] is None  # already paused: one pause, not one per fill
    card.lift("momentum")
    assert "momentum" not in card.paused and card.expectancy("momentum") is None


def test_scorecard_expectancy_at_the_minimum_is_not_paused_and_a_seeded_window_is_judged_alike():
    card = Scorecard(ScannerSettings(scorecard_trades=2))
    card.fill(fill("imbalance", "0.1"))
    assert card.fill(fill("imbalance", "0.1"))[1] is None  # net 0 == minimum 0
    card.seed("imbalance", [(D("0"), D("0.5")), (D("-1"), D("0")), (D("0.2"), D("0.1"))])  # trades: -1.5, 0.1
    assert card.expectancy("imbalance") == D("-0.7")
    assert card.pause_due("imbalance") is not None


def _reference_reading(mids, spreads, depths, settings):
    """The regime's measures recomputed from scratch over the whole sample list (what the tracker keeps
    incrementally), for the latest sample at its index; samples `regime_sample_ms` apart."""
    from kraken_runtime.core.route.history import median, returns_bps, rms
    n = len(mids)
    recent_len = min(n, int(settings.regime_trend_lookback_s * 1000) // settings.regime_sample_ms + 1)
    k = n - recent_len  # older prefix
    spread_ratio = median(spreads[-5:]) / median(spreads[:k] if k >= settings.regime_min_samples else spreads)
    depth_ratio = median(depths[-5:]) / median(depths[:k] if k >= settings.regime_min_samples else depths)
    recent, older = mids[k:], mids[:k + 1]
    vol_recent = rms(returns_bps(recent))
    vol_before = rms(returns_bps(older)) if len(older) > settings.regime_min_samples else None
    vol_ratio = vol_recent / vol_before if vol_recent is not None and vol_before else None
    return spread_ratio, depth_ratio, vol_ratio, efficiency_ratio(recent)


def test_the_incremental_measures_equal_a_full_recomputation_including_expiry(make_snapshot):
    import random

    from kraken_runtime.core.route.history import text

    settings = ScannerSettings(regime_sample_ms=100, regime_history_s=3.0, regime_trend_lookback_s=1.0, regime_min_samples=5,
                               regime_confirm_samples=1)
    rnd = random.Random(7)
    tracker = RegimeTracker(settings)
    mids, spreads, depths = [], [], []
    mid = D(100)
    history = int(settings.regime_history_s * 1000) // settings.regime_sample_ms + 1  # samples within the history
    for i in range(200):  # 200 samples: the 3 s history expires many times over
        mid += D(rnd.choice([-2, -1, 0, 1, 2])) * D("0.01")
        spread, qty = D("0.02") * rnd.choice([1, 1, 2, 5]), rnd.choice(["5", "50", "50"])
        snap = make_snapshot(bid=str(mid - spread / 2), ask=str(mid + spread / 2), bid_qty=qty, ask_qty=qty, seq=i + 1,
                             ts_ns=T0 + i * settings.regime_sample_ms * MS)
        reading = tracker.observe(snap)
        mids.append(snap.mid)
        spreads.append(snap.spread_bps)
        depths.append(min(snap.depth_bid, snap.depth_ask))
        mids, spreads, depths = mids[-history:], spreads[-history:], depths[-history:]
        if len(mids) < settings.regime_min_samples:
            continue
        expected = [text(value) for value in _reference_reading(mids, spreads, depths, settings)]
        features = dict(reading.features)
        assert [features[name] for name in ("spread_ratio", "depth_ratio", "volatility_ratio", "trend_efficiency")] == expected, i
        assert features["samples"] == str(len(mids))
