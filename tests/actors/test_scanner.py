"""The route engine at actor level: the real strategies and scanner under the real supervisor, on SQLite and
PostgreSQL, fed snapshots by a driver thread (as the state holders would), a probe standing in for `risk`.
Conditions are awaited with deadlines, never sleeps."""

from __future__ import annotations

import threading
import time
from decimal import Decimal as D
from typing import Any

import pykka
import pytest

from kraken_runtime.actors.base import PeriodicTimer
from kraken_runtime.actors.directory import Directory
from kraken_runtime.actors.metrics import RuntimeMetrics
from kraken_runtime.actors.route import route_child_specs
from kraken_runtime.actors.route_metrics import RouteMetrics
from kraken_runtime.actors.supervisor import SupervisorActor, SupervisorConfig
from kraken_runtime.actors.supervisor_store import DatabaseStore
from kraken_runtime.core import control as ctl
from kraken_runtime.core.config import load_settings
from kraken_runtime.core.features import depth_within_bps, imbalance, microprice, mid_price, spread_bps
from kraken_runtime.core.marketdata import READY, StateSnapshot
from kraken_runtime.core.messages import ApplyControl, GetStatus, Intent, StartChildren, StopChildren, StrategyFill, SupervisorTick
from kraken_runtime.core.supervision import Backoff, RestartBudget

SYMBOLS = ("BTC/USD", "ETH/USD")
TIMEOUT = 5.0


def fast_settings(symbols: tuple[str, ...] = SYMBOLS, **scanner: Any):
    values = dict(scan_interval_ms=20, epoch_settle_ms=0, regime_sample_ms=10, regime_min_samples=3, min_intent_interval_ms=50,
                  scorecard_write_interval_s=0.2, regime_confirm_samples=1)
    values.update(scanner)
    return load_settings(overrides={"runtime": {"symbols": list(symbols), "status_interval_s": 1.0},
                                    "scanner": values,
                                    "strategies": {"spread_compression": {"min_samples": 3, "sample_ms": 10},
                                                   "momentum": {"min_samples": 3, "sample_ms": 10}}})


def bid_heavy(symbol: str, seq: int, epoch: int = 1) -> StateSnapshot:
    """Bids 19 times the asks within 10 bps: imbalance fires buy; nothing moves, so the others stay silent."""
    bids = tuple((D("100") - D("0.01") * i, D("95")) for i in range(5))
    asks = tuple((D("100.02") + D("0.01") * i, D("5")) for i in range(5))
    mid = mid_price(bids[0][0], asks[0][0])
    depth_bid, depth_ask = depth_within_bps(bids, mid, D(10), side="bid"), depth_within_bps(asks, mid, D(10), side="ask")
    return StateSnapshot(
        symbol=symbol, status=READY, epoch=epoch, seq=seq, state_ts_ns=time.time_ns(), best_bid=bids[0][0], best_bid_qty=bids[0][1],
        best_ask=asks[0][0], best_ask_qty=asks[0][1], mid=mid, spread_bps=spread_bps(bids[0][0], asks[0][0]),
        microprice=microprice(bids[0], asks[0]), depth_bid=depth_bid, depth_ask=depth_ask, imbalance=imbalance(depth_bid, depth_ask),
        trade_imbalance=None, last_trade_price=None, last_trade_qty=None, last_trade_side=None, last_trade_ns=None,
        volatility_bps=((60, None),), l3_quality=None, ref_price=mid, premium_bps=D(0), bids=bids, asks=asks, venue_status="online")


class IntentLog:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[float, Intent]] = []

    def add(self, intent: Intent) -> None:
        with self.lock:
            self.received.append((time.monotonic(), intent))

    def intents(self) -> list[tuple[float, Intent]]:
        with self.lock:
            return list(self.received)


class RiskProbe(pykka.ThreadingActor):
    """Stands in for the risk envelope: records every Intent it is told, with its arrival time."""

    def __init__(self, log: IntentLog) -> None:
        super().__init__()
        self.log = log

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Intent):
            self.log.add(message)


