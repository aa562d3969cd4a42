"""The risk envelope and executor actors on the paper venue, wired to each other and to probes, against a real
database (SQLite and PostgreSQL). Time is a fake clock moved by the test; asks are used as synchronisation
points (a mailbox is FIFO: an ask returns after everything told before it)."""

from __future__ import annotations

import threading
from decimal import Decimal as D
from typing import Any

import orjson
import pykka
import pytest
from prometheus_client import CollectorRegistry

from kraken_runtime.actors.base import ChildLink, FaultBudget
from kraken_runtime.actors.execution import sim_instrument_rules
from kraken_runtime.actors.execution_metrics import ExecutionMetrics
from kraken_runtime.actors.executor import ExecutorActor
from kraken_runtime.actors.risk import RiskEnvelopeActor
from kraken_runtime.core.config import ExecutorSettings, RiskSettings
from kraken_runtime.core.execution.paper_venue import FeeRates, PaperVenue
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import (
    ExecutionTick, Intent, IntentDecided, SafetyModeChanged, SafetyModeRequested, StrategyFill,
)
from kraken_runtime.storage import execution as store
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database

T0 = 1_780_000_000 * 1_000_000_000
MS = 1_000_000
SYMBOL = "ETH/USD"


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.lock = threading.Lock()

    def __call__(self) -> int:
        with self.lock:
            return self.now

    def advance(self, ms: int) -> None:
        with self.lock:
            self.now += ms * MS


class Router:
    """The directory's send, for the test: to the two actors, everything else recorded."""

    def __init__(self) -> None:
        self.refs: dict[str, Any] = {}
        self.recorded: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def send(self, name: str, message: Any) -> bool:
        ref = self.refs.get(name)
        if ref is not None:
            try:
                ref.tell(message)
            except pykka.ActorDeadError:  # like the directory: a send never raises into the sender
                return False
            return True
        with self.lock:
            self.recorded.append((name, message))
        return True

    def of(self, kind: type) -> list[Any]:
        with self.lock:
            return [m for _, m in self.recorded if isinstance(m, kind)]


def snapshot(*, bid: str = "3499.70", ask: str = "3500.00", bid_qty: str = "1", ask_qty: str = "1", epoch: int = 1, ts: int | None = None,
             trade: tuple[str, str, int] | None = None, status: str = "ready") -> StateSnapshot:
    b, a = D(bid), D(ask)
    price, qty, trade_ns = trade if trade else (None, None, None)
    return StateSnapshot(
        symbol=SYMBOL, status=status, epoch=epoch, seq=10, state_ts_ns=ts if ts is not None else T0, best_bid=b,
        best_bid_qty=D(bid_qty), best_ask=a, best_ask_qty=D("1"), mid=(b + a) / 2, spread_bps=None, microprice=None,
        depth_bid=None, depth_ask=None, imbalance=None, trade_imbalance=None, last_trade_price=D(price) if price else None,
        last_trade_qty=D(qty) if qty else None, last_trade_side=None, last_trade_ns=trade_ns, volatility_bps=(),
        l3_quality=None, ref_price=None, premium_bps=None, bids=((b, D(bid_qty)), (b - 1, D("5"))),
        asks=((a, D(ask_qty)), (a + 1, D("5"))), venue_status="online")


def intent(clock: Clock, *, side: str = "buy", size: str = "0.01", price: str = "3499.70", style: str = "maker",
           epoch: int = 1, strategies: tuple[str, ...] = ("imbalance", "momentum")) -> Intent:
    now = clock()
    return Intent(intent_id=0, symbol=SYMBOL, side=side, size=D(size), limit_price=D(price), style=style,  # type: ignore[arg-type]
                  expires_at_ns=now + 2000 * MS, epoch=epoch, seq=10, state_ts_ns=now, score=D("0.4"),
                  strategies=strategies, reasons=(("imbalance", "0.5"),), created_at_ns=now, recv_ts_ns=now)


