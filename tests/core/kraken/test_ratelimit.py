"""Kraken's REST call counter and per-pair trading counter as pure models (PROTOCOL.md §6.1, §6.2)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_runtime.core.kraken import ratelimit as rl
from kraken_runtime.core.kraken.ratelimit import RestCallCounter, TradingRateCounter

# ---- REST call counter ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "maximum", "decay"), [("starter", 15, 0.33), ("intermediate", 20, 0.5), ("pro", 20, 1.0)]
)
def test_rest_tiers_when_looked_up_then_match_documented_max_and_decay(tier, maximum, decay):
    assert rl.REST_TIERS[tier].max_counter == maximum
    assert rl.REST_TIERS[tier].decay_per_s == decay


@pytest.mark.parametrize(
    ("endpoint", "cost"),
    [
        ("Ledgers", 4),
        ("QueryLedgers", 4),
        ("TradesHistory", 4),
        ("QueryTrades", 4),
        ("AddOrder", 0),
        ("CancelOrder", 0),
        ("Balance", 1),
        ("OpenOrders", 1),
        ("CancelAll", 1),
        ("GetWebSocketsToken", 1),
    ],
)
def test_rest_call_cost_when_endpoint_given_then_matches_documented_cost(endpoint, cost):
    assert rl.rest_call_cost(endpoint) == cost


def test_try_acquire_when_counter_would_exceed_max_then_refuses_without_charging():
    counter = RestCallCounter("intermediate", now=0.0)
    assert all(counter.try_acquire(1, 0.0) for _ in range(20))
    assert not counter.try_acquire(1, 0.0)
    assert counter.level(0.0) == 20


def test_wait_time_when_counter_full_then_is_time_for_decay_to_make_room():
    counter = RestCallCounter("intermediate", now=0.0, initial_level=20)
    assert counter.wait_time(1, 0.0) == pytest.approx(2.0)  # 1 unit at 0.5/s
    assert counter.wait_time(4, 0.0) == pytest.approx(8.0)
    assert not counter.try_acquire(4, 7.9)
    assert counter.try_acquire(4, 8.0)


def test_wait_time_when_room_then_zero_and_when_cost_exceeds_max_then_infinite():
    counter = RestCallCounter("pro", now=0.0)
    assert counter.wait_time(4, 0.0) == 0.0
    assert math.isinf(counter.wait_time(21, 0.0))


def test_level_when_time_passes_then_decays_linearly_to_zero_per_tier():
    pro = RestCallCounter("pro", now=0.0, initial_level=10)
    assert pro.level(4.0) == pytest.approx(6.0)
    assert pro.level(100.0) == 0.0


def test_level_when_time_goes_backwards_then_no_decay_and_no_growth():
    counter = RestCallCounter("pro", now=10.0, initial_level=10)
    assert counter.level(5.0) == 10
    assert counter.level(12.0) == pytest.approx(8.0)


def test_saturate_when_kraken_reports_rate_limit_then_counter_is_full():
    counter = RestCallCounter("intermediate", now=0.0, initial_level=3)
    counter.saturate(0.0)
    assert counter.level(0.0) == 20
    assert counter.wait_time(1, 0.0) == pytest.approx(2.0)


def test_headroom_when_set_then_admits_less_than_the_documented_maximum():
    counter = RestCallCounter("intermediate", now=0.0, headroom=2)
    admitted = sum(counter.try_acquire(1, 0.0) for _ in range(30))
    assert admitted == 18
    with pytest.raises(ValueError):
        RestCallCounter("intermediate", headroom=20)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["starter", "intermediate", "pro"]),
    st.lists(st.tuples(st.floats(min_value=0, max_value=5), st.sampled_from([0, 1, 4])), max_size=80),
)
def test_try_acquire_when_any_sequence_of_calls_then_level_never_exceeds_limit(tier, steps):
    counter = RestCallCounter(tier, now=0.0)
    now = 0.0
    for gap, cost in steps:
        now += gap
        counter.try_acquire(cost, now)
        assert counter.level(now) <= counter.limit + 1e-9


# ---- trading rate counter ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "threshold", "decay", "max_open"),
    [("starter", 60, 1.0, 60), ("intermediate", 125, 2.34, 80), ("pro", 180, 3.75, 225)],
)
def test_trading_tiers_when_looked_up_then_match_documented_values(tier, threshold, decay, max_open):
    t = rl.TRADING_TIERS[tier]
    assert (t.threshold, t.decay_per_s, t.max_open_orders_per_pair) == (threshold, decay, max_open)


@pytest.mark.parametrize(
    ("age", "cancel", "amend", "edit"),
    [
        (0.0, 8, 4, 7),
        (4.999, 8, 4, 7),
        (5.0, 6, 3, 6),
        (9.9, 6, 3, 6),
        (10.0, 5, 2, 5),
        (14.9, 5, 2, 5),
        (15.0, 4, 1, 3),
        (44.9, 4, 1, 3),
        (45.0, 2, 1, 2),
        (89.9, 2, 1, 2),
        (90.0, 1, 1, 1),
        (299.9, 1, 1, 1),
        (300.0, 0, 1, 1),
        (10_000.0, 0, 1, 1),
    ],
)
def test_order_age_costs_when_age_crosses_each_bracket_then_penalty_steps_down(age, cancel, amend, edit):
    assert rl.cancel_order_cost(age) == cancel
    assert rl.amend_order_cost(age) == amend
    assert rl.edit_order_cost(age) == edit


def test_costs_when_documented_worked_example_then_total_is_eight():
    # add (+1), amend at 7 s (+1 fixed, +2), cancel 36 s later (order 43 s old: +4) = 8
    total = rl.add_order_cost() + rl.amend_order_cost(7) + rl.cancel_order_cost(7 + 36)
    assert total == 8


def test_batch_costs_when_n_orders_then_half_n_to_add_and_per_order_penalty_to_cancel():
    assert rl.batch_add_cost(15) == 7.5
    assert rl.batch_cancel_cost([1.0] * 3) == 24  # 8 * n
    assert rl.batch_cancel_cost([400.0] * 3) == 0
    with pytest.raises(ValueError):
        rl.batch_add_cost(0)
    with pytest.raises(ValueError):
        rl.cancel_order_cost(-1)


def test_trading_level_when_documented_decay_example_then_fifty_becomes_26_6_after_ten_seconds():
    counter = TradingRateCounter("intermediate")
    counter.charge("BTC/USD", 50, 0.0)
    assert counter.level("BTC/USD", 10.0) == pytest.approx(26.6)


def test_trading_counter_when_pairs_differ_then_counted_separately():
    counter = TradingRateCounter("starter")
    for _ in range(60):
        assert counter.try_acquire("BTC/USD", rl.add_order_cost(), 0.0)
    assert not counter.try_acquire("BTC/USD", 1, 0.0)
    assert counter.try_acquire("ETH/USD", 1, 0.0)
    assert counter.wait_time("BTC/USD", 1, 0.0) == pytest.approx(1.0)
    assert counter.try_acquire("BTC/USD", 1, 1.0)


def test_trading_counter_when_fresh_cancels_pile_up_then_waits_for_decay():
    counter = TradingRateCounter("starter")
    for _ in range(7):
        counter.charge("XRP/USD", rl.add_order_cost() + rl.cancel_order_cost(1.0), 0.0)  # 9 each
    assert counter.level("XRP/USD", 0.0) == 63  # over the 60 threshold already
    assert counter.wait_time("XRP/USD", 1, 0.0) == pytest.approx(4.0)


def test_trading_saturate_when_kraken_rejects_then_pair_is_at_threshold():
    counter = TradingRateCounter("pro")
    counter.saturate("BTC/USD", 0.0)
    assert counter.level("BTC/USD", 0.0) == 180
    assert counter.level("ETH/USD", 0.0) == 0


def test_forget_idle_when_counters_decayed_then_dropped():
    counter = TradingRateCounter("starter")
    counter.charge("A", 5, 0.0)
    counter.charge("B", 50, 0.0)
    assert counter.forget_idle(10.0) == 1
    assert counter.level("B", 10.0) == 40