class Route:
    """Strategies + scanner under a supervisor, fed bid-heavy snapshots every 10 ms."""

    def __init__(self, settings, run_id: int, pace_s: float = 0.01, **supervision: Any) -> None:
        self.symbols = settings.runtime.symbols
        self.pace_s = pace_s
        runtime_metrics = RuntimeMetrics()
        self.registry = runtime_metrics.registry
        self.directory = Directory(runtime_metrics)
        self.metrics = RouteMetrics(self.registry)
        self.risk = IntentLog()
        self.risk_ref = RiskProbe.start(self.risk)
        self.directory.register("risk")
        self.directory.attach("risk", self.risk_ref)
        specs = route_child_specs(settings, run_id=run_id, send=self.directory.send, send_latest=self.directory.send_latest,
                                  peer_state=self.directory.state, metrics=self.metrics,
                                  budget=RestartBudget(max_restarts=2, period_s=60),
                                  backoff=Backoff(initial_s=0.01, max_s=0.05, jitter_ratio=0.0))
        from kraken_runtime.storage import repo
        self.supervisor = SupervisorActor.start(
            specs=specs, directory=self.directory, metrics=runtime_metrics, store=DatabaseStore(run_id=run_id, shard="default"),
            config=SupervisorConfig(control_poll_interval_s=0.05, run_id=run_id, **supervision), strategies=repo.strategy_enabled_map())
        self.supervisor.ask(StartChildren(), timeout=TIMEOUT)
        self.sweeper = PeriodicTimer(0.02, self.supervisor, lambda _n: SupervisorTick(), name="test-sweep", max_pending=3)
        self.sweeper.start()
        self.stop_feeding = threading.Event()
        self.seq = 0
        self.feeder = threading.Thread(target=self._feed, daemon=True)
        self.feeder.start()

    def _feed(self) -> None:
        while not self.stop_feeding.wait(self.pace_s):  # the pace of a market, not a synchronisation
            self.seq += 1
            for symbol in self.symbols:
                self.directory.send_latest("scanner", symbol, bid_heavy(symbol, self.seq))

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.registry.get_sample_value(name, labels or {}) or 0.0

    def child_state(self, name: str) -> str:
        doc = self.supervisor.ask(GetStatus(), timeout=TIMEOUT)
        return next(child["state"] for child in doc["children"] if child["name"] == name)

    def stop(self, *, feeding: bool = False) -> dict[str, str]:
        """Stop the children (`feeding`: while the driver still feeds snapshots); each child's stop outcome."""
        if not feeding:
            self.stop_feeding.set()
            self.feeder.join(TIMEOUT)
        self.sweeper.stop()
        outcomes = self.supervisor.ask(StopChildren(deadline_s=TIMEOUT * 2), timeout=TIMEOUT * 3)
        self.stop_feeding.set()
        self.feeder.join(TIMEOUT)
        self.supervisor.stop(timeout=TIMEOUT)
        self.risk_ref.stop(timeout=TIMEOUT)
        return dict(outcomes)


@pytest.fixture
def database(db_url):
    from kraken_runtime.storage import repo
    from kraken_runtime.storage.db import close_database, open_database

    db = open_database(db_url)
    yield repo
    close_database(db)


def new_run(repo) -> int:
    return repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h", pid=1,
                          now_ns=time.time_ns())


def test_snapshots_become_stored_intents_with_the_epoch_and_seq_of_their_snapshot(database, wait_until):
    from kraken_runtime.storage import route as route_store
    run_id = new_run(database)
    route = Route(fast_settings(), run_id)
    try:
        wait_until(lambda: len(route.risk.intents()) >= 4, timeout=10, what="intents at the risk probe")
        wait_until(lambda: route_store.scorecard(run_id), timeout=5, what="the scorecard stored")
    finally:
        route.stop()
    received = [intent for _, intent in route.risk.intents()]
    # Sent unstored: the risk envelope stores each intent with its decision (tests/actors/test_execution.py);
    # this probe stores nothing, so nothing is in `intents`, and each carries the snapshot it will be stored with.
    assert route_store.intents(run_id) == []
    for intent in received:
        assert intent.intent_id == 0
        state = intent.snapshot_state()
        assert (state["epoch"], state["seq"], state["state_ts_ns"]) == (intent.epoch, intent.seq, intent.state_ts_ns)
        assert state["bid"] == "100.00000000" and state["recv_ts_ns"] == intent.recv_ts_ns
        assert intent.side == "buy" and intent.strategies == ("imbalance",) and intent.style == "maker"
        reasons = dict(intent.reasons)
        assert reasons["imbalance"].startswith("buy strength=1.0000") and reasons["imbalance.min_imbalance"] == "0.3000"
        assert reasons["regime"] == "calm" and reasons["score"] == "0.2500"
    assert route.sample("krt_intents_total", {"symbol": "BTC/USD", "side": "buy"}) >= 1
    assert route.sample("krt_signals_total", {"strategy": "imbalance", "symbol": "ETH/USD"}) >= 1
    assert route.sample("krt_signals_total", {"strategy": "momentum", "symbol": "ETH/USD"}) == 0
    assert route.sample("krt_symbol_eligible", {"symbol": "BTC/USD"}) == 1
    assert route.sample("krt_regime", {"symbol": "BTC/USD", "regime": "calm"}) == 1
    assert route.sample("krt_tick_to_intent_seconds_count") >= len(received)
    card = {(row["strategy"], row["symbol"]): row for row in route_store.scorecard(run_id)}
    assert card[("imbalance", "BTC/USD")]["signals"] >= 1 and card[("imbalance", "BTC/USD")]["intents"] >= 1