@pytest.fixture
def system(db_url: str):
    db = open_database(db_url)
    run_id = repo.start_run(mode="paper", market="sim", shard="t", config_hash="h", version="t", hostname="h", pid=1, now_ns=T0)
    clock = Clock()
    router = Router()
    reports: list[Any] = []
    metrics = ExecutionMetrics(CollectorRegistry())
    instruments = sim_instrument_rules((SYMBOL,))
    risk_settings = RiskSettings(daily_loss_soft_usd=D("5"), daily_loss_limit_usd=D("10"), drawdown_soft_usd=D("50"),
                                 drawdown_hard_usd=D("100"), ladder_interval_ms=600_000)
    rates = instruments[SYMBOL]

    def start(name: str) -> Any:
        link = ChildLink(name=name, generation=1, report=reports.append, fault=FaultBudget())
        if name == "risk":
            return RiskEnvelopeActor.start(link=link, run_id=run_id, settings=risk_settings, instruments=instruments,
                                           send=router.send, metrics=metrics, safety_mode="active",
                                           starting_balances={"USD": D("10000")}, clock_ns=clock)
        return ExecutorActor.start(
            link=link, run_id=run_id, shard="t", mode="paper", settings=ExecutorSettings(tick_interval_ms=60_000),
            venue_factory=lambda: PaperVenue(fees={SYMBOL: FeeRates(maker=rates.maker_fee_rate, taker=rates.taker_fee_rate)},
                                             latency_ns=50 * MS),
            send=router.send, metrics=metrics, quote_of=lambda s: "USD", clock_ns=clock)

    router.refs["risk"] = start("risk")
    router.refs["executor"] = start("executor")

    class System:
        pass

    s = System()
    s.run_id, s.clock, s.router, s.reports, s.metrics, s.start = run_id, clock, router, reports, metrics, start  # type: ignore[attr-defined]
    s.risk, s.executor = router.refs["risk"], router.refs["executor"]  # type: ignore[attr-defined]

    def market(snap: StateSnapshot) -> None:
        router.refs["risk"].ask(snap, timeout=5)
        router.refs["executor"].ask(snap, timeout=5)

    def settle() -> None:
        """Every message between the two actors so far handled (each side twice covers a reply)."""
        for _ in range(2):
            router.refs["risk"].ask(ExecutionTick(n=0), timeout=5)
            router.refs["executor"].ask(ExecutionTick(n=0), timeout=5)

    s.market, s.settle = market, settle  # type: ignore[attr-defined]
    yield s
    for name in ("executor", "risk"):
        router.refs[name].stop()
    close_database(db)


def test_maker_intent_is_decided_stored_placed_and_filled_after_the_queue_ahead_trades(system: Any) -> None:
    s = system
    s.market(snapshot(trade=("3500.00", "0.1", T0 - 1)))
    verdict = s.risk.ask(intent(s.clock), timeout=5)
    assert verdict.outcome == "approve"
    s.settle()
    [order] = store.orders(s.run_id)
    assert order["status"] == "pending_new" and order["strategies"] == ("imbalance", "momentum")  # row before the venue
    s.clock.advance(50)
    s.settle()
    assert store.orders(s.run_id)[0]["status"] == "new"
    # 1 ahead at 3499.70: a trade of 0.6 leaves 0.4 ahead, the next of 0.41 fills 0.01
    s.market(snapshot(trade=("3499.70", "0.6", T0 + 60 * MS)))
    s.settle()
    assert store.fills(s.run_id) == []
    s.market(snapshot(trade=("3499.70", "0.41", T0 + 70 * MS)))
    s.settle()
    [fill] = store.fills(s.run_id)
    assert fill["qty"] == D("0.01") and fill["price"] == D("3499.70") and fill["liquidity"] == "maker"
    assert store.orders(s.run_id)[0]["status"] == "filled"
    feedback = s.router.of(StrategyFill)
    assert {f.strategy for f in feedback} == {"imbalance", "momentum"} and sum(f.fee_usd for f in feedback) == fill["fee"]
    assert [d.accepted for d in s.router.of(IntentDecided)] == [True]
    chain = store.explain(order["client_order_id"])
    assert chain is not None and chain["intent"]["epoch"] == 1 and chain["risk_events"][0]["decision"] == "accepted"
    assert chain["fills"][0]["exec_id"] == fill["exec_id"]


def test_intent_on_an_old_epoch_is_rejected_stored_and_never_placed(system: Any) -> None:
    s = system
    s.market(snapshot(epoch=2))
    verdict = s.risk.ask(intent(s.clock, epoch=1), timeout=5)
    assert verdict.outcome == "reject" and verdict.rule == "state_guard"
    s.settle()
    assert store.orders(s.run_id) == []
    [event] = store.risk_events(s.run_id)
    assert event["decision"] == "rejected" and event["rule"] == "state_guard"
    assert [step["rule"] for step in event["details"]["steps"]] == ["safety_mode", "state_guard"]
    assert s.router.of(IntentDecided)[0].accepted is False


