"""Each strategy's pure signal on constructed states: fires on its pattern, silent otherwise, boundaries included."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kraken_runtime.core.config import ImbalanceSettings, MomentumSettings, PremiumGapSettings, SpreadCompressionSettings
from kraken_runtime.core.signals import STRATEGY_NAMES, build_strategy
from kraken_runtime.core.signals.imbalance import imbalance_signal
from kraken_runtime.core.signals.momentum import MomentumStrategy, adaptive_lookback_s
from kraken_runtime.core.signals.premium_gap import premium_gap_signal
from kraken_runtime.core.signals.spread_compression import SpreadCompressionStrategy, spread_compression_signal

MS = 1_000_000


def features(signal) -> dict[str, str]:
    return dict(signal.features)


# --- imbalance --------------------------------------------------------------------------------------------


def test_imbalance_when_bids_outweigh_asks_then_buy(make_snapshot):
    signal = imbalance_signal(make_snapshot(bid_qty="95", ask_qty="5"), ImbalanceSettings())
    assert (signal.direction, signal.strength) == (1, D("1"))
    assert D(features(signal)["imbalance"]) > D("0.8") and features(signal)["min_imbalance"] == "0.3000"


def test_imbalance_when_asks_outweigh_bids_then_sell_with_partial_strength(make_snapshot):
    signal = imbalance_signal(make_snapshot(bid_qty="25", ask_qty="75"), ImbalanceSettings())
    # imbalance ~ -0.5: (0.5 - 0.3) / (0.8 - 0.3) = 0.4, give or take the prices' weights
    assert signal.direction == -1 and D("0.35") < signal.strength < D("0.45")


def test_imbalance_when_balanced_then_no_view(make_snapshot):
    signal = imbalance_signal(make_snapshot(), ImbalanceSettings())
    assert (signal.direction, signal.strength) == (0, D(0))


def test_imbalance_at_exactly_the_threshold_fires_and_just_below_does_not(make_snapshot):
    one_level = dict(levels=1, bid="100", ask="100.01")
    # bid notional 100 x 65 = 6500, ask 100.01 x 35 ~ 3500.35: imbalance just under 0.3
    below = imbalance_signal(make_snapshot(bid_qty="65", ask_qty="35", **one_level), ImbalanceSettings())
    assert below.direction == 0
    threshold = D(features(below)["imbalance"]) - D("0.0001")
    at = imbalance_signal(make_snapshot(bid_qty="65", ask_qty="35", **one_level), ImbalanceSettings(min_imbalance=threshold))
    assert at.direction == 1 and at.strength > 0


def test_imbalance_counts_only_depth_within_the_window(make_snapshot):
    bids = ((D("100"), D("10")), (D("99"), D("1000")))  # the big bid is 100 bps away
    asks = ((D("100.01"), D("10")),)
    signal = imbalance_signal(make_snapshot(bids=bids, asks=asks), ImbalanceSettings(window_bps=D(10)))
    assert signal.direction == 0
    wide = imbalance_signal(make_snapshot(bids=bids, asks=asks), ImbalanceSettings(window_bps=D(200)))
    assert wide.direction == 1


def test_imbalance_when_a_side_is_empty_then_no_view(make_snapshot):
    snap = make_snapshot()
    empty = imbalance_signal(snap.__class__(**{**{f: getattr(snap, f) for f in snap.__slots__}, "asks": (), "mid": None}),
                             ImbalanceSettings())
    assert empty.direction == 0 and features(empty)["imbalance"] == "unknown"


# --- spread compression ----------------------------------------------------------------------------------


def _spread_history(n: int = 30, spread_bps: str = "10") -> list[D]:
    return [D(spread_bps)] * n


def test_spread_compression_when_spread_halves_and_microprice_leans_up_then_buy(make_snapshot):
    # spread 0.05 on 100 = 5 bps against a median of 10: compression 0.5; less size on the ask: leans up
    snap = make_snapshot(bid="100", ask="100.05", bid_qty="90", ask_qty="10")
    signal = spread_compression_signal(snap, _spread_history(), SpreadCompressionSettings())
    assert signal.direction == 1 and D("0.45") < signal.strength < D("0.55")
    assert features(signal)["median_spread_bps"] == "10.0000"


def test_spread_compression_leaning_down_then_sell(make_snapshot):
    snap = make_snapshot(bid="100", ask="100.05", bid_qty="10", ask_qty="90")
    assert spread_compression_signal(snap, _spread_history(), SpreadCompressionSettings()).direction == -1


def test_spread_compression_when_spread_is_usual_or_microprice_centred_then_no_view(make_snapshot):
    usual = make_snapshot(bid="100", ask="100.1", bid_qty="90", ask_qty="10")  # ~10 bps
    assert spread_compression_signal(usual, _spread_history(), SpreadCompressionSettings()).direction == 0
    centred = make_snapshot(bid="100", ask="100.05")  # equal sizes
    assert spread_compression_signal(centred, _spread_history(), SpreadCompressionSettings()).direction == 0


def test_spread_compression_needs_min_samples(make_snapshot):
    snap = make_snapshot(bid="100", ask="100.05", bid_qty="90", ask_qty="10")
    settings = SpreadCompressionSettings(min_samples=20)
    assert spread_compression_signal(snap, _spread_history(19), settings).direction == 0
    assert spread_compression_signal(snap, _spread_history(20), settings).direction == 1


def test_spread_compression_strategy_keeps_history_per_symbol_sampled(make_snapshot):
    strategy = SpreadCompressionStrategy(SpreadCompressionSettings(min_samples=3, sample_ms=100))
    for i in range(3):
        assert strategy.on_snapshot(make_snapshot(bid="100", ask="100.1", ts_ns=i * 100 * MS)).direction == 0
    fired = strategy.on_snapshot(make_snapshot(bid="100", ask="100.03", bid_qty="90", ask_qty="10", ts_ns=300 * MS))
    assert fired.direction == 1
    other = strategy.on_snapshot(make_snapshot(symbol="ETH/USD", bid="100", ask="100.03", bid_qty="90", ask_qty="10"))
    assert other.direction == 0  # no history for ETH/USD yet
    strategy.reset("BTC/USD")
    assert strategy.on_snapshot(make_snapshot(bid="100", ask="100.03", bid_qty="90", ask_qty="10", ts_ns=400 * MS)).direction == 0


# --- momentum --------------------------------------------------------------------------------------------


def _feed(strategy: MomentumStrategy, mids: list[str], make_snapshot, step_ms: int = 250):
    signal = None
    for i, mid in enumerate(mids):
        m = D(mid)
        signal = strategy.on_snapshot(make_snapshot(bid=str(m - D("0.01")), ask=str(m + D("0.01")), ts_ns=i * step_ms * MS))
    return signal


def _zigzag(n: int, start: D = D(100), amplitude: D = D("0.02")) -> list[str]:
    return [str(start + (amplitude if i % 2 else 0)) for i in range(n)]


def test_momentum_when_price_trends_up_after_noise_then_buy(make_snapshot):
    strategy = MomentumStrategy(MomentumSettings())
    mids = _zigzag(40) + [str(D(100) + D("0.02") * i) for i in range(1, 41)]
    signal = _feed(strategy, mids, make_snapshot)
    assert signal.direction == 1 and signal.strength > 0, features(signal)


def test_momentum_when_price_trends_down_then_sell(make_snapshot):
    strategy = MomentumStrategy(MomentumSettings())
    mids = _zigzag(40) + [str(D(100) - D("0.02") * i) for i in range(1, 41)]
    assert _feed(strategy, mids, make_snapshot).direction == -1


def test_momentum_when_price_only_oscillates_then_no_view(make_snapshot):
    strategy = MomentumStrategy(MomentumSettings())
    assert _feed(strategy, _zigzag(80), make_snapshot).direction == 0


def test_momentum_needs_min_samples(make_snapshot):
    strategy = MomentumStrategy(MomentumSettings(min_samples=20))
    rising = [str(D(100) + D("0.05") * i) for i in range(19)]
    assert _feed(strategy, rising, make_snapshot).direction == 0


def test_momentum_lookback_shortens_as_volatility_rises():
    settings = MomentumSettings(base_lookback_s=10, min_lookback_s=2, max_lookback_s=60, reference_volatility_bps=D(1))
    assert adaptive_lookback_s(D(1), settings) == 10
    assert adaptive_lookback_s(D(2), settings) == 5
    assert adaptive_lookback_s(D(100), settings) == 2  # bounded below
    assert adaptive_lookback_s(D("0.01"), settings) == 60  # bounded above
    assert adaptive_lookback_s(D(0), settings) == 60


# --- premium gap -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("premium", "direction"), [("5", -1), ("-5", 1), ("3", -1), ("2.9999", 0), ("0", 0)])
def test_premium_gap_direction_and_threshold(make_snapshot, premium, direction):
    assert premium_gap_signal(make_snapshot(premium_bps=premium), PremiumGapSettings(min_gap_bps=D(3))).direction == direction


def test_premium_gap_when_reference_is_stale_then_silent_never_zero(make_snapshot):
    signal = premium_gap_signal(make_snapshot(premium_bps=None), PremiumGapSettings())
    assert signal.direction == 0
    assert features(signal)["premium_bps"] == "unknown" and features(signal)["reference"] == "stale or missing"


def test_premium_gap_strength_full_at_full_gap(make_snapshot):
    assert premium_gap_signal(make_snapshot(premium_bps="-40"), PremiumGapSettings()).strength == 1


# --- registry ------------------------------------------------------------------------------------------


def test_every_known_strategy_builds_and_an_unknown_one_is_refused_listing_the_known():
    from kraken_runtime.core.config import StrategiesSettings
    sections = StrategiesSettings().named()
    assert tuple(sections) == STRATEGY_NAMES
    for name in STRATEGY_NAMES:
        assert build_strategy(name, sections[name]).name == name
    with pytest.raises(ValueError, match="unknown strategy 'regime'; expected one of imbalance, spread_compression"):
        build_strategy("regime", None)


def test_signal_carries_the_snapshot_epoch_seq_and_state_time(make_snapshot):
    snap = make_snapshot(epoch=7, seq=42, ts_ns=123, bid_qty="90", ask_qty="10")
    signal = imbalance_signal(snap, ImbalanceSettings())
    assert (signal.epoch, signal.seq, signal.state_ts_ns, signal.symbol) == (7, 42, 123, "BTC/USD")


def test_imbalance_averages_in_the_l3_order_count_imbalance_where_level3_runs(make_snapshot):
    balanced_depth = make_snapshot()  # L2 imbalance 0
    crowd = make_snapshot(l3_orders_bid=9, l3_orders_ask=1)  # order counts 0.8 toward the bids
    assert imbalance_signal(balanced_depth, ImbalanceSettings()).direction == 0
    signal = imbalance_signal(crowd, ImbalanceSettings())
    assert signal.direction == 1 and features(signal)["l3_order_imbalance"] == "0.8000"
    assert abs(D(features(signal)["l2_imbalance"])) < D("0.001")  # equal sizes, asks a cent higher
    assert abs(D(features(signal)["imbalance"]) - D("0.4")) < D("0.001")
    against = imbalance_signal(make_snapshot(bid_qty="95", ask_qty="5", l3_orders_bid=1, l3_orders_ask=9), ImbalanceSettings())
    assert against.direction == 0  # heavy bid depth from one order against a crowd of asks: no view
    no_l3 = imbalance_signal(make_snapshot(bid_qty="95", ask_qty="5"), ImbalanceSettings())
    assert features(no_l3)["l3_order_imbalance"] == "unknown" and no_l3.direction == 1
