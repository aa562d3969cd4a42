"""The executor's kraken venue (live) and shadow venue against the local exchange's authenticated REST API, with
its faults (reject_orders, venue_status, ack_latency, rate_limit); the start-up preflight against a key without
trading permission. Real risk envelope and executor actors, a real database (SQLite and PostgreSQL); the book
each decision sees is the exchange's own depth. Waits are conditions with deadlines."""

from __future__ import annotations

import functools

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from kraken_runtime.actors.execution import ExecutionSetupError, live_preflight, sim_instrument_rules, sim_rest_pairs
from kraken_runtime.core.config import load_settings
from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.core.messages import SafetyModeRequested
from kraken_runtime.storage import execution as store
from tests import waiting
from tests.integration.live_fixtures import (  # noqa: F401 - fixtures used by name
    SYMBOL, LiveSystem, rest_client, sim, stop_all_actors)

wait_until = functools.partial(waiting.wait_until, timeout=15.0, interval=0.02)


@pytest.fixture
def live(sim: Any, db_url: str) -> Iterator[LiveSystem]:
    system = LiveSystem(sim, db_url, mode="live")
    yield system
    system.close()


def exchange_orders(sim: Any, cl_ord_id: str) -> list[Any]:
    with rest_client(sim) as rest:
        found = [o for o in rest.open_orders(cl_ord_id=cl_ord_id) if o.cl_ord_id == cl_ord_id]
        return found + [o for o in rest.closed_orders(cl_ord_id=cl_ord_id).orders if o.cl_ord_id == cl_ord_id]


def test_live_taker_order_is_sent_once_and_its_fills_are_stored_by_executed_volume(live: LiveSystem) -> None:
    assert live.taker("buy").approved
    [order] = wait_until(lambda: live.orders_else_tick("filled"), what="a filled order")
    fills = store.fills(live.run_id)
    assert fills and sum(f["qty"] for f in fills) == order["qty"]
    assert all(f["exec_id"].startswith(order["exchange_order_id"] + "-") for f in fills)  # <txid>-<executed volume>
    assert len(exchange_orders(live.sim, order["client_order_id"])) == 1  # sent exactly once
    assert order["exchange_order_id"] == exchange_orders(live.sim, order["client_order_id"])[0].txid


def test_live_rejections_by_the_exchange_are_stored_and_a_burst_moves_to_reduce_only(live: LiveSystem) -> None:
    live.sim.inject_fault({"fault": "reject_orders", "count": 3, "error": "EOrder:Insufficient funds"})
    for _ in range(3):
        live.taker("buy")
    rejected = [o for o in live.orders() if o["status"] == "rejected"]
    assert len(rejected) == 3 and all(o["last_error"] == "EOrder:Insufficient funds" for o in rejected)
    wait_until(lambda: any(isinstance(r, SafetyModeRequested) and r.mode == "reduce_only" for r in live.reports),
               what="reduce_only requested by the error burst")


def test_live_post_only_venue_refuses_a_taker_order_and_it_is_stored_rejected(live: LiveSystem) -> None:
    live.sim.inject_fault({"fault": "venue_status", "status": "post_only"})
    live.taker("buy")
    [order] = live.orders()
    assert order["status"] == "rejected" and "post_only" in order["last_error"]


def test_live_rate_limited_order_is_rejected_not_retried(live: LiveSystem) -> None:
    live.sim.inject_fault({"fault": "rate_limit", "count": 1})
    live.taker("buy")
    [order] = live.orders()
    assert order["status"] == "rejected" and "Rate limit" in order["last_error"]
    assert exchange_orders(live.sim, order["client_order_id"]) == []


def test_live_clean_stop_with_the_rest_counter_spent_still_records_the_fill_of_an_unpolled_order(live: LiveSystem) -> None:
    """The key's REST counter spent at stop time (a restart storm, the CI failure of 2026-12-03): the executor's
    cancel and its look at the final status are refused, and it tries again within its stop budget instead of
    leaving a filled order `new` with the fill unrecorded."""
    assert live.taker_unpolled("buy").approved
    [sent] = wait_until(lambda: [o for o in live.orders() if o["exchange_order_id"]], what="the order acknowledged")
    assert sent["status"] == "new" and sent["filled_qty"] == 0  # filled at the exchange; not looked at yet
    live.sim.inject_fault({"fault": "rate_limit", "count": 3})  # the stop's cancel and settle are refused
    live.refs["executor"].stop(timeout=30)
    [order] = live.orders()
    [at_exchange] = exchange_orders(live.sim, order["client_order_id"])
    assert at_exchange.status == "closed" and at_exchange.vol_exec > 0
    assert order["status"] == "filled" and order["filled_qty"] == at_exchange.vol_exec
    assert sum(f["qty"] for f in store.fills(live.run_id)) == at_exchange.vol_exec


