"""Ingest against the local exchange: real feed and state actors under the real supervisor, faults
injected through the sim, conditions awaited with deadlines (never sleeps)."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from typing import Any

import orjson
import pykka
import pytest
from websockets.sync.server import serve

from kraken_runtime.actors.base import LatestDelivery, PeriodicTimer
from kraken_runtime.actors.ingest import MarketSource, ingest_child_specs
from kraken_runtime.market import open_market
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.actors.metrics import RuntimeMetrics
from kraken_runtime.actors.supervisor import Directory, SupervisorActor, SupervisorConfig
from kraken_runtime.core import control as ctl
from kraken_runtime.core.config import Secrets, load_settings
from kraken_runtime.core.kraken.book import BookMessage
from kraken_runtime.core.marketdata import READY, MarketBatch, StateSnapshot
from kraken_runtime.core.messages import ApplyControl, StartChildren, StopChildren, SupervisorTick
from kraken_runtime.core.supervision import Backoff, RestartBudget
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database

SYMBOLS = ("BTC/USD", "ETH/USD")


class SnapshotLog:
    def __init__(self) -> None:
        self.snapshots: list[tuple[int, StateSnapshot]] = []
        self.lock = threading.Lock()

    def add(self, snapshot: StateSnapshot) -> None:
        with self.lock:
            self.snapshots.append((time.time_ns(), snapshot))

    def taken(self, symbol: str | None = None) -> list[tuple[int, StateSnapshot]]:
        with self.lock:
            return [(t, s) for t, s in self.snapshots if symbol is None or s.symbol == symbol]


class ScannerProbe(pykka.ThreadingActor):
    """Stands in for the scanner: records every StateSnapshot it receives."""

    def __init__(self, log: SnapshotLog) -> None:
        super().__init__()
        self.log = log

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, LatestDelivery):
            message = message.slot.take()
        if isinstance(message, StateSnapshot):
            self.log.add(message)


class Ingest:
    """The ingest children of the daemon, wired as the daemon wires them, plus a probe scanner."""

    def __init__(self, settings, source: MarketSource, run_id: int, store) -> None:
        self.settings = settings
        self.source = source
        self.run_id = run_id
        runtime_metrics = RuntimeMetrics()
        self.registry = runtime_metrics.registry
        self.metrics = IngestMetrics(self.registry)
        self.directory = Directory(runtime_metrics)
        self.probe = SnapshotLog()
        self.probe_ref = ScannerProbe.start(self.probe)
        self.directory.register("scanner")
        self.directory.attach("scanner", self.probe_ref)
        specs = ingest_child_specs(
            settings, run_id=run_id, source=source, send=self.directory.send, send_latest=self.directory.send_latest,
            metrics=self.metrics, budget=RestartBudget(max_restarts=5, period_s=60),
            backoff=Backoff(initial_s=0.05, max_s=0.5, jitter_ratio=0.1), version="test", scanner_name="scanner", peer_state=self.directory.state,
        )
        self.supervisor = SupervisorActor.start(
            specs=specs, directory=self.directory, metrics=runtime_metrics, store=store,
            config=SupervisorConfig(heartbeat_interval_s=0.5, heartbeat_deadline_s=10, run_id=run_id),
        )
        self.supervisor.ask(StartChildren(), timeout=30)
        self.sweeper = PeriodicTimer(0.05, self.supervisor, lambda _n: SupervisorTick(), name="test-sweep", max_pending=3)
        self.sweeper.start()

    def stop(self) -> None:
        self.sweeper.stop()
        if self.supervisor.is_alive():
            self.supervisor.ask(StopChildren(deadline_s=10), timeout=20)
            self.supervisor.stop(timeout=10)

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def states(self) -> dict[str, dict[str, Any]]:
        return {row["symbol"]: row for row in repo.symbol_states(self.run_id)}

    def all_ready(self) -> bool:
        states = self.states()
        return all(states.get(symbol, {}).get("status") == READY for symbol in self.settings.runtime.symbols)


def ingest_settings(layout: str = "shared", feed: dict[str, str] | None = None, **state_overrides: str):
    env = {
        "KRT_FEED__CONNECTION": layout,
        "KRT_RUNTIME__SYMBOLS": ",".join(SYMBOLS),
        "KRT_FEED__IDLE_TIMEOUT_MS": "800",
        "KRT_FEED__RECONNECT_INITIAL_MS": "50",
        "KRT_FEED__RECONNECT_MAX_MS": "500",
        "KRT_STATE__WRITE_INTERVAL_MS": "100",
        "KRT_STATE__SNAPSHOT_INTERVAL_MS": "20",
        "KRT_STATE__STALE_AFTER_MS": "1000",
    }
    env.update({f"KRT_STATE__{key.upper()}": value for key, value in state_overrides.items()})
    env.update({f"KRT_FEED__{key.upper()}": value for key, value in (feed or {}).items()})
    return load_settings(env=env)


@pytest.fixture
def database(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'ingest.db'}")
    yield db
    close_database(db)


@pytest.fixture
def run_id(database) -> int:
    return repo.start_run(mode="paper", market="sim", shard="test", config_hash="t", version="test", hostname="h",
                          pid=1, now_ns=time.time_ns())


@pytest.fixture(params=["shared"])
def settings(request):
    """Shared connection (the default layout); tests that need per-symbol isolation parametrize it (a dict
    param: ingest_settings keywords)."""
    param = request.param
    return ingest_settings(**param) if isinstance(param, dict) else ingest_settings(param)


@pytest.fixture
def source(settings):
    market = open_market(settings, Secrets())
    yield market
    market.stop()


@pytest.fixture
def ingest(settings, source, run_id, store, wait_until):
    harness = Ingest(settings, source, run_id, store)
    wait_until(harness.all_ready, timeout=20, what="every symbol ready")
    yield harness
    harness.stop()


def sim_book(source: MarketSource, symbol: str, depth: int = 10):
    return source.sim.call(source.sim.exchange.book, symbol, depth)


def test_every_symbol_becomes_ready_and_its_row_matches_the_exchange_book(ingest, source, wait_until):
    for symbol in SYMBOLS:
        def matches(symbol=symbol):
            bids, asks = sim_book(source, symbol, 1)
            row = ingest.states()[symbol]
            return row["best_bid"] == bids[0][0] and row["best_ask"] == asks[0][0] and row["status"] == READY
        wait_until(matches, timeout=15, what=f"{symbol} row equal to the exchange's best bid/ask")
    rows = ingest.states()
    assert {row["epoch"] for row in rows.values()} == {1}
    assert all(row["mid"] == (row["best_bid"] + row["best_ask"]) / 2 for row in rows.values())
    assert ingest.value("krt_book_checksum_failures_total", symbol="BTC/USD", book="l2") == 0
    assert ingest.value("krt_state_ready", symbol="BTC/USD") == 1


def test_snapshots_reach_the_scanner_with_the_book_top(ingest, wait_until):
    wait_until(lambda: len(ingest.probe.taken("BTC/USD")) >= 3, timeout=10, what="snapshots for BTC/USD")
    _, snapshot = ingest.probe.taken("BTC/USD")[-1]
    assert snapshot.status == READY and snapshot.epoch >= 1
    assert snapshot.bids[0][0] == snapshot.best_bid and snapshot.asks[0][0] == snapshot.best_ask
    assert snapshot.best_bid < snapshot.best_ask


def test_dropped_connections_recover_with_a_new_epoch_for_every_symbol(ingest, source, wait_until):
    epochs = {symbol: row["epoch"] for symbol, row in ingest.states().items()}
    source.sim.inject_fault({"fault": "drop_connections"})
    wait_until(lambda: all(ingest.states()[s]["epoch"] > epochs[s] and ingest.states()[s]["status"] == READY for s in SYMBOLS),
               timeout=20, what="every symbol ready again with a new epoch")
    assert ingest.value("krt_feed_reconnects_total", symbol="BTC/USD") >= 1


@pytest.mark.parametrize("settings", ["per_symbol"], indirect=True)
def test_silent_stall_per_symbol_layout_is_detected_reconnected_and_other_symbols_are_unaffected(ingest, source, wait_until):
    before = ingest.states()
    source.sim.inject_fault({"fault": "stall_feed", "symbol": "BTC/USD", "seconds": 3})
    wait_until(lambda: ingest.value("krt_feed_stalls_total", symbol="BTC/USD") >= 1, timeout=10, what="a stall counted")
    wait_until(lambda: ingest.states()["BTC/USD"]["epoch"] > before["BTC/USD"]["epoch"]
               and ingest.states()["BTC/USD"]["status"] == READY, timeout=20, what="BTC/USD rebuilt")
    assert ingest.value("krt_feed_stalls_total", symbol="ETH/USD") == 0
    assert ingest.states()["ETH/USD"]["epoch"] == before["ETH/USD"]["epoch"]


def test_one_symbol_silent_on_a_shared_connection_is_caught_and_rebuilt_alone(ingest, source, wait_until):
    # The connection stays busy (ETH frames, heartbeats): only the state holder can see BTC/USD went quiet.
    before = ingest.states()
    source.sim.inject_fault({"fault": "stall_feed", "symbol": "BTC/USD", "seconds": 3})
    wait_until(lambda: ingest.value("krt_feed_stalls_total", symbol="BTC/USD") >= 1, timeout=10, what="a stall counted")
    # (The stale status itself may last only milliseconds once the resubscribe is answered, so the
    # counters and the epoch are what is asserted, not a row that may be coalesced away.)
    wait_until(lambda: ingest.states()["BTC/USD"]["epoch"] > before["BTC/USD"]["epoch"]
               and ingest.states()["BTC/USD"]["status"] == READY, timeout=20, what="BTC/USD rebuilt")
    assert ingest.states()["ETH/USD"]["epoch"] == before["ETH/USD"]["epoch"]
    assert ingest.value("krt_feed_stalls_total", symbol="ETH/USD") == 0
    assert ingest.value("krt_feed_reconnects_total", symbol="BTC/USD") == 0  # no reconnect was needed


@pytest.mark.parametrize("settings", ["per_symbol", "shared"], indirect=True)
def test_corrupted_checksum_resyncs_only_that_symbol_and_publishes_nothing_meanwhile(ingest, source, wait_until):
    before = ingest.states()
    source.sim.inject_fault({"fault": "corrupt_checksum", "symbol": "BTC/USD", "count": 1})
    wait_until(lambda: ingest.value("krt_book_checksum_failures_total", symbol="BTC/USD", book="l2") >= 1,
               timeout=10, what="a checksum failure")
    wait_until(lambda: ingest.states()["BTC/USD"]["epoch"] == before["BTC/USD"]["epoch"] + 1
               and ingest.states()["BTC/USD"]["status"] == READY, timeout=15, what="BTC/USD rebuilt with epoch + 1")
    assert ingest.value("krt_book_resyncs_total", symbol="BTC/USD") == 1
    assert ingest.states()["ETH/USD"]["epoch"] == before["ETH/USD"]["epoch"]
    assert ingest.value("krt_book_checksum_failures_total", symbol="ETH/USD", book="l2") == 0
    # Every snapshot the scanner got is from a ready book, and epochs never go back.
    epochs = [snapshot.epoch for _, snapshot in ingest.probe.taken("BTC/USD")]
    assert epochs == sorted(epochs)
    assert all(snapshot.status == READY for _, snapshot in ingest.probe.taken())


def test_state_rows_are_coalesced_to_the_write_interval(ingest, wait_until):
    start = ingest.value("krt_state_writes_total", symbol="BTC/USD")
    frames_start = ingest.value("krt_feed_messages_total", symbol="BTC/USD", channel="book")
    t0 = time.monotonic()
    wait_until(lambda: time.monotonic() - t0 >= 2.0, timeout=5, what="two seconds of traffic")
    elapsed = time.monotonic() - t0
    writes = ingest.value("krt_state_writes_total", symbol="BTC/USD") - start
    frames = ingest.value("krt_feed_messages_total", symbol="BTC/USD", channel="book") - frames_start
    bound = elapsed / (ingest.settings.state.write_interval_ms / 1000) + 2  # + status changes and edges
    assert writes <= bound, (writes, bound)
    assert frames > writes  # coalescing actually happened


def test_crashed_feed_makes_its_symbols_stale_until_the_new_instance_brings_a_snapshot(ingest, wait_until):
    before = ingest.states()
    ingest.supervisor.ask(_inject("feed:public", 1), timeout=5)
    wait_until(lambda: all(ingest.states()[s]["epoch"] > before[s]["epoch"] and ingest.states()[s]["status"] == READY
                           for s in SYMBOLS), timeout=20, what="every symbol rebuilt after the feed restart")
    assert all(ingest.value("krt_book_resyncs_total", symbol=s) >= 1 for s in SYMBOLS)
    # The crashed instance's reader closed with it: one public reader feeds the books, not two.
    readers = lambda: [t for t in threading.enumerate() if t.name.startswith("feed:public-public-reader-") and t.is_alive()]  # noqa: E731
    wait_until(lambda: len(readers()) == 1, timeout=10, what="only the new instance's reader left")


def test_disabled_feed_makes_its_symbols_ineligible(ingest, wait_until):
    feed = "feed:public"
    # Six faults drive the feed over its restart budget (5 in 60 s): it is disabled alone.
    ingest.supervisor.ask(_inject(feed, 6), timeout=5)
    wait_until(lambda: ingest.directory.state(feed) == "disabled", timeout=30, what="the feed disabled")
    wait_until(lambda: all(ingest.states()[s]["status"] == "disabled" for s in SYMBOLS), timeout=10,
               what="its symbols disabled")
    assert all(ingest.value("krt_state_ready", symbol=s) == 0 for s in SYMBOLS)
    assert ingest.directory.state("feed:reference") == "running"
    # The operator brings the feed back: its symbols leave `disabled` and rebuild from a fresh snapshot.
    ingest.supervisor.ask(_restart(feed), timeout=5)
    wait_until(lambda: all(ingest.states()[s]["status"] == READY for s in SYMBOLS), timeout=20,
               what="its symbols ready again")


def _restart(actor: str):
    return ApplyControl(command=ctl.parse_command("restart", {"actor": actor}))


def test_restarted_state_holder_keeps_epochs_increasing(ingest, source, wait_until):
    epoch = ingest.states()["BTC/USD"]["epoch"]
    # Make the state holder fail once; the supervisor restarts it and it resumes from its stored row.
    ingest.supervisor.ask(_inject("state:BTC/USD", 1), timeout=5)
    wait_until(lambda: ingest.states()["BTC/USD"]["epoch"] > epoch and ingest.states()["BTC/USD"]["status"] == READY,
               timeout=20, what="BTC/USD ready after the restart with a later epoch")


def _inject(actor: str, times: int):
    return ApplyControl(command=ctl.parse_command("inject-fault", {"actor": actor, "times": times}))


class ScriptedVenue:
    """A WebSocket server speaking just enough Kraken: a status frame, then after the subscriptions the
    recorded BTC/USD snapshot and updates with one malformed frame in the middle, then heartbeats."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = frames
        self.connections = 0
        self.done = threading.Event()
        self.server = serve(self._handle, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/v2"

    def _handle(self, ws) -> None:
        self.connections += 1
        ws.send('{"channel":"status","type":"update","data":[{"version":"2.0.10","system":"online","api_version":"v2","connection_id":1}]}')
        subscribed = 0
        while subscribed < 4:  # instrument, ticker, trade, book
            if "subscribe" in ws.recv(timeout=5):
                subscribed += 1
        for index, frame in enumerate(self.frames):
            if index == 5:
                ws.send('{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":')  # cut short
            ws.send(frame)
        self.done.set()
        while True:
            try:
                ws.send('{"channel":"heartbeat"}')
                ws.recv(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - the client went away
                return

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def test_malformed_frame_is_counted_and_the_connection_survives(kraken_data, run_id, store, wait_until):
    frames = (kraken_data / "captures" / "ws_v2_book_BTCUSD_snapshot_19_updates.jsonl").read_text().splitlines()
    venue = ScriptedVenue(frames)
    try:
        settings = load_settings(env={"KRT_RUNTIME__SYMBOLS": "BTC/USD", "KRT_FEED__IDLE_TIMEOUT_MS": "5000"})
        source = MarketSource(ws_public_url=venue.url, ws_l3_url=None, rest_url="http://127.0.0.1:9", reference_url=None,
                              api_key=None, api_secret=None, precisions={"BTC/USD": (1, 8)})
        harness = Ingest(settings, source, run_id, store)
        try:
            wait_until(venue.done.is_set, timeout=10, what="the venue to send its script")
            wait_until(lambda: ingest_seq(harness) == 20, timeout=10, what="snapshot and 19 updates applied")
            assert harness.value("krt_feed_decode_errors_total", symbol="BTC/USD") == 1
            assert harness.value("krt_book_checksum_failures_total", symbol="BTC/USD", book="l2") == 0
            assert harness.value("krt_feed_reconnects_total", symbol="BTC/USD") == 0
            assert venue.connections == 1
            assert harness.states()["BTC/USD"]["status"] == READY
        finally:
            harness.stop()
    finally:
        venue.stop()


def ingest_seq(harness: Ingest) -> int:
    row = harness.states().get("BTC/USD")
    return 0 if row is None else row["seq"]


def test_market_batch_lost_on_the_way_makes_only_that_symbol_resync(settings, source, run_id, store, monkeypatch, wait_until):
    """A MarketBatch the directory could not deliver (a full mailbox, a restart): the state holder sees the
    hole in the batch numbers, stops trusting its book and rebuilds it; the other symbol is untouched."""
    lose = threading.Event()
    lost: list[int] = []
    real_send = Directory.send

    def lossy_send(self, name, message):
        if (lose.is_set() and not lost and name == "state:BTC/USD" and isinstance(message, MarketBatch)
                and any(isinstance(item, (str, BookMessage)) for _, item in message.items)):  # a public (L2) batch
            lost.append(message.seq)
            return False  # as the directory reports a full mailbox
        return real_send(self, name, message)

    monkeypatch.setattr(Directory, "send", lossy_send)
    harness = Ingest(settings, source, run_id, store)
    try:
        wait_until(harness.all_ready, timeout=20, what="every symbol ready")
        before = harness.states()
        lose.set()
        wait_until(lambda: bool(lost), timeout=10, what="a BTC/USD batch lost")
        wait_until(lambda: harness.states()["BTC/USD"]["epoch"] > before["BTC/USD"]["epoch"]
                   and harness.states()["BTC/USD"]["status"] == READY, timeout=15, what="BTC/USD rebuilt")
        assert harness.states()["ETH/USD"]["epoch"] == before["ETH/USD"]["epoch"]
        assert harness.value("krt_state_batches_lost_total", symbol="BTC/USD") == 1  # seen as lost, not guessed
        assert harness.value("krt_state_batches_lost_total", symbol="ETH/USD") == 0
        assert harness.value("krt_book_resyncs_total", symbol="BTC/USD") >= 1
        assert all(snapshot.status == READY for _, snapshot in harness.probe.taken())
    finally:
        harness.stop()


# ------------------------------------------------------------------------------------------- fault soak


def _fault_soak(harness: Ingest, source: MarketSource, seconds: float, wait_until, seed: int) -> dict[str, int]:
    """Faults one after another for `seconds`: every time the books are ready again, the next fault (a
    dropped connection, a silent symbol, a bad checksum, a crashed feed, a crashed state holder, a price
    shock). Returns how many of each were injected."""
    rng = random.Random(seed)
    injected: dict[str, int] = {}
    last_crash: dict[str, float] = {}  # child -> when it was last crashed on purpose
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        wait_until(harness.all_ready, timeout=30, what="every symbol ready before the next fault")
        symbol = rng.choice(SYMBOLS)
        fault = rng.choice(["drop_connections", "stall_feed", "corrupt_checksum", "crash_feed", "crash_state", "price_shock"])
        child = "feed:public" if fault == "crash_feed" else f"state:{symbol}"
        if fault.startswith("crash") and time.monotonic() - last_crash.get(child, -1e9) < 15:
            # at most one crash per child every 15 s: within its restart budget (5 in 60 s), or the
            # supervisor would rightly disable it
            fault = "drop_connections"
        elif fault.startswith("crash"):
            last_crash[child] = time.monotonic()
        if fault == "drop_connections":
            source.sim.inject_fault({"fault": "drop_connections"})
        elif fault == "stall_feed":
            source.sim.inject_fault({"fault": "stall_feed", "symbol": symbol, "seconds": 1.5})
        elif fault == "corrupt_checksum":
            source.sim.inject_fault({"fault": "corrupt_checksum", "symbol": symbol, "count": rng.randint(1, 3)})
        elif fault == "crash_feed":
            harness.supervisor.ask(_inject("feed:public", 1), timeout=5)
        elif fault == "crash_state":
            harness.supervisor.ask(_inject(f"state:{symbol}", 1), timeout=5)
        else:
            source.sim.inject_fault({"fault": "price_shock", "symbol": symbol, "pct": rng.choice([-3, 3]), "seconds": 1})
        injected[fault] = injected.get(fault, 0) + 1
        logging.getLogger("soak").warning("soak: injected %s (%s)", fault, symbol)
        pause = time.monotonic() + rng.uniform(0.2, 1.0)  # let it bite before waiting for recovery
        wait_until(lambda: time.monotonic() >= pause, timeout=2, what="the fault to take effect")
    return injected


def _soak_checks(harness: Ingest, threads_before: int, wait_until) -> None:
    wait_until(harness.all_ready, timeout=30, what="every symbol ready after the last fault")
    rows = harness.states()
    for symbol in SYMBOLS:
        assert rows[symbol]["best_bid"] < rows[symbol]["best_ask"], rows[symbol]
    # Nothing but ready books reached the scanner, and per symbol epochs never went back.
    snapshots = harness.probe.taken()
    assert snapshots and all(snapshot.status == READY for _, snapshot in snapshots)
    for symbol in SYMBOLS:
        epochs = [snapshot.epoch for _, snapshot in harness.probe.taken(symbol)]
        assert epochs == sorted(epochs), symbol
    # No reader or timer threads left behind by crashed or reconnected instances.
    readers = lambda: [t for t in threading.enumerate() if "-reader-" in t.name and t.is_alive()]  # noqa: E731
    expected = {"public", "level3", "reference"} if harness.source.ws_l3_url else {"public", "reference"}
    wait_until(lambda: len(readers()) <= len(expected), timeout=10,
               what=f"one reader per connection ({sorted(expected)}), got {[t.name for t in readers()]}")
    wait_until(lambda: threading.active_count() <= threads_before + 3, timeout=10, what="no threads leaked")


SOAK_SETTINGS = {"layout": "shared", "feed": {"connection_budget": "10000"}}  # a soak reconnects far more than 150 times in 10 min


@pytest.mark.parametrize("settings", [SOAK_SETTINGS], indirect=True, ids=["shared"])
def test_faults_one_after_another_every_book_recovers_and_nothing_leaks_short_form(ingest, source, wait_until):
    threads_before = threading.active_count()
    injected = _fault_soak(ingest, source, seconds=8, wait_until=wait_until, seed=20261122)
    assert sum(injected.values()) >= 4
    _soak_checks(ingest, threads_before, wait_until)


SOAK_SECONDS = float(os.environ.get("KRT_SOAK_SECONDS", "300"))


@pytest.mark.soak
@pytest.mark.timeout(SOAK_SECONDS + 180)
@pytest.mark.parametrize("settings", [SOAK_SETTINGS], indirect=True, ids=["shared"])
def test_fault_soak(ingest, source, wait_until):
    """KRT_SOAK_SECONDS (default 300) of faults: `pytest -m soak`."""
    threads_before = threading.active_count()
    injected = _fault_soak(ingest, source, seconds=SOAK_SECONDS, wait_until=wait_until,
                           seed=int(os.environ.get("KRT_SOAK_SEED", "7")))
    assert len(injected) == 6, injected  # every kind of fault came up
    _soak_checks(ingest, threads_before, wait_until)