def test_an_unstored_intent_is_stored_with_its_decision_in_one_transaction_or_refused(
        system: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from kraken_runtime.storage import route as route_store
    s = system
    s.market(snapshot())
    sent = intent(s.clock, style="taker", size="0.01", price="3501")
    sent = Intent(**{**{f: getattr(sent, f) for f in sent.__dataclass_fields__},
                     "reasons": (("state.bid", "3499.70000000"), ("state.epoch", "1"), ("imbalance", "0.5"))})
    assert s.risk.ask(sent, timeout=5).approved
    s.settle()
    [row] = route_store.intents(s.run_id)
    assert row["state"]["bid"] == "3499.70000000" and row["state"]["epoch"] == 1 and row["state"]["recv_ts_ns"] == sent.recv_ts_ns
    [event] = store.risk_events(s.run_id)
    assert event["intent"] == row["id"] and event["decision"] == "accepted"
    assert [o["intent_id"] for o in store.orders(s.run_id)] == [row["id"]]
    assert s.router.of(IntentDecided)[-1].intent_id == row["id"]

    # The decision's row cannot be written: the intent's row is rolled back with it, and nothing goes out.
    def broken(*_a: Any, **_k: Any) -> int:
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(store, "insert_risk_event", broken)
    assert s.risk.ask(intent(s.clock, style="taker", size="0.01", price="3501"), timeout=5) is None
    s.settle()
    assert len(route_store.intents(s.run_id)) == 1 and len(store.orders(s.run_id)) == 1
    refused = s.router.of(IntentDecided)[-1]
    assert refused.accepted is False and "could not be stored" in refused.reason
    assert s.metrics.risk_decisions.labels(rule="unstored", outcome="reject")._value.get() == 1


def test_the_risk_envelope_and_the_executor_leave_wal_checkpoints_to_other_writers(
        system: Any, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both commit on an order's path (the intent with its decision; the order row): neither connection may run a
    checkpoint's fsync there (storage.db.leave_checkpoints_to_others); this thread's connection still does."""
    if not db_url.startswith("sqlite"):
        pytest.skip("WAL checkpoints are SQLite's")
    from kraken_runtime.storage.models import database_proxy

    def autocheckpoint(_self: Any) -> int:
        return int(database_proxy.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0])  # on the actor's thread

    for cls in (RiskEnvelopeActor, ExecutorActor):
        monkeypatch.setattr(cls, "autocheckpoint", autocheckpoint, raising=False)
    assert system.risk.proxy().autocheckpoint().get(timeout=5) == 0
    assert system.executor.proxy().autocheckpoint().get(timeout=5) == 0
    assert autocheckpoint(None) == 1000


def test_taker_intent_goes_out_as_ioc_bounded_by_the_price_band_and_walks_the_depth(system: Any) -> None:
    s = system
    s.market(snapshot(ask_qty="0.05"))
    verdict = s.risk.ask(intent(s.clock, style="taker", size="0.1", price="99999"), timeout=5)
    assert verdict.outcome == "approve" and verdict.proposal.price == D("3517.34")  # mid 3499.85 + 50 bps, on the tick
    s.settle()
    s.clock.advance(50)
    s.settle()
    [order] = store.orders(s.run_id)
    assert order["time_in_force"] == "ioc" and not order["post_only"] and order["status"] == "filled"
    fills = store.fills(s.run_id)
    assert [(f["price"], f["qty"]) for f in fills] == [(D("3500.00"), D("0.05")), (D("3501.00"), D("0.05"))]
    assert all(f["liquidity"] == "taker" for f in fills)


def test_halted_cancels_every_open_order_and_rejects_new_intents(system: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="kraken_runtime.actors.executor")
    s = system
    s.market(snapshot())
    s.risk.ask(intent(s.clock), timeout=5)
    s.settle()
    s.clock.advance(50)
    s.settle()
    assert store.open_orders(s.run_id)
    s.risk.tell(SafetyModeChanged(mode="halted", reason="operator", source="operator"))
    s.executor.tell(SafetyModeChanged(mode="halted", reason="operator", source="operator"))
    s.settle()
    assert store.open_orders(s.run_id) == [] and store.orders(s.run_id)[0]["status"] == "canceled"
    verdict = s.risk.ask(intent(s.clock), timeout=5)
    assert verdict.outcome == "reject" and verdict.rule == "safety_mode"
    console = [r.getMessage() for r in caplog.records if r.getMessage().startswith("order: ")]
    cl_ord_id = store.orders(s.run_id)[0]["client_order_id"]
    assert len(console) == 2, console  # the operator sees the order go out and come back canceled, one line each
    assert console[0].startswith(f"order: BUY 0.01 {SYMBOL} @ 3499.70 post-only sent (order {cl_ord_id}, intent #")
    assert console[1].startswith(f"order: BUY {SYMBOL} @ 3499.70 canceled with 0/0.01 filled (") and cl_ord_id in console[1]


def test_daily_loss_ladder_halts_on_a_falling_market_within_one_order_of_the_limit(system: Any) -> None:
    s = system
    s.market(snapshot(bid="3499.70", ask="3500.00"))
    s.risk.ask(intent(s.clock, style="taker", size="0.1", price="3510"), timeout=5)
    s.settle()
    s.clock.advance(50)
    s.settle()
    assert store.fills(s.run_id)
    bid = D("3499.70")
    halted = False
    for _ in range(200):  # the market falls 1 USD a step; the risk envelope keeps trying to buy the dip
        bid -= 1
        s.clock.advance(100)
        s.market(snapshot(bid=str(bid), ask=str(bid + D("0.3")), ts=s.clock()))
        s.risk.ask(intent(s.clock, style="taker", size="0.1", price=str(bid + 1)), timeout=5)
        s.settle()
        s.clock.advance(50)
        s.settle()
        if any(isinstance(r, SafetyModeRequested) and r.mode == "halted" for r in s.reports):
            halted = True
            break
    assert halted
    assert any(isinstance(r, SafetyModeRequested) and r.mode == "reduce_only" for r in s.reports)
    fills = store.fills(s.run_id)
    position = sum((f["qty"] if f["side"] == "buy" else -f["qty"]) for f in fills)
    cost = sum((f["qty"] * f["price"] * (1 if f["side"] == "buy" else -1)) for f in fills)
    fees = sum(f["fee"] for f in fills)
    mark = bid + D("0.15")
    loss = cost - position * mark + fees
    one_order = D("0.1") * D("3500")
    assert D("10") <= loss <= D("10") + one_order
    events = [e for e in store.risk_events(s.run_id) if e["decision"] == "kill"]
    assert [e["details"]["level"] for e in events] == ["reduce_only", "halted"]


def test_order_row_that_cannot_be_written_is_never_sent(system: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s = system
    s.market(snapshot())

    def broken(*_a: Any, **_k: Any) -> int:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(store, "insert_order", broken)
    s.risk.ask(intent(s.clock, style="taker", size="0.1", price="3510"), timeout=5)
    s.settle()
    s.clock.advance(50)
    s.settle()
    assert store.fills(s.run_id) == [] and store.orders(s.run_id) == []


def test_restarted_executor_closes_paper_orders_left_open_and_risk_rebuilds_positions(system: Any) -> None:
    s = system
    s.market(snapshot())
    s.risk.ask(intent(s.clock, style="taker", size="0.1", price="3510"), timeout=5)
    s.risk.ask(intent(s.clock), timeout=5)  # a maker that will rest
    s.settle()
    s.clock.advance(50)
    s.settle()
    assert len(store.open_orders(s.run_id)) == 1
    s.executor.stop()  # crash-like: the instance is gone (its on_stop cancels; simulate a kill by reopening the row)
    open_id = [o for o in store.orders(s.run_id) if o["post_only"]][0]["client_order_id"]
    store.update_order(open_id, now_ns=s.clock(), status="new", filled_qty=D(0), avg_fill_price=None,
                       exchange_order_id="PAPER-x", last_error=None)
    s.risk.stop()
    s.router.refs["risk"] = s.start("risk")
    s.router.refs["executor"] = s.start("executor")
    s.risk, s.executor = s.router.refs["risk"], s.router.refs["executor"]
    s.settle()
    assert store.open_orders(s.run_id) == []
    assert "paper venue restarted" in store.orders(s.run_id)[-1]["last_error"]
    s.market(snapshot())
    verdict = s.risk.ask(intent(s.clock, side="sell", size="0.1", price="3499.70"), timeout=5)
    assert verdict.outcome == "approve"  # the position bought before the restart is there to sell


def test_explain_on_a_losing_trade_shows_the_whole_chain(system: Any, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from kraken_runtime.cli import main

    s = system
    s.market(snapshot(bid="3499.70", ask="3500.00"))
    s.risk.ask(intent(s.clock, style="taker", size="0.1", price="3510"), timeout=5)
    s.settle()
    s.clock.advance(50)
    s.settle()
    s.clock.advance(100)
    s.market(snapshot(bid="3480.00", ask="3480.30", ts=s.clock()))  # the market fell 20
    s.risk.ask(intent(s.clock, side="sell", style="taker", size="0.1", price="3470", strategies=("momentum",)), timeout=5)
    s.settle()
    s.clock.advance(50)
    s.settle()
    sell = [o for o in store.orders(s.run_id) if o["side"] == "sell"][0]
    assert sell["status"] == "filled"
    for name in ("executor", "risk"):
        s.router.refs[name].stop()
    assert main(["explain", "--db", db_url, sell["client_order_id"]]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"order {sell['id']}  ETH/USD SELL 0.1 @ 3470  ioc")  # its own limit, inside the band
    assert "realised -2.000000" in out  # bought 0.1 @ 3500.00, sold 0.1 @ 3480.00
    for part in ("fills (1):", "risk decision", "state_guard   approve", "balance       approve", "intent ",
                 "strategies momentum", "signals:", "  imbalance = 0.5", "state: epoch 1  seq 10"):
        assert part in out, part
    assert main(["explain", "--db", db_url, "--json", str(sell["id"])]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["order"]["client_order_id"] == sell["client_order_id"] and doc["pnl"]["realised_usd"] == "-2.000"
    assert main(["explain", "--db", db_url, "no-such-order"]) == 1
    assert "no order 'no-such-order'" in capsys.readouterr().err


def test_session_summary_file_has_orders_fills_pnl_by_strategy_and_rejections_by_rule(system: Any, tmp_path: Any) -> None:
    from kraken_runtime.session import write_session_summary

    s = system
    s.market(snapshot())
    s.risk.ask(intent(s.clock, style="taker", size="0.1", price="3510", strategies=("momentum",)), timeout=5)
    s.risk.ask(intent(s.clock, epoch=7), timeout=5)  # rejected by the state guard
    s.settle()
    s.clock.advance(50)
    s.settle()
    path = write_session_summary(s.run_id, str(tmp_path / "logs"))
    assert path is not None and path.name == f"session_{s.run_id}.json"
    doc = orjson.loads(path.read_bytes())
    assert doc["orders"] == {"total": 1, "by_status": {"filled": 1}} and doc["fills"]["total"] == 1
    assert doc["rejections_by_rule"] == {"state_guard": 1} and doc["risk_decisions"] == {"accepted": 1, "rejected": 1}
    assert doc["pnl_by_strategy"]["momentum ETH/USD"]["position_qty"] == "0.1"
    taker = sim_instrument_rules((SYMBOL,))[SYMBOL].taker_fee_rate  # the sim's ETH/USD tier-0 taker fee
    assert D(doc["fees"]) == D("0.1") * D("3500.00") * taker


def test_hybrid_rests_post_only_then_crosses_as_a_bounded_taker_while_its_intent_holds(system: Any) -> None:
    s = system
    s.market(snapshot(bid="3499.70", ask="3500.00"))
    s.risk.ask(intent(s.clock, style="hybrid", size="0.05", price="3499.70"), timeout=5)
    s.settle()
    s.clock.advance(50)
    s.settle()
    [maker] = store.orders(s.run_id)
    assert maker["post_only"] and maker["status"] == "new"
    s.clock.advance(1000)  # hybrid_cross_ms passed, the intent (2 s) still holds
    s.settle()
    s.clock.advance(50)
    s.settle()
    maker, taker = store.orders(s.run_id)
    assert maker["status"] == "canceled" and "hybrid" in maker["last_error"]
    assert taker["time_in_force"] == "ioc" and not taker["post_only"] and taker["price"] == D("3500.00")
    assert taker["status"] == "filled" and taker["intent_id"] == maker["intent_id"]
    [fill] = store.fills(s.run_id)
    assert fill["liquidity"] == "taker" and fill["qty"] == D("0.05")


def test_hybrid_does_not_cross_after_its_intent_expired(system: Any) -> None:
    s = system
    s.market(snapshot(bid="3499.70", ask="3500.00"))
    s.risk.ask(intent(s.clock, style="hybrid", size="0.05", price="3499.70"), timeout=5)
    s.settle()
    s.clock.advance(2500)  # past the intent's expiry
    s.settle()
    assert [o["post_only"] for o in store.orders(s.run_id)] == [True] and store.fills(s.run_id) == []
