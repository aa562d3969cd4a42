"""The paper venue's L3 queue model in the running actors, against the local exchange.

The daemon's ingest children (feed with its public and level3 connections, state holder, writer: actors/ingest.py)
and its execution children (risk envelope and executor with the paper venue: actors/execution.py), wired as
the daemon wires them (snapshots fanned out to risk and executor), under the real supervisor. The symbol's own
flow is frozen through the local exchange's admin script endpoint (core/sim/script.py), so the only orders and
trades on it are the ones this test places through the exchange's trading engine with two accounts of its own:
a maker account building the queue at a price, a taker account trading into it.

A paper post-only buy joins behind the maker's orders at that price; it must not fill while the scripted trades
have not consumed the queue ahead (nor when they consumed it exactly, nor because an order BEHIND it traded),
and fills once a trade at its price goes beyond the queue ahead. Every step waits, with a deadline, until the
executor's venue has taken the step's snapshot (its trade cursor or the queue it tracks), and only then checks
the database for fills.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal as D
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from kraken_runtime.actors.base import PeriodicTimer
from kraken_runtime.actors.execution import SAFETY_LISTENERS, execution_specs_for, fan_out_snapshots
from kraken_runtime.actors.ingest import ingest_child_specs
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.actors.metrics import RuntimeMetrics
from kraken_runtime.actors.supervisor import Directory, SupervisorActor, SupervisorConfig
from kraken_runtime.actors.supervisor_store import DatabaseStore
from kraken_runtime.core.config import Secrets, load_settings
from kraken_runtime.core.execution.paper import RestingOrder
from kraken_runtime.core.messages import OrderRequest, StartChildren, StopChildren, SupervisorTick
from kraken_runtime.core.sim.api import AddOrderRequest
from kraken_runtime.core.supervision import Backoff, RestartBudget
from kraken_runtime.market import open_market
from kraken_runtime.storage import execution as store
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database

SYMBOL = "ETH/USD"
MAKER, TAKER = "test-maker-key", "test-taker-key"
BALANCES = {"USD": D("1000000"), "ETH": D("1000")}


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = load_settings(env={
            "KRT_RUNTIME__SYMBOLS": SYMBOL,
            "KRT_RUNTIME__MODE": "paper",
            "KRT_STORAGE__DB_URL": f"sqlite:///{tmp_path / 'paper.db'}",
            "KRT_STATE__SNAPSHOT_INTERVAL_MS": "20",
            "KRT_STATE__STALE_AFTER_MS": "120000",  # the frozen symbol is quiet between the test's steps
            "KRT_EXECUTOR__MAKER_TIMEOUT_MS": "600000",
            "KRT_EXECUTOR__PAPER_LATENCY_MS": "20",
        })
        self.db = open_database(self.settings.storage.db_url)
        self.run_id = repo.start_run(mode="paper", market="sim", shard=self.settings.runtime.shard, config_hash="t",
                                     version="test", hostname="h", pid=1, now_ns=time.time_ns())
        self.market = open_market(self.settings, Secrets())
        metrics = RuntimeMetrics()
        self.directory = Directory(metrics)
        budget = RestartBudget(max_restarts=5, period_s=60)
        backoff = Backoff(initial_s=0.05, max_s=0.5, jitter_ratio=0.1)
        ingest = ingest_child_specs(
            self.settings, run_id=self.run_id, source=self.market, send=self.directory.send,
            send_latest=fan_out_snapshots(self.directory.send_latest, SAFETY_LISTENERS), metrics=IngestMetrics(metrics.registry),
            budget=budget, backoff=backoff, version="test", scanner_name="scanner", peer_state=self.directory.state)
        execution = execution_specs_for(self.settings, run_id=self.run_id, send=self.directory.send, market=self.market,
                                        registry=metrics.registry, safety_mode="active", budget=budget, backoff=backoff,
                                        peer_state=self.directory.state, out=lambda line: None)
        self.supervisor = SupervisorActor.start(
            specs=(*ingest, *execution), directory=self.directory, metrics=metrics,
            store=DatabaseStore(run_id=self.run_id, shard=self.settings.runtime.shard),
            config=SupervisorConfig(heartbeat_interval_s=0.5, heartbeat_deadline_s=10, run_id=self.run_id),
        )
        self.supervisor.ask(StartChildren(), timeout=30)
        self.sweeper = PeriodicTimer(0.05, self.supervisor, lambda _n: SupervisorTick(), name="test-sweep", max_pending=3)
        self.sweeper.start()
        sim = self.market.sim
        for key in (MAKER, TAKER):
            sim.call(sim.exchange.create_account, key, BALANCES)

    def stop(self) -> None:
        self.sweeper.stop()
        if self.supervisor.is_alive():
            self.supervisor.ask(StopChildren(deadline_s=10), timeout=20)
            self.supervisor.stop(timeout=10)
        self.market.stop()
        close_database(self.db)

    # --- the local exchange -----------------------------------------------------------------------------------

    def freeze(self) -> None:
        """The admin script endpoint: the symbol's own flow stands still (no orders, no trades of its own)."""
        response = requests.post(f"{self.market.sim.endpoints['admin']}/script", timeout=10,
                                 json={"symbol": SYMBOL, "phases": [{"phase": "frozen", "seconds": 600}]})
        assert response.status_code == 200, response.text

    def book(self) -> tuple[Any, Any]:
        sim = self.market.sim
        return sim.call(sim.exchange.book, SYMBOL, 5)

    def place(self, key: str, side: str, qty: str, price: D, tif: str = "gtc") -> str:
        """An order through the exchange's engine; its public book, level3 and trade events go out to subscribers."""
        sim = self.market.sim
        request = AddOrderRequest(symbol=SYMBOL, side=side, order_type="limit", order_qty=D(qty), limit_price=price,
                                  time_in_force=tif, post_only=tif == "gtc")

        def run() -> Any:
            now = time.time_ns()
            result, events = sim.exchange.add_order(key, request, now)
            sim.server.hub.absorb(events, now)
            return result

        result = sim.call(run)
        assert getattr(result, "order_id", ""), result
        return str(result.order_id)

    def cancel(self, key: str, order_id: str) -> None:
        sim = self.market.sim

        def run() -> Any:
            now = time.time_ns()
            result, events = sim.exchange.cancel_order(key, now, order_id=order_id)
            sim.server.hub.absorb(events, now)
            return result

        sim.call(run)

    # --- the executor's paper venue (read from its thread's objects: reads only) -----------------------------

    @property
    def venue(self) -> Any:
        ref = self.directory.lookup("executor")
        actor = ref._actor_weakref() if ref is not None else None  # the actor object (pykka keeps a weak reference)
        assert actor is not None and actor.venue is not None
        return actor.venue

    def snapshot(self) -> Any:
        return self.venue.snapshots.get(SYMBOL)

    def resting(self, cl_ord_id: str) -> RestingOrder | None:
        entry = self.venue._orders.get(cl_ord_id)
        return None if entry is None else entry.resting

    def trades_taken(self) -> int:
        cursor = self.venue._trade_cursor.get(SYMBOL)
        return 0 if cursor is None else cursor[1]

    def fills(self, cl_ord_id: str) -> list[dict[str, Any]]:
        order_ids = {row["id"] for row in store.orders(self.run_id) if row["client_order_id"] == cl_ord_id}
        return [row for row in store.fills(self.run_id) if row["order_id"] in order_ids]

    def order_row(self, cl_ord_id: str) -> dict[str, Any]:
        [row] = [row for row in store.orders(self.run_id) if row["client_order_id"] == cl_ord_id]
        return row


