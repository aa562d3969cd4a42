"""Order benchmark: submit -> ack and submit -> fill through the executor, on the paper and live paths, via the
local exchange, beside a same-run baseline of the exchange's own in-process round trip.

    python ops/bench/order.py [--quick] [--orders N]

The local exchange (`start_sim`, loopback, port 0) serves BTC/USD from a process of its own (`ExchangeProcess`), as a
venue is: in this process its handlers took the GIL from the executor between its steps and counted in the
path's time (before 2026-12-03 evening it ran on a thread here; docs/PERFORMANCE.md "order"). Each path
runs the real ExecutorActor (pykka, a fresh SQLite database: every order and fill row is written, as in the
daemon) and sends it OrderRequests one at a time, as the risk envelope does: a marketable IOC limit order
(0.0001 BTC, 0.2 % through the best price of the exchange's current book), alternately buy and sell. The
executor's messages back to the risk envelope are caught by its `send`:

- submit -> ack: OrderRequest told to the executor -> its first OrderUpdate past pending_new (new, or already
  filled/canceled) is sent back;
- submit -> fill: the same request -> its Fill is sent back.

Paths:
- `paper`: the paper venue (core/execution/paper_venue.py) with executor.paper_latency_ms = 0; its book is the
  exchange's own (a StateSnapshot built from the exchange's REST depth and given to the executor before each
  order). With latency 0 the paper venue acknowledges and fills within the submit call, so this measures the
  executor's own work (rows, messages); with the default 50 ms it would on the first executor tick after
  that (executor.tick_interval_ms, 100 by default).
- `live`: the Kraken venue (actors/kraken_venue.py) against the exchange's authenticated REST API (HMAC-signed
  AddOrder; fills found by QueryOrders polls, as the daemon finds them). The venue polls on every tick here
  (poll interval 0; executor.kraken_poll_interval_ms is 3000 by default, so in the daemon a fill is seen up to
  3 s later by design) and keeps the modelled REST counter's reserve: before each order the bench waits until
  the counter has room for a poll, outside the timed span.
- `live_ws`: the same venue over its private WebSocket (actors/kraken_ws_session.py: add_order on the exchange's
  authenticated WS endpoint, the executor's thread waiting for the ack; the fill from the executions channel,
  drained when the session's reader wakes the executor). No REST call per order; the session is up (its
  executions snapshot received) before the first order. It runs on a second exchange started the same way (the
  first account's trading rate counter is spent by the other paths' orders).

Baseline: the exchange's own round trip in process: `Trading.add_order` of the same order run on an in-process
exchange's loop thread from this thread (`SimHandle.call`), which returns the acknowledgement and the fill events
at once. Beside it, `rest_add_order`: the signed REST AddOrder alone against the paths' exchange process
(KrakenRestClient from this thread: HMAC, HTTP over loopback, the exchange's REST handler; no actor, no
database), which splits the live path's cost.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SYMBOL = "BTC/USD"
QTY = Decimal("0.0001")
THROUGH = Decimal("0.002")  # how far through the best price the IOC limit goes
WAIT_S = 15.0  # deadline for one order's ack and fill


def _quantile(ordered: list[int], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6 if ordered else float("nan")


def _stats(values_ns: list[int]) -> dict[str, Any]:
    ordered = sorted(values_ns)
    return {"n": len(ordered), "p50_ms": round(_quantile(ordered, 0.5), 3), "p99_ms": round(_quantile(ordered, 0.99), 3),
            "max_ms": round(ordered[-1] / 1e6, 3) if ordered else None}


class Catcher:
    """The executor's `send`: notes when each order's first ack and its fill come back."""

    def __init__(self) -> None:
        self.ack_ns: dict[str, int] = {}
        self.fill_ns: dict[str, int] = {}
        self.rejected: dict[str, str] = {}
        self.changed = threading.Condition()

    def send(self, name: str, message: Any) -> bool:
        from kraken_runtime.core.messages import Fill, OrderUpdate

        now = time.perf_counter_ns()
        with self.changed:
            if isinstance(message, OrderUpdate) and message.status != "pending_new":
                self.ack_ns.setdefault(message.client_order_id, now)
                if message.status == "rejected":
                    self.rejected[message.client_order_id] = message.reason
            elif isinstance(message, Fill):
                self.fill_ns.setdefault(message.client_order_id, now)
            self.changed.notify_all()
        return True

    def wait(self, client_order_id: str) -> bool:
        deadline = time.monotonic() + WAIT_S
        with self.changed:
            while client_order_id not in self.fill_ns and client_order_id not in self.rejected:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
        return client_order_id in self.fill_ns


def _snapshot(rest: Any, pair: str) -> Any:
    from kraken_runtime.core.marketdata import StateSnapshot

    depth = rest.depth(pair, count=10)
    bids = tuple((level.price, level.volume) for level in depth.bids)
    asks = tuple((level.price, level.volume) for level in depth.asks)
    return StateSnapshot(
        symbol=SYMBOL, status="ready", epoch=1, seq=1, state_ts_ns=time.time_ns(), best_bid=bids[0][0],
        best_bid_qty=bids[0][1], best_ask=asks[0][0], best_ask_qty=asks[0][1], mid=(bids[0][0] + asks[0][0]) / 2,
        spread_bps=None, microprice=None, depth_bid=None, depth_ask=None, imbalance=None, trade_imbalance=None,
        last_trade_price=None, last_trade_qty=None, last_trade_side=None, last_trade_ns=None, volatility_bps=(),
        l3_quality=None, ref_price=None, premium_bps=None, bids=bids, asks=asks, venue_status="online")


def run_path(path: str, sim: Any, orders: int, workdir: Path) -> dict[str, Any]:
    import pykka
    from prometheus_client import CollectorRegistry

    from kraken_runtime.actors.base import ChildLink, FaultBudget
    from kraken_runtime.actors.execution import sim_instrument_rules, sim_rest_pairs
    from kraken_runtime.actors.execution_metrics import ExecutionMetrics
    from kraken_runtime.actors.executor import ExecutorActor
    from kraken_runtime.actors.execution import token_provider
    from kraken_runtime.actors.kraken_venue import POLL_RESERVE, KrakenVenue
    from kraken_runtime.actors.kraken_ws_session import KrakenWsSession
    from kraken_runtime.core.config import ExecutorSettings, load_settings
    from kraken_runtime.core.execution.paper_venue import FeeRates, PaperVenue
    from kraken_runtime.core.kraken.ratelimit import RestCallCounter
    from kraken_runtime.core.kraken.rest import KrakenRestClient
    from kraken_runtime.core.messages import OrderRequest
    from kraken_runtime.storage import repo
    from kraken_runtime.storage.db import close_database, open_database

    e = sim.endpoints
    settings = load_settings(env={"KRT_RUNTIME__SYMBOLS": SYMBOL})
    pair = sim_rest_pairs((SYMBOL,))[SYMBOL]
    rules = sim_instrument_rules((SYMBOL,))[SYMBOL]
    db = open_database(f"sqlite:///{workdir / f'order-{path}.db'}")
    run_id = repo.start_run(mode="paper" if path == "paper" else "live", market="sim", shard="bench", config_hash="bench",
                            version="bench", hostname="bench", pid=1, now_ns=time.time_ns())
    counter = RestCallCounter(settings.kraken.api_tier)

    def client() -> KrakenRestClient:
        return KrakenRestClient(version="bench", base_url=e["rest"], api_key=e["api_key"], api_secret=e["api_secret"],
                                timeout_s=(5.0, 5.0), rest_counter=counter if path != "paper" else None)

    venues: list[Any] = []

    def venue_factory() -> Any:
        if path == "paper":
            return PaperVenue(fees={SYMBOL: FeeRates(maker=rules.maker_fee_rate, taker=rules.taker_fee_rate)}, latency_ns=0)
        session = None
        if path == "live_ws":
            session = KrakenWsSession(url=e["ws_auth"], token_provider=token_provider(lambda c: client(), counter))
        venue = KrakenVenue(client=client(), pairs={SYMBOL: pair}, validate_only=False,
                            poll_interval_ns=0 if path == "live" else 3_000_000_000, rest_counter=counter, deadline_s=5.0,
                            session=session)
        venues.append(venue)
        return venue

    catcher = Catcher()
    executor = ExecutorActor.start(
        link=ChildLink(name="executor", generation=1, report=lambda _m: None, fault=FaultBudget()), run_id=run_id,
        shard="bench", mode="paper" if path == "paper" else "live",
        settings=ExecutorSettings(tick_interval_ms=10, paper_latency_ms=0, dead_mans_switch_s=0),
        venue_factory=venue_factory, send=catcher.send, metrics=ExecutionMetrics(CollectorRegistry()),
        quote_of=lambda _s: "USD")
    rest = KrakenRestClient(version="bench", base_url=e["rest"], api_key=e["api_key"], api_secret=e["api_secret"],
                            timeout_s=(5.0, 5.0))  # the bench's own reads of the book (its own key's counter)
    ack: list[int] = []
    fill: list[int] = []
    misses: list[str] = []
    if path == "live_ws":  # the session up (its executions snapshot in) before the first order
        deadline = time.monotonic() + WAIT_S
        while not (venues and venues[0].session is not None and venues[0].session.up) and time.monotonic() < deadline:
            time.sleep(0.01)
    try:
        for i in range(orders + 1):  # the first is a warm-up (connection, first statements)
            snapshot = _snapshot(rest, pair)
            executor.ask(snapshot, timeout=5)
            side = "buy" if i % 2 == 0 else "sell"
            price = snapshot.best_ask * (1 + THROUGH) if side == "buy" else snapshot.best_bid * (1 - THROUGH)
            price = (price / rules.price_increment).to_integral_value() * rules.price_increment
            if path != "paper":  # room for this order's polls, so the counter's wait is not in the timed span
                deadline = time.monotonic() + 60
                while counter.wait_time(2 + POLL_RESERVE, time.monotonic()) > 0 and time.monotonic() < deadline:
                    time.sleep(0.05)
            cl = f"bench-{path}-{i}"
            request = OrderRequest(client_order_id=cl, intent_id=0, risk_event_id=0, symbol=SYMBOL, side=side, qty=QTY,
                                   price=price, post_only=False, time_in_force="ioc", style="taker", reduce_only=False,
                                   strategies=(), expires_at_ns=time.time_ns() + 10**10, created_at_ns=time.time_ns())
            t0 = time.perf_counter_ns()
            executor.tell(request)
            if not catcher.wait(cl):
                misses.append(f"{cl}: {catcher.rejected.get(cl, 'no fill within the deadline')}")
                continue
            if i == 0:
                continue
            ack.append(catcher.ack_ns[cl] - t0)
            fill.append(catcher.fill_ns[cl] - t0)
    finally:
        rest.close()
        executor.stop(timeout=10)
        pykka.ActorRegistry.stop_all(block=False)
        close_database(db)
    return {"ack": _stats(ack), "fill": _stats(fill), "misses": misses}


def run_baseline(sim: Any, exchange: ExchangeProcess, orders: int) -> dict[str, Any]:
    """Trading.add_order of the same IOC limit order on an in-process exchange's own thread, called from this one;
    then the signed REST AddOrder alone against the paths' exchange process."""
    from kraken_runtime.actors.execution import sim_instrument_rules, sim_rest_pairs
    from kraken_runtime.core.kraken.rest import KrakenRestClient
    from kraken_runtime.core.sim.api import AddOrderRequest

    def client(e: dict[str, Any]) -> KrakenRestClient:
        return KrakenRestClient(version="bench", base_url=e["rest"], api_key=e["api_key"], api_secret=e["api_secret"],
                                timeout_s=(5.0, 5.0))

    e = sim.endpoints
    trading, account = sim.server.trading, e["api_key"]
    pair = sim_rest_pairs((SYMBOL,))[SYMBOL]
    tick = sim_instrument_rules((SYMBOL,))[SYMBOL].price_increment
    local_rest, rest = client(e), client(exchange.endpoints)
    values: list[int] = []
    rest_values: list[int] = []
    try:
        for i in range(orders + 1):
            snapshot = _snapshot(local_rest, pair)
            side = "buy" if i % 2 == 0 else "sell"
            price = snapshot.best_ask * (1 + THROUGH) if side == "buy" else snapshot.best_bid * (1 - THROUGH)
            request = AddOrderRequest(symbol=SYMBOL, side=side, order_type="limit", order_qty=QTY,
                                      limit_price=(price / tick).to_integral_value() * tick, time_in_force="ioc")
            t0 = time.perf_counter_ns()
            outcome, events = sim.call(trading.add_order, account, request, time.time_ns())
            elapsed = time.perf_counter_ns() - t0
            if not any(getattr(event, "exec_type", None) == "trade" for event in events):
                raise RuntimeError(f"the exchange's own round trip filled nothing: {outcome!r} {events!r}"[:300])
            if i:
                values.append(elapsed)
        # Where the live path's time goes: the signed REST AddOrder round trip alone (HMAC, HTTP over loopback,
        # the exchange process's REST handler), from this thread, no actor and no database; between orders the
        # bench leaves the exchange's REST counter room (AddOrder itself costs the trading counter, not this one).
        for i in range(orders + 1):
            snapshot = _snapshot(rest, pair)
            side = "buy" if i % 2 == 0 else "sell"
            price = snapshot.best_ask * (1 + THROUGH) if side == "buy" else snapshot.best_bid * (1 - THROUGH)
            t0 = time.perf_counter_ns()
            rest.add_order(pair=pair, side=side, ordertype="limit", volume=QTY,
                           price=(price / tick).to_integral_value() * tick, timeinforce="IOC", cl_ord_id=f"bench-rest-{i}")
            elapsed = time.perf_counter_ns() - t0
            if i:
                rest_values.append(elapsed)
    finally:
        local_rest.close()
        rest.close()
    return {**_stats(values), "rest_add_order": _stats(rest_values)}