def test_an_intent_the_risk_envelope_cannot_take_is_stored_undecided_by_the_scanner(database, wait_until):
    from kraken_runtime.storage import route as route_store
    run_id = new_run(database)
    route = Route(fast_settings(), run_id)
    try:
        wait_until(lambda: route.risk.intents(), timeout=10, what="first intent at the risk probe")
        route.directory.detach("risk", "restarting")
        wait_until(lambda: route_store.intents(run_id), timeout=10, what="an intent stored by the scanner")
    finally:
        route.stop()
    rows = route_store.intents(run_id)
    assert all(row["strategy"] == "imbalance" and row["side"] == "buy" for row in rows)
    assert all(row["state"]["bid"] == "100.00000000" and row["state"]["epoch"] == row["epoch"] for row in rows)
    assert route.sample("krt_intents_not_stored_total") == 0


def test_a_crash_looping_strategy_is_disabled_alone_and_the_others_keep_producing_intents(database, wait_until):
    run_id = new_run(database)
    route = Route(fast_settings(), run_id)
    try:
        wait_until(lambda: route.risk.intents(), timeout=10, what="first intent")
        result = route.supervisor.ask(ApplyControl(command=ctl.InjectFault(actor="strategy:momentum", times=1000)), timeout=TIMEOUT)
        assert result.status == "applied"
        wait_until(lambda: route.child_state("strategy:momentum") == "disabled", timeout=10, what="momentum disabled")
        disabled_at_ns = time.time_ns()
        wait_until(lambda: any(i.created_at_ns > disabled_at_ns for _, i in route.risk.intents()), timeout=5,
                   what="intents decided after the disable")
        assert route.child_state("strategy:imbalance") == "running" and route.child_state("scanner") == "running"
        wait_until(lambda: route.sample("krt_strategy_enabled", {"strategy": "momentum"}) == 0, timeout=3,
                   what="momentum reported as not contributing")
        assert route.sample("krt_strategy_enabled", {"strategy": "imbalance"}) == 1
    finally:
        route.stop()
    # decided after the disable (one decided just before may still be on its way: stored, then sent)
    later = [intent for _, intent in route.risk.intents() if intent.created_at_ns > disabled_at_ns]
    # three strategies still count: imbalance alone now scores 1/3
    assert later and [dict(intent.reasons)["total_weight"] for intent in later] == ["3.0000"] * len(later), \
        [(intent.created_at_ns - disabled_at_ns, dict(intent.reasons)["total_weight"]) for intent in later]


