"""ObserverActor against a real SQLite database: it publishes both tiers to the board and the gauges on a
timer, survives a database fault (a table gone mid-run) keeping the last snapshot, and recovers. The
listener serves /snapshot.json and the page from the board, and refuses anything but GET/HEAD with 405."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from decimal import Decimal

import orjson
import pytest
from prometheus_client import CollectorRegistry

from kraken_runtime.actors.base import ChildLink, FaultBudget
from kraken_runtime.actors.http import HttpServer
from kraken_runtime.actors.observer import ObserverActor, ObserverMetrics, SnapshotBoard
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database

SYMBOLS = ("BTC/USD", "ETH/USD")


@pytest.fixture
def database(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'observer.db'}")
    run_id = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h", pid=1,
                            now_ns=1)
    yield db, run_id
    close_database(db)


def _start(registry: CollectorRegistry, board: SnapshotBoard, interval_s: float = 0.05):
    metrics = ObserverMetrics(registry)
    metrics.register(SYMBOLS)
    link = ChildLink(name="observer", generation=1, report=lambda message: None, fault=FaultBudget())
    return ObserverActor.start(link=link, interval_s=interval_s, demo_trades=3, board=board, metrics=metrics, symbols=SYMBOLS)


def test_observer_publishes_both_tiers_and_gauges_on_its_timer(database, wait_until):
    _, run_id = database
    repo.insert_market_tickers(run_id, [{"symbol": "BTC/USD", "ts_recv_ns": time.time_ns()}])
    registry = CollectorRegistry()
    board = SnapshotBoard(refresh_s=15)
    _start(registry, board)
    wait_until(lambda: board.latest() is not None, what="a first snapshot")
    latest = board.latest()
    assert latest.tier1["cards"]["ticker_rows"] == 1 and latest.tier2["tier"] == 2
    assert registry.get_sample_value("krt_snapshot_window_rows", {"kind": "ticker_rows"}) == 1
    assert registry.get_sample_value("krt_snapshot_timestamp_seconds") > 0
    first_time = latest.tier1["snapshot_time_ns"]
    wait_until(lambda: board.latest().tier1["snapshot_time_ns"] > first_time, what="a second snapshot from the timer")


def test_database_fault_keeps_the_last_snapshot_counts_the_error_and_recovers(database, wait_until):
    db, run_id = database
    registry = CollectorRegistry()
    board = SnapshotBoard(refresh_s=15)
    ref = _start(registry, board)
    wait_until(lambda: board.latest() is not None, what="a first snapshot")
    db.execute_sql("ALTER TABLE fills RENAME TO fills_moved_away")  # the fault: a table the read model needs is gone
    wait_until(lambda: (registry.get_sample_value("krt_snapshot_errors_total") or 0) >= 1, what="a failed read counted")
    kept = board.latest()
    wait_until(lambda: (registry.get_sample_value("krt_snapshot_errors_total") or 0) >= 4, what="more failed reads")
    assert board.latest() is kept  # nothing published while reads fail: the last good snapshot stays on display
    assert ref.is_alive()
    failed_at = kept.tier1["snapshot_time_ns"]
    db.execute_sql("ALTER TABLE fills_moved_away RENAME TO fills")
    wait_until(lambda: board.latest().tier1["snapshot_time_ns"] > failed_at, what="a snapshot after the table came back")
    assert ref.is_alive()


def _get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_listener_serves_snapshot_and_page_and_refuses_other_methods(database, wait_until):
    _, run_id = database
    order = repo.insert_order(run_id, client_order_id="c", venue="paper", mode="paper", symbol="BTC/USD", side="buy",
                              order_type="limit", price=Decimal("1"), qty=Decimal("1"), status="filled",
                              created_at_ns=time.time_ns(), updated_at_ns=time.time_ns())
    repo.insert_fill(run_id, order, exec_id="e", symbol="BTC/USD", side="buy", price=Decimal("1"), qty=Decimal("1"),
                     created_at_ns=time.time_ns())
    registry = CollectorRegistry()
    board = SnapshotBoard(refresh_s=15)
    server = HttpServer("127.0.0.1", 0, registry=registry, health=lambda: (True, "ok"), ready=lambda: (True, "ok"))
    server.add_route("/snapshot.json", board.snapshot_json)
    server.add_route("/", board.status_page)
    server.start()
    try:
        base = "http://%s:%d" % server.address
        status, _, body = _get(base + "/snapshot.json")
        assert status == 503 and b"no snapshot yet" in body
        assert _get(base + "/")[0] == 503
        _start(registry, board, interval_s=3600)
        wait_until(lambda: board.latest() is not None, what="a first snapshot")
        status, headers, body = _get(base + "/snapshot.json")
        doc = orjson.loads(body)
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert doc["tier1"]["cards"]["fills"] == 1 and doc["tier1"]["demo_trades"][0]["text"] == "BTC/USD buy — filled(filled)"
        status, headers, page = _get(base + "/")
        assert status == 200 and headers["Content-Type"].startswith("text/html") and b"BTC/USD buy" in page
        status, headers, body = _get(base + "/", method="HEAD")
        assert status == 200 and body == b"" and int(headers["Content-Length"]) == len(page)
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            status, headers, _ = _get(base + "/snapshot.json", method=method)
            assert (status, headers.get("Allow")) == (405, "GET, HEAD"), method
        assert _get(base + "/metrics", method="POST")[0] == 405
    finally:
        server.stop()


def test_order_ack_summary_comes_from_the_executors_histogram_on_the_same_registry(database, wait_until):
    from prometheus_client import Histogram

    registry = CollectorRegistry()
    ack = Histogram("krt_order_ack_seconds", "ack", ["venue"], buckets=(0.01, 0.1, 1.0), registry=registry)
    for seconds in (0.005, 0.005, 0.05, 0.5):
        ack.labels(venue="paper").observe(seconds)
    board = SnapshotBoard(refresh_s=15)
    _start(registry, board)
    wait_until(lambda: board.latest() is not None, what="a first snapshot")
    summary = board.latest().tier2["latency"]["order_ack"]
    assert (summary["count"], summary["p50_s"], summary["p90_s"], summary["p99_s"]) == (4, 0.01, 1.0, 1.0)