def _exchange_main(conn: Any, seed: int) -> None:
    """A local exchange in a process of its own (spawned): its endpoints sent back, served until told to stop."""
    sys.path.insert(0, str(REPO_ROOT))
    from kraken_runtime.sim_server.app import start_sim

    sim = start_sim(host="127.0.0.1", port=0, symbols=(SYMBOL,), seed=seed)
    try:
        conn.send(dict(sim.endpoints))
        conn.recv()  # any message, or the parent gone (EOFError): stop
    except EOFError:
        pass
    finally:
        sim.stop()


class ExchangeProcess:
    """The local exchange the order paths talk to, in its own process, as a venue is: its event loop, REST and
    WebSocket handlers and matching engine do not take this process's GIL from the executor. (In one process
    they did: the exchange's handler ran between the executor's steps, and its time counted in the path's.)"""

    def __init__(self, seed: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=_exchange_main, args=(child, seed), daemon=True, name="order-bench-exchange")
        self.process.start()
        if not self._conn.poll(60):
            self.process.kill()
            raise RuntimeError("the local exchange process did not start within 60 s")
        self.endpoints: dict[str, Any] = self._conn.recv()

    def stop(self) -> None:
        try:
            self._conn.send("stop")
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=15)
        if self.process.is_alive():
            self.process.kill()


def measure(orders: int) -> dict[str, Any]:
    from kraken_runtime.sim_server.app import start_sim

    exchange = ExchangeProcess(seed=11)
    local = start_sim(host="127.0.0.1", port=0, symbols=(SYMBOL,), seed=11)  # the baseline's in-process round trip
    try:
        with tempfile.TemporaryDirectory(prefix="krt-order-bench-") as tmp:
            # Live first: the REST-alone baseline's orders charge the same account's trading rate counter, which
            # the live path's AddOrders must find with room.
            live = run_path("live", exchange, orders, Path(tmp))
            paper = run_path("paper", exchange, orders, Path(tmp))
            baseline = run_baseline(local, exchange, orders)
            # An exchange of its own (same seed): the account's trading rate counter has no room for a fourth
            # set of orders on the first one.
            ws_exchange = ExchangeProcess(seed=11)
            try:
                live_ws = run_path("live_ws", ws_exchange, orders, Path(tmp))
            finally:
                ws_exchange.stop()
    finally:
        local.stop()
        exchange.stop()
    return {"paper": paper, "live": live, "live_ws": live_ws, "baseline": baseline}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--orders", type=int, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.orders or (10 if args.quick else 100))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