def test_ctl_disable_stops_a_strategy_within_1s_and_it_stays_off_after_a_restart(database, wait_until):
    repo = database
    run_id = new_run(repo)
    route = Route(fast_settings(), run_id)
    try:
        wait_until(lambda: route.risk.intents(), timeout=10, what="first intent")
        command_id = repo.insert_control_command("disable-strategy", {"strategy": "imbalance"}, issued_by="test", now_ns=time.time_ns())
        wait_until(lambda: repo.get_control_command(command_id).status == "applied", timeout=5, what="command applied")
        applied_at = time.monotonic()
        scans = route.sample("krt_scans_total")
        wait_until(lambda: route.sample("krt_scans_total") >= scans + 75, timeout=10, what="1.5 s of scans after the disable")
        late = [intent for t, intent in route.risk.intents() if t > applied_at + 1.0 and "imbalance" in intent.strategies]
        assert late == []
        assert route.sample("krt_strategy_enabled", {"strategy": "imbalance"}) == 0
        assert route.child_state("strategy:imbalance") == "running"  # idle, not failed
    finally:
        route.stop()
    assert repo.strategy_enabled_map()["imbalance"] is False

    restarted = Route(fast_settings(), new_run(repo))  # a new daemon run on the same database
    try:
        scans = restarted.sample("krt_scans_total")
        wait_until(lambda: restarted.sample("krt_scans_total") >= scans + 50, timeout=10, what="a second of scans")
        assert restarted.risk.intents() == []
        assert restarted.sample("krt_signals_total", {"strategy": "imbalance", "symbol": "BTC/USD"}) == 0
        command_id = repo.insert_control_command("enable-strategy", {"strategy": "imbalance"}, issued_by="test", now_ns=time.time_ns())
        wait_until(lambda: restarted.risk.intents(), timeout=5, what="intents again after enable-strategy")
    finally:
        restarted.stop()


def test_scorecard_pauses_a_losing_strategy_through_the_control_channel_and_ctl_lifts_it(database, wait_until):
    repo = database
    run_id = new_run(repo)
    route = Route(fast_settings(scorecard_trades=3), run_id)
    try:
        wait_until(lambda: route.risk.intents(), timeout=10, what="first intent")
        for i in range(3):
            route.directory.send("scanner", StrategyFill(strategy="imbalance", symbol="ETH/USD", realised_pnl_usd=D("-1"),
                                                         fee_usd=D("0.05"), ts_ns=time.time_ns(), exec_id=f"e{i}"))
        wait_until(lambda: repo.strategy_enabled_map().get("imbalance") is False, timeout=5, what="pause persisted")
        (paused,) = [c for c in repo.recent_control_commands(10) if c.issued_by == "scorecard"]
        assert paused.command == "disable-strategy" and "expectancy after fees -1.0500 USD" in paused.args["reason"]
        assert ("strategy:imbalance", "paused") in [(a, e) for a, e, _ in repo.actor_events(run_id)]
        wait_until(lambda: route.sample("krt_strategy_pnl_usd", {"strategy": "imbalance"}) == -3.15, timeout=3, what="pnl exported")
        paused_at = time.monotonic()
        scans = route.sample("krt_scans_total")
        wait_until(lambda: route.sample("krt_scans_total") >= scans + 50, timeout=10, what="scans while paused")
        assert not [i for t, i in route.risk.intents() if t > paused_at + 0.5]
        repo.insert_control_command("enable-strategy", {"strategy": "imbalance"}, issued_by="test", now_ns=time.time_ns())
        wait_until(lambda: any(t > paused_at + 0.5 for t, _ in route.risk.intents()), timeout=5, what="lifted by ctl")
    finally:
        route.stop()


def test_a_strategy_that_raises_on_the_scanners_thread_is_isolated_restarted_counted_and_logged_once(database, wait_until,
                                                                                                        monkeypatch, caplog):
    from kraken_runtime.core.signals.momentum import MomentumStrategy

    calls = {"n": 0}
    real = MomentumStrategy.on_snapshot

    def flaky(self, snapshot):
        calls["n"] += 1
        if calls["n"] == 20:  # once, after it has been producing for a while
            raise ZeroDivisionError("momentum divided by nothing")
        return real(self, snapshot)

    monkeypatch.setattr(MomentumStrategy, "on_snapshot", flaky)
    run_id = new_run(database)
    route = Route(fast_settings(), run_id)
    try:
        wait_until(lambda: route.sample("krt_strategy_errors_total", {"strategy": "momentum"}) == 1, timeout=10,
                   what="the strategy's error counted")
        wait_until(lambda: ("strategy:momentum", "restarted") in [(a, e) for a, e, _ in database.actor_events(run_id)],
                   timeout=10, what="the strategy's actor restarted by the supervisor")
        wait_until(lambda: calls["n"] > 40, timeout=10, what="the fresh instance called again")
        intents = len(route.risk.intents())
        wait_until(lambda: len(route.risk.intents()) > intents, timeout=10, what="intents after the failure")
        assert route.child_state("scanner") == "running" and route.child_state("strategy:momentum") == "running"
        assert [e for a, e, _ in database.actor_events(run_id) if a == "scanner"] == ["started"]  # never went down
    finally:
        route.stop()
    lines = [r for r in caplog.records if "strategy momentum raised" in r.getMessage()]
    assert len(lines) == 1 and "ZeroDivisionError: momentum divided by nothing" in lines[0].getMessage()
    assert route.sample("krt_strategy_errors_total", {"strategy": "imbalance"}) == 0