@pytest.fixture
def harness(tmp_path: Path):
    h = Harness(tmp_path)
    yield h
    h.stop()


def test_paper_post_only_fills_only_after_scripted_trades_consumed_the_l3_queue_ahead(
        harness: Harness, wait_until: Callable[..., object]) -> None:
    h = harness
    wait_until(lambda: h.snapshot() is not None and h.snapshot().ready and h.snapshot().l3_bids is not None,
               timeout=30, what="the executor holding a ready snapshot with the level3 queue")
    h.freeze()
    bids, asks = h.book()
    tick = D("0.01")
    price = bids[0][0] + tick  # a new best bid: only the maker's orders rest there
    assert price < asks[0][0], (bids[0], asks[0])
    m1 = h.place(MAKER, "buy", "0.05", price)
    m2 = h.place(MAKER, "buy", "0.03", price)

    def touch_ids() -> list[str]:
        snap = h.snapshot()
        if snap is None or not snap.l3_bids or snap.l3_bids[0].price != price:
            return []
        return [o.order_id for o in snap.l3_bids[0].orders]

    wait_until(lambda: touch_ids() == [m1, m2], timeout=10, what="the maker's two orders at the touch in the executor's view")

    cl = uuid.uuid4().hex
    now = time.time_ns()
    h.directory.send("executor", OrderRequest(
        client_order_id=cl, intent_id=0, risk_event_id=0, symbol=SYMBOL, side="buy", qty=D("0.02"), price=price,
        post_only=True, time_in_force="gtc", style="maker", reduce_only=False, strategies=("test",),
        expires_at_ns=now + 600 * 10**9, created_at_ns=now))
    wait_until(lambda: h.resting(cl) is not None, timeout=10, what="the paper order resting")
    resting = h.resting(cl)
    assert resting is not None and resting.ahead_l3 == {m1: D("0.05"), m2: D("0.03")}  # L3: behind both, by id
    wait_until(lambda: h.order_row(cl)["status"] == "new", timeout=10, what="the order row new")

    def queue_ahead() -> D | None:
        r = h.resting(cl)
        return None if r is None else r.queue_ahead

    def step(what: str, ahead: D, action: Callable[[], object], trades: int) -> None:
        taken = h.trades_taken()
        action()
        wait_until(lambda: h.trades_taken() >= taken + trades and queue_ahead() == ahead, timeout=10,
                   what=f"{what}: the venue took it, {ahead} ahead")
        assert h.fills(cl) == [], what

    # 0.04 of the 0.08 ahead traded at our price: 0.04 left ahead (0.01 of m1, m2)
    step("a sell of 0.04 at our price", D("0.04"), lambda: h.place(TAKER, "sell", "0.04", price, "ioc"), 1)
    # a newcomer at our price after us: behind us, the queue ahead unchanged
    m3 = h.place(MAKER, "buy", "0.05", price)
    wait_until(lambda: touch_ids() == [m1, m2, m3], timeout=10, what="m3 at the touch")
    assert queue_ahead() == D("0.04")
    # m2, ahead of us, cancelled: 0.01 left ahead (the level, 0.06 with m3, could not tell an L2 model that)
    step("m2 cancelled", D("0.01"), lambda: h.cancel(MAKER, m2), 0)
    # a sell of exactly what is left ahead: the queue is consumed, nothing reaches us
    step("a sell of the 0.01 left ahead", D("0"), lambda: h.place(TAKER, "sell", "0.01", price, "ioc"), 1)
    # the next sell at our price traded with m3 on the exchange; m3 is behind us: it filled us
    taken = h.trades_taken()
    h.place(TAKER, "sell", "0.015", price, "ioc")
    wait_until(lambda: len(h.fills(cl)) == 1, timeout=10, what="the paper order's first fill")
    [fill] = h.fills(cl)
    assert fill["qty"] == D("0.015") and fill["price"] == price and fill["liquidity"] == "maker"
    assert h.trades_taken() >= taken + 1
    # the rest: a sell of m3's remaining 0.035 at our price fills our last 0.005
    h.place(TAKER, "sell", "0.035", price, "ioc")
    wait_until(lambda: h.order_row(cl)["status"] == "filled", timeout=10, what="the paper order filled")
    assert sorted(row["qty"] for row in h.fills(cl)) == [D("0.005"), D("0.015")]
    assert h.venue.trades_missed == 0
