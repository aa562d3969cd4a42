"""Fixtures shared by the live-venue integration modules (test_live_execution.py, test_live_ws.py): one local
exchange per test serving ETH/USD (its faults and the account's REST rate counter start clean), every pykka
actor stopped after each test, and the harness both build on (LiveSystem: a risk envelope and an executor with
the kraken venue against that exchange, over its REST API or its private WebSocket). Imported by name into those
modules (not a conftest: the autouse stop applies to them alone)."""

from __future__ import annotations

import functools
import json
import time
import urllib.request
from collections import Counter
from decimal import Decimal as D
from typing import Any, Callable, Iterator

import pykka
import pytest
from prometheus_client import CollectorRegistry

from kraken_runtime.actors.base import ChildLink, FaultBudget
from kraken_runtime.actors.execution import sim_instrument_rules, sim_rest_pairs, token_provider
from kraken_runtime.actors.execution_metrics import ExecutionMetrics
from kraken_runtime.actors.executor import ExecutorActor
from kraken_runtime.actors.kraken_venue import KrakenVenue
from kraken_runtime.actors.kraken_ws_session import KrakenWsSession
from kraken_runtime.actors.risk import RiskEnvelopeActor
from kraken_runtime.core.config import ExecutorSettings, RiskSettings
from kraken_runtime.core.kraken.ratelimit import RestCallCounter
from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import BalancesChanged, ExecutionTick, Intent
from kraken_runtime.sim_server.app import start_sim
from kraken_runtime.storage import execution as store
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database
from tests import waiting

SYMBOL = "ETH/USD"

wait_until = functools.partial(waiting.wait_until, timeout=20.0, interval=0.02)

@pytest.fixture(autouse=True)
def stop_all_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=5)


@pytest.fixture
def sim() -> Iterator[Any]:
    """One local exchange per test: its faults and the account's REST rate counter start clean."""
    handle = start_sim(host="127.0.0.1", port=0, symbols=(SYMBOL,), seed=11)
    yield handle
    handle.stop()


class CountingClient(KrakenRestClient):
    """The venue's REST client, counting the calls the WebSocket path is meant to spare (by Kraken's endpoint
    name; each counted method is wrapped below)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: Counter[str] = Counter()


def _counted(method: str, endpoint: str) -> Callable[..., Any]:
    base = getattr(KrakenRestClient, method)

    def call(self: CountingClient, *args: Any, **kwargs: Any) -> Any:
        self.calls[endpoint] += 1
        return base(self, *args, **kwargs)

    return call


for _method, _endpoint in (("query_orders", "QueryOrders"), ("open_orders", "OpenOrders"), ("closed_orders", "ClosedOrders"),
                           ("add_order", "AddOrder"), ("cancel_order", "CancelOrder"),
                           ("cancel_all_orders_after", "CancelAllOrdersAfter")):
    setattr(CountingClient, _method, _counted(_method, _endpoint))


def rest_client(sim: Any, cls: type[KrakenRestClient] = KrakenRestClient, timeout_s: float = 5.0) -> KrakenRestClient:
    """A REST client for the local exchange's account (one lookup attempt per order: no retries hiding a miss)."""
    e = sim.endpoints
    return cls(version="test", base_url=e["rest"], api_key=e["api_key"], api_secret=e["api_secret"],
               timeout_s=(timeout_s, timeout_s), order_lookup_attempts=1)