def test_live_slow_ack_leaves_the_order_unknown_then_resolves_it_by_cl_ord_id_without_sending_it_twice(sim: Any, db_url: str) -> None:
    system = LiveSystem(sim, db_url, mode="live", venue_timeout_s=0.5)
    try:
        sim.inject_fault({"fault": "ack_latency", "ms": 1500, "seconds": 30})
        system.taker("buy")
        [order] = system.orders()
        assert order["status"] == "unknown"
        second = system.taker("buy")  # nothing new goes out while an outcome is unknown
        assert second.approved and len(system.orders()) == 1
        sim.clear_faults()
        [done] = wait_until(lambda: system.orders_else_tick("filled", "expired", "canceled"), timeout=30, what="the unknown order resolved by its cl_ord_id")
        [at_exchange] = exchange_orders(sim, order["client_order_id"])  # placed once, found, never re-sent
        assert done["exchange_order_id"] == at_exchange.txid and done["filled_qty"] == at_exchange.vol_exec
    finally:
        system.close()


def test_shadow_orders_are_validated_by_the_exchange_stored_and_never_placed(sim: Any, db_url: str) -> None:
    system = LiveSystem(sim, db_url, mode="shadow")
    try:
        assert system.taker("buy").approved
        [order] = system.orders()
        assert order["status"] == "expired" and order["exchange_order_id"] == "VALIDATED"
        assert "shadow: validated" in order["last_error"]
        assert exchange_orders(sim, order["client_order_id"]) == [] and store.fills(system.run_id) == []
        [event] = store.risk_events(system.run_id)
        assert event["decision"] in ("accepted", "resized")  # resized: rounded to the pair's tick
    finally:
        system.close()


# --- preflight: a key without trading permission --------------------------------------------------------------


class _NoTradingKey(BaseHTTPRequestHandler):
    """Kraken's private endpoints for a key with Query Funds only."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/Balance"):
            body = {"error": [], "result": {"ZUSD": "1000.0000", "XXBT": "0.1000000000"}}
        else:
            body = {"error": ["EGeneral:Permission denied"]}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_startup_refuses_a_key_without_trading_permission_with_one_line() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoTradingKey)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = KrakenRestClient(version="test", base_url=f"http://127.0.0.1:{server.server_address[1]}", api_key="k" * 16,
                                  api_secret="c2VjcmV0c2VjcmV0c2VjcmV0", timeout_s=(2.0, 2.0))
        settings = load_settings(overrides={"runtime": {"mode": "live", "market": "kraken", "symbols": "BTC/USD"}})
        with pytest.raises(ExecutionSetupError) as refused:
            live_preflight(client, settings, sim_instrument_rules(("BTC/USD",)), sim_rest_pairs(("BTC/USD",)))
        line = str(refused.value)
        assert "\n" not in line and "lacks the 'Create & Modify Orders' permission" in line and refused.value.exit_code == 1
    finally:
        server.shutdown()
        server.server_close()


def test_preflight_selects_the_pairs_the_funds_can_trade_and_prints_the_limits(sim: Any) -> None:
    settings = load_settings(overrides={"runtime": {"mode": "live", "market": "kraken", "symbols": SYMBOL}},
                             env={"KRAKEN_ENABLED_PAIRS": "ETH", "KRAKEN_TRADE_BUFFER": "1.1"})
    with rest_client(sim) as client:
        selected, balances, lines = live_preflight(client, settings, sim_instrument_rules((SYMBOL,)), sim_rest_pairs((SYMBOL,)))
    assert selected == {SYMBOL} and balances["USD"] > 0
    assert lines[0].startswith("live: trading ETH/USD") and "trade buffer 1.1" in lines[2]
