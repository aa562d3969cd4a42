"""The executor's kraken venue (live) and shadow venue against the local exchange's authenticated REST API, with
its faults (reject_orders, venue_status, ack_latency, rate_limit); the start-up preflight against a key without
trading permission. Real risk envelope and executor actors, a real database (SQLite and PostgreSQL); the book
each decision sees is the exchange's own depth. Waits are conditions with deadlines."""

from __future__ import annotations

import functools

import json
import threading
import time
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pykka
import pytest
from prometheus_client import CollectorRegistry

from kraken_runtime.actors.base import ChildLink, FaultBudget
from kraken_runtime.actors.execution import ExecutionSetupError, live_preflight, sim_instrument_rules, sim_rest_pairs
from kraken_runtime.actors.execution_metrics import ExecutionMetrics
from kraken_runtime.actors.executor import ExecutorActor
from kraken_runtime.actors.kraken_venue import KrakenVenue
from kraken_runtime.actors.risk import RiskEnvelopeActor
from kraken_runtime.core.config import ExecutorSettings, RiskSettings, load_settings
from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import ExecutionTick, Intent, SafetyModeRequested
from kraken_runtime.storage import execution as store
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database
from tests import waiting
from tests.integration.live_fixtures import SYMBOL, sim, stop_all_actors  # noqa: F401 - fixtures used by name

wait_until = functools.partial(waiting.wait_until, timeout=15.0, interval=0.02)


def client_for(sim: Any, timeout_s: float = 5.0) -> KrakenRestClient:
    e = sim.endpoints
    return KrakenRestClient(version="test", base_url=e["rest"], api_key=e["api_key"], api_secret=e["api_secret"],
                            timeout_s=(timeout_s, timeout_s), order_lookup_attempts=1)


class Live:
    def __init__(self, sim: Any, db_url: str, mode: str, venue_timeout_s: float = 5.0) -> None:
        self.sim = sim
        self.db = open_database(db_url)
        self.run_id = repo.start_run(mode=mode, market="kraken", shard="t", config_hash="h", version="t", hostname="h",
                                     pid=1, now_ns=time.time_ns())
        self.reports: list[Any] = []
        self.instruments = sim_instrument_rules((SYMBOL,))
        metrics = ExecutionMetrics(CollectorRegistry())
        self.refs: dict[str, Any] = {}

        def send(name: str, message: Any) -> bool:
            ref = self.refs.get(name)
            if ref is None:
                return False
            try:
                ref.tell(message)
            except pykka.ActorDeadError:
                return False
            return True

        risk = RiskSettings(error_burst_count=3, max_symbol_exposure_usd=D("1000"))
        self.refs["risk"] = RiskEnvelopeActor.start(
            link=ChildLink(name="risk", generation=1, report=self.reports.append, fault=FaultBudget()), run_id=self.run_id,
            settings=risk, instruments=self.instruments, send=send, metrics=metrics, safety_mode="active",
            starting_balances={"USD": D("100000"), "ETH": D("10")}, api_tier="intermediate")
        self.refs["executor"] = ExecutorActor.start(
            link=ChildLink(name="executor", generation=1, report=self.reports.append, fault=FaultBudget()),
            run_id=self.run_id, shard="t", mode=mode, settings=ExecutorSettings(tick_interval_ms=60_000, dead_mans_switch_s=0),
            venue_factory=lambda: KrakenVenue(client=client_for(sim, venue_timeout_s), pairs=sim_rest_pairs((SYMBOL,)),
                                              validate_only=mode == "shadow", poll_interval_ns=2_000_000_000),
            send=send, metrics=metrics, quote_of=lambda s: "USD")
        self.rest = client_for(sim)

    def snapshot(self) -> StateSnapshot:
        depth = self.rest.depth(sim_rest_pairs((SYMBOL,))[SYMBOL], count=10)
        bids = tuple((lvl.price, lvl.volume) for lvl in depth.bids)
        asks = tuple((lvl.price, lvl.volume) for lvl in depth.asks)
        now = time.time_ns()
        snap = StateSnapshot(
            symbol=SYMBOL, status="ready", epoch=1, seq=1, state_ts_ns=now, best_bid=bids[0][0], best_bid_qty=bids[0][1],
            best_ask=asks[0][0], best_ask_qty=asks[0][1], mid=(bids[0][0] + asks[0][0]) / 2, spread_bps=None,
            microprice=None, depth_bid=None, depth_ask=None, imbalance=None, trade_imbalance=None, last_trade_price=None,
            last_trade_qty=None, last_trade_side=None, last_trade_ns=None, volatility_bps=(), l3_quality=None,
            ref_price=None, premium_bps=None, bids=bids, asks=asks, venue_status="online")
        self.refs["risk"].ask(snap, timeout=5)
        self.refs["executor"].ask(snap, timeout=5)
        return snap

    def taker(self, side: str = "buy", size: str = "0.01") -> Any:
        verdict = self.taker_unpolled(side, size)
        self.tick()
        return verdict

    def taker_unpolled(self, side: str = "buy", size: str = "0.01") -> Any:
        """A taker intent to the risk envelope; the executor submits it and looks at it again only on a tick."""
        snap = self.snapshot()
        assert snap.mid is not None
        price = snap.mid * (D("1.002") if side == "buy" else D("0.998"))
        now = time.time_ns()
        verdict = self.refs["risk"].ask(Intent(
            intent_id=0, symbol=SYMBOL, side=side, size=D(size), limit_price=price, style="taker",  # type: ignore[arg-type]
            expires_at_ns=now + 10**10, epoch=1, seq=1, state_ts_ns=snap.state_ts_ns, score=D("0.9"),
            strategies=("momentum",), reasons=(("test", "1"),), created_at_ns=now, recv_ts_ns=now), timeout=10)
        return verdict

    def tick(self) -> None:
        self.refs["risk"].ask(ExecutionTick(n=0), timeout=30)
        self.refs["executor"].ask(ExecutionTick(n=0), timeout=30)

    def orders(self) -> list[dict[str, Any]]:
        return store.orders(self.run_id)

    def close(self) -> None:
        for name in ("executor", "risk"):
            self.refs[name].stop()
        self.rest.close()
        self.sim.clear_faults()
        close_database(self.db)