class LiveSystem:
    """A risk envelope and an executor (mode `live` or `shadow`) whose venue is the kraken venue against the local
    exchange, with a real database; every decision's book is the exchange's own depth (snapshot()).

    websocket=False: the venue over REST alone; it looks at its orders on a tick (poll every 2 s), so taker()
    is followed by a tick; venue_timeout_s is the REST client's timeout.
    websocket=True: the venue over the private WebSocket (REST as its fallback, poll every 0.5 s), the session up
    before the constructor returns; fills come on the executions channel, so taker() does not tick;
    venue_timeout_s is the venue's deadline (every order's, and its wait for an ack).
    counting=True: the venue's REST client is a CountingClient (`calls`). `executor`: ExecutorSettings fields over
    tick_interval_ms=60000 (ticks are the test's) and dead_mans_switch_s=0."""

    def __init__(self, sim: Any, db_url: str, *, mode: str = "live", websocket: bool = False,
                 venue_timeout_s: float = 5.0, counting: bool = False, **executor: Any) -> None:
        self.sim = sim
        self.websocket = websocket
        self.db = open_database(db_url)
        self.run_id = repo.start_run(mode=mode, market="kraken", shard="t", config_hash="h", version="t", hostname="h",
                                     pid=1, now_ns=time.time_ns())
        self.reports: list[Any] = []
        self.instruments = sim_instrument_rules((SYMBOL,))
        self.registry = CollectorRegistry()
        metrics = ExecutionMetrics(self.registry)
        self.refs: dict[str, Any] = {}
        self.venues: list[KrakenVenue] = []
        self.balances_told: list[BalancesChanged] = []
        client_cls: type[KrakenRestClient] = CountingClient if counting else KrakenRestClient

        def send(name: str, message: Any) -> bool:
            if isinstance(message, BalancesChanged):
                self.balances_told.append(message)
            ref = self.refs.get(name)
            if ref is None:
                return False
            try:
                ref.tell(message)
            except pykka.ActorDeadError:
                return False
            return True

        def venue() -> KrakenVenue:
            pairs = sim_rest_pairs((SYMBOL,))
            if websocket:
                session = KrakenWsSession(url=sim.endpoints["ws_auth"],
                                          token_provider=token_provider(lambda _: rest_client(sim), None),
                                          on_state=lambda up: metrics.venue_ws_connected.set(1 if up else 0))
                made = KrakenVenue(client=rest_client(sim, client_cls), pairs=pairs, validate_only=mode == "shadow",
                                   poll_interval_ns=500_000_000, session=session, deadline_s=venue_timeout_s,
                                   rest_counter=RestCallCounter("intermediate"))  # the key's REST counter, as in the daemon
            else:
                made = KrakenVenue(client=rest_client(sim, client_cls, venue_timeout_s), pairs=pairs,
                                   validate_only=mode == "shadow", poll_interval_ns=2_000_000_000)
            self.venues.append(made)
            return made

        risk = RiskSettings(error_burst_count=3, max_symbol_exposure_usd=D("1000"))
        self.refs["risk"] = RiskEnvelopeActor.start(
            link=ChildLink(name="risk", generation=1, report=self.reports.append, fault=FaultBudget()), run_id=self.run_id,
            settings=risk, instruments=self.instruments, send=send, metrics=metrics, safety_mode="active",
            starting_balances={"USD": D("100000"), "ETH": D("10")}, api_tier="intermediate")
        settings = ExecutorSettings(**{"tick_interval_ms": 60_000, "dead_mans_switch_s": 0, **executor})

        def start_executor() -> None:
            started = len(self.venues)
            self.refs["executor"] = ExecutorActor.start(
                link=ChildLink(name="executor", generation=1, report=self.reports.append, fault=FaultBudget()),
                run_id=self.run_id, shard="t", mode=mode, settings=settings, venue_factory=venue, send=send,
                metrics=metrics, quote_of=lambda s: "USD")
            if websocket and mode == "live":
                wait_until(lambda: len(self.venues) > started and self.venue.session is not None and self.venue.session.up,
                           what="the private WebSocket up")

        self.start_executor = start_executor
        self.rest = rest_client(sim)
        start_executor()

    @property
    def venue(self) -> KrakenVenue:
        return self.venues[-1]

    @property
    def calls(self) -> Counter[str]:
        client = self.venue.client
        assert isinstance(client, CountingClient)
        return client.calls

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

    def intent(self, side: str, size: str, price: D, style: str, snap: StateSnapshot) -> Any:
        """An intent (good for 60 s) to the risk envelope: its verdict."""
        now = time.time_ns()
        return self.refs["risk"].ask(Intent(
            intent_id=0, symbol=SYMBOL, side=side, size=D(size), limit_price=price, style=style,  # type: ignore[arg-type]
            expires_at_ns=now + 60 * 10**9, epoch=1, seq=1, state_ts_ns=snap.state_ts_ns, score=D("0.9"),
            strategies=("momentum",), reasons=(("test", "1"),), created_at_ns=now, recv_ts_ns=now), timeout=10)

    def taker_unpolled(self, side: str = "buy", size: str = "0.01") -> Any:
        """A taker intent 0.2% through the mid; the executor submits it and (over REST) looks at it again only on a tick."""
        snap = self.snapshot()
        assert snap.mid is not None
        return self.intent(side, size, snap.mid * (D("1.002") if side == "buy" else D("0.998")), "taker", snap)

    def taker(self, side: str = "buy", size: str = "0.01") -> Any:
        """taker_unpolled, then (over REST) a tick: the order's outcome is stored when it returns."""
        verdict = self.taker_unpolled(side, size)
        if not self.websocket:
            self.tick()
        return verdict

    def tick(self) -> None:
        self.refs["risk"].ask(ExecutionTick(n=0), timeout=30)
        self.refs["executor"].ask(ExecutionTick(n=0), timeout=30)

    def orders(self) -> list[dict[str, Any]]:
        return store.orders(self.run_id)

    def ticked_orders(self) -> list[dict[str, Any]]:
        """A tick, then the stored orders (a wait's condition that moves the executor on each time it is asked)."""
        self.tick()
        return self.orders()

    def orders_else_tick(self, *statuses: str) -> list[dict[str, Any]]:
        """The stored orders in one of these statuses; none yet: a tick, for the venue to look again (a wait's condition)."""
        found = [o for o in self.orders() if o["status"] in statuses]
        if not found:
            self.tick()
        return found

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """A call to the local exchange's admin API (scripts, faults)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.sim.endpoints["admin"] + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def close(self) -> None:
        for name in ("executor", "risk"):
            self.refs[name].stop()
        self.rest.close()
        self.sim.clear_faults()
        close_database(self.db)