def test_a_saturated_scanner_keeps_a_bounded_mailbox_at_20_symbols_and_stops_within_its_budget(database, wait_until,
                                                                                                  monkeypatch):
    """Snapshots coalesce per symbol and nothing else queues per snapshot (the strategies run on the scanner's
    thread, so no signal messages): however far behind the scanner is, its mailbox holds at most one snapshot
    per symbol plus its timers' ticks, and its stop does not wait behind a backlog."""
    from kraken_runtime.core.signals.momentum import MomentumStrategy

    real = MomentumStrategy.on_snapshot

    def slow(self, snapshot):  # 20 symbols x 2 ms: the scanner cannot keep up with a snapshot per symbol per ms
        time.sleep(0.002)
        return real(self, snapshot)

    monkeypatch.setattr(MomentumStrategy, "on_snapshot", slow)
    symbols = tuple(f"S{i:02d}/USD" for i in range(20))
    route = Route(fast_settings(symbols), new_run(database), pace_s=0.001)
    depths: list[int] = []

    def busy_for_a_while() -> bool:
        depths.append(route.directory.mailbox_depth("scanner"))
        return route.sample("krt_signals_total", {"strategy": "imbalance", "symbol": "S19/USD"}) >= 30

    try:
        wait_until(busy_for_a_while, timeout=30, what="every symbol scanned for a while")
        assert route.sample("krt_messages_coalesced_total", {"actor": "scanner"}) > 0  # it was behind
    finally:
        outcomes = route.stop(feeding=True)  # the driver keeps feeding while the children stop
    # 20 snapshot deliveries, and the scan and regime timers skip their ticks from 10 pending on
    assert max(depths) <= 20 + 10 + 10 + 5, max(depths)
    assert outcomes["scanner"] == "stopped", outcomes
    assert all(outcome == "stopped" for name, outcome in outcomes.items() if name.startswith("strategy:")), outcomes


def test_a_strategy_that_never_returns_costs_a_scanner_restart_and_is_then_failed_by_the_new_scanner(database, wait_until,
                                                                                                     monkeypatch):
    from kraken_runtime.core.signals.momentum import MomentumStrategy

    release = threading.Event()
    calls = {"n": 0}
    real = MomentumStrategy.on_snapshot

    def stuck_once(self, snapshot):
        calls["n"] += 1
        if calls["n"] == 20:
            release.wait(30)  # hangs the scanner's thread until the test ends
        return real(self, snapshot)

    monkeypatch.setattr(MomentumStrategy, "on_snapshot", stuck_once)
    run_id = new_run(database)
    route = Route(fast_settings(), run_id, heartbeat_interval_s=0.1, heartbeat_deadline_s=0.5)
    try:
        wait_until(lambda: ("scanner", "hung") in [(a, e) for a, e, _ in database.actor_events(run_id)], timeout=15,
                   what="the hung scanner replaced")
        wait_until(lambda: route.sample("krt_strategy_errors_total", {"strategy": "momentum"}) == 1, timeout=10,
                   what="the new scanner blames the strategy it was stuck in")
        wait_until(lambda: ("strategy:momentum", "restarted") in [(a, e) for a, e, _ in database.actor_events(run_id)],
                   timeout=10, what="the strategy restarted with a fresh instance")
        intents = len(route.risk.intents())
        wait_until(lambda: len(route.risk.intents()) > intents, timeout=10, what="intents from the new scanner")
        # the fresh instance is called (the new scanner's first intents may come from the other strategies first)
        wait_until(lambda: calls["n"] > 20, timeout=10, what="the restarted strategy's fresh instance called")
    finally:
        release.set()
        route.stop()
