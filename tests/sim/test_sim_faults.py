"""Fault knobs end to end, injected through the admin HTTP API and seen by Kraken clients: venue_status,
reject_orders, ack_latency, rate_limit, price_shock, spread_blowout (drop_connections, stall_feed and
corrupt_checksum are in test_sim_rest_admin_cli.py)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import requests

from kraken_runtime.core.kraken.ratelimit import RestTier
from kraken_runtime.sim_server.app import start_sim


@pytest.fixture(scope="module")
def sim():
    handle = start_sim(symbols=("BTC/USD", "ETH/USD", "XRP/USD"), seed=17,
                       rest_tier=RestTier(name="test", max_counter=10_000, decay_per_s=10))
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def clean(sim):
    yield
    requests.delete(sim.endpoints["admin"] + "/faults", timeout=5)


def inject(sim, **spec) -> str:
    answer = requests.post(sim.endpoints["admin"] + "/faults", json=spec, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def limit_buy(sim, private, *, post: bool = False, validate: bool = True) -> dict:
    bids, _ = sim.call(sim.exchange.book, "BTC/USD", 1)
    params = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01",
              "price": str(bids[0][0] - Decimal("100"))}
    if post:
        params["oflags"] = "post"
    if validate:
        params["validate"] = "true"
    return private(sim, "AddOrder", params)


def spread(sim, symbol: str) -> tuple[Decimal, Decimal]:
    bids, asks = sim.call(sim.exchange.book, symbol, 1)
    return (bids[0][0] + asks[0][0]) / 2, asks[0][0] - bids[0][0]


@pytest.mark.parametrize("status, refused, post_only_ok", [
    ("cancel_only", "EService:Market in cancel_only mode", False),
    ("post_only", "EService:Market in post_only mode", True),
    ("maintenance", "EService:Unavailable", False),
])
def test_venue_status_then_status_channel_system_status_and_orders_follow(sim, connect, private, status, refused,
                                                                         post_only_ok):
    client = connect(sim.endpoints["ws_public"])
    client.wait_for(lambda m: m.get("channel") == "status")
    inject(sim, fault="venue_status", status=status)
    pushed = client.wait_for(lambda m: m.get("channel") == "status")
    assert pushed["data"][0]["system"] == status
    assert requests.get(sim.endpoints["rest"] + "/0/public/SystemStatus", timeout=5).json()["result"]["status"] == status
    assert limit_buy(sim, private)["error"] == [refused]
    assert (limit_buy(sim, private, post=True)["error"] == []) is post_only_ok
    requests.delete(sim.endpoints["admin"] + "/faults", timeout=5)
    assert client.wait_for(lambda m: m.get("channel") == "status")["data"][0]["system"] == "online"
    assert limit_buy(sim, private)["error"] == []


def test_reject_orders_then_exactly_count_orders_get_the_error(sim, private):
    inject(sim, fault="reject_orders", count=2, error="EOrder:Insufficient funds")
    assert [limit_buy(sim, private)["error"] for _ in range(3)] == [["EOrder:Insufficient funds"]] * 2 + [[]]


def test_ack_latency_then_trading_replies_come_late_and_other_calls_do_not(sim, private):
    inject(sim, fault="ack_latency", ms=400, seconds=30)
    started = time.monotonic()
    assert limit_buy(sim, private)["error"] == []
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    assert private(sim, "Balance")["error"] == []
    assert time.monotonic() - started < 0.4


def test_rate_limit_then_next_count_calls_get_kraken_rate_limit_errors(sim, private):
    inject(sim, fault="rate_limit", count=2)
    assert private(sim, "Balance")["error"] == ["EAPI:Rate limit exceeded"]
    assert limit_buy(sim, private)["error"] == ["EOrder:Rate limit exceeded"]
    assert private(sim, "Balance")["error"] == []


def test_price_shock_then_the_price_moves_by_about_pct_and_comes_back(sim):
    before, _ = spread(sim, "ETH/USD")
    inject(sim, fault="price_shock", symbol="ETH/USD", pct=10, seconds=1.5)
    end = time.monotonic() + 10
    peak = before
    while peak < before * Decimal("1.08"):
        assert time.monotonic() < end, f"price did not jump: {before} -> {peak}"
        peak = max(peak, spread(sim, "ETH/USD")[0])
    while spread(sim, "ETH/USD")[0] > before * Decimal("1.05"):
        assert time.monotonic() < end + 10, "price did not come back"


def test_spread_blowout_then_the_spread_widens_by_about_factor(sim):
    quiet = sorted(spread(sim, "BTC/USD")[1] for _ in range(5))[2]
    tick = Decimal("0.1")
    inject(sim, fault="spread_blowout", symbol="BTC/USD", factor=20, seconds=3)
    end = time.monotonic() + 10
    while spread(sim, "BTC/USD")[1] < max(quiet, tick) * 8:
        assert time.monotonic() < end, f"spread did not widen from {quiet}"