@pytest.fixture
def live(sim: Any, db_url: str) -> Iterator[Live]:
    system = Live(sim, db_url, "live")
    yield system
    system.close()


def exchange_orders(sim: Any, cl_ord_id: str) -> list[Any]:
    with client_for(sim) as rest:
        found = [o for o in rest.open_orders(cl_ord_id=cl_ord_id) if o.cl_ord_id == cl_ord_id]
        return found + [o for o in rest.closed_orders(cl_ord_id=cl_ord_id).orders if o.cl_ord_id == cl_ord_id]


def test_live_taker_order_is_sent_once_and_its_fills_are_stored_by_executed_volume(live: Live) -> None:
    assert live.taker("buy").approved
    [order] = wait_until(lambda: [o for o in live.orders() if o["status"] == "filled"] or live.tick(), what="a filled order")
    fills = store.fills(live.run_id)
    assert fills and sum(f["qty"] for f in fills) == order["qty"]
    assert all(f["exec_id"].startswith(order["exchange_order_id"] + "-") for f in fills)  # <txid>-<executed volume>
    assert len(exchange_orders(live.sim, order["client_order_id"])) == 1  # sent exactly once
    assert order["exchange_order_id"] == exchange_orders(live.sim, order["client_order_id"])[0].txid


def test_live_rejections_by_the_exchange_are_stored_and_a_burst_moves_to_reduce_only(live: Live) -> None:
    live.sim.inject_fault({"fault": "reject_orders", "count": 3, "error": "EOrder:Insufficient funds"})
    for _ in range(3):
        live.taker("buy")
    rejected = [o for o in live.orders() if o["status"] == "rejected"]
    assert len(rejected) == 3 and all(o["last_error"] == "EOrder:Insufficient funds" for o in rejected)
    wait_until(lambda: any(isinstance(r, SafetyModeRequested) and r.mode == "reduce_only" for r in live.reports),
               what="reduce_only requested by the error burst")


def test_live_post_only_venue_refuses_a_taker_order_and_it_is_stored_rejected(live: Live) -> None:
    live.sim.inject_fault({"fault": "venue_status", "status": "post_only"})
    live.taker("buy")
    [order] = live.orders()
    assert order["status"] == "rejected" and "post_only" in order["last_error"]


def test_live_rate_limited_order_is_rejected_not_retried(live: Live) -> None:
    live.sim.inject_fault({"fault": "rate_limit", "count": 1})
    live.taker("buy")
    [order] = live.orders()
    assert order["status"] == "rejected" and "Rate limit" in order["last_error"]
    assert exchange_orders(live.sim, order["client_order_id"]) == []


def test_live_clean_stop_with_the_rest_counter_spent_still_records_the_fill_of_an_unpolled_order(live: Live) -> None:
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
    system = Live(sim, db_url, "live", venue_timeout_s=0.5)
    try:
        sim.inject_fault({"fault": "ack_latency", "ms": 1500, "seconds": 30})
        system.taker("buy")
        [order] = system.orders()
        assert order["status"] == "unknown"
        second = system.taker("buy")  # nothing new goes out while an outcome is unknown
        assert second.approved and len(system.orders()) == 1
        sim.clear_faults()
        [done] = wait_until(lambda: [o for o in system.orders() if o["status"] in ("filled", "expired", "canceled")]
                            or system.tick(), timeout=30, what="the unknown order resolved by its cl_ord_id")
        [at_exchange] = exchange_orders(sim, order["client_order_id"])  # placed once, found, never re-sent
        assert done["exchange_order_id"] == at_exchange.txid and done["filled_qty"] == at_exchange.vol_exec
    finally:
        system.close()


def test_shadow_orders_are_validated_by_the_exchange_stored_and_never_placed(sim: Any, db_url: str) -> None:
    system = Live(sim, db_url, "shadow")
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
    with client_for(sim) as client:
        selected, balances, lines = live_preflight(client, settings, sim_instrument_rules((SYMBOL,)), sim_rest_pairs((SYMBOL,)))
    assert selected == {SYMBOL} and balances["USD"] > 0
    assert lines[0].startswith("live: trading ETH/USD") and "trade buffer 1.1" in lines[2]
