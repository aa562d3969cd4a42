"""Issue 16 end to end: what a real `kraken-runtime run` reports under faults. Readiness under refused market
endpoints, run records after SIGKILL and restart, the listener under 200 idle connections while the feeds
reconnect, validation before side effects. Every wait has a deadline."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from kraken_runtime.sim_server.app import start_sim
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database
from tests.integration.test_daemon_ctl import DaemonProcess, _env, _wait, ctl, status

S = 10**9


@pytest.fixture
def daemons():
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait(timeout=10)


def _closed_port() -> int:
    with socket.socket() as sock:  # bound and closed again: nothing listens there, connects are refused
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_readiness_when_every_market_endpoint_refuses_then_readyz_503_healthz_200_and_ctl_shows_symbols(
        sqlite_url, tmp_path, daemons):
    """Finding: with every Kraken endpoint refused for 32 s, /readyz said "ok: ready", ctl status listed every
    child running and nothing about symbols, and the failed connects were logged at INFO only."""
    sim = start_sim(symbols=("BTC/USD", "ETH/USD"), seed=3)  # serves the REST trading rules only
    refused = _closed_port()
    try:
        env = _env(tmp_path, KRT_RUNTIME__MARKET="kraken", KRT_RUNTIME__SYMBOLS='["BTC/USD", "ETH/USD"]',
                   KRT_KRAKEN__REST_URL=sim.endpoints["rest"], KRT_KRAKEN__WS_PUBLIC_URL=f"ws://127.0.0.1:{refused}/v2",
                   KRT_REFERENCE__WS_URL=f"ws://127.0.0.1:{refused}/ws", KRT_FEED__RECONNECT_INITIAL_MS="100",
                   KRT_FEED__RECONNECT_MAX_MS="300")
        daemon = DaemonProcess(sqlite_url, tmp_path, env=env)
        daemons.append(daemon)
        daemon.wait_for(re.compile(r"WARNING .*feed:public: public disconnected .*failed attempts in a row: [2-9]"),
                        what="connect failures at WARNING with a count")
        assert daemon.get("/healthz")[0] == 200  # the process is fine: a liveness probe must not restart it
        code, body = daemon.get("/readyz")
        assert code == 503 and body.strip() == "unavailable: market-data connection down", body
        doc = status(sqlite_url, tmp_path)
        assert doc["ready"] is False and doc["symbols_ready"] == 0 and doc["symbols_total"] == 2
        assert [row["status"] for row in doc["symbols"]] == ["not ready: feed disconnected"] * 2
        assert doc["lease_age_s"] is not None and doc["lease_age_s"] < 5
        text = ctl(sqlite_url, tmp_path, "status")
        assert "symbols: 0/2 ready" in text.stdout and "ready: no (unavailable: market-data connection down)" in text.stdout
        assert re.search(r"run lease: renewed [\d.]+s ago", text.stdout)
        assert daemon.terminate() == 0
    finally:
        sim.stop()


def test_sigkill_then_restart_then_the_old_run_is_closed_out_crashed_and_its_symbols_not_ready(sqlite_url, tmp_path, daemons):
    """Finding: a SIGKILLed run's row stayed `running` forever (6 of 6) and its symbols `ready`; a clean stop
    left them `ready` too. Readers of the database saw dead symbols as ready."""
    first = DaemonProcess(sqlite_url, tmp_path)
    daemons.append(first)
    _wait(lambda: first.get("/readyz")[0] == 200, "first run ready")
    db = open_database(sqlite_url, migrate=False)
    try:
        killed = repo.latest_run()["id"]
        _wait(lambda: {r["status"] for r in repo.symbol_states(killed)} == {"ready"}, "ready rows stored")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        assert repo.get_run(killed)["status"] == "running"  # nobody said otherwise
        # Its lease expires: moved back past run_stale_after_s (48 s by default) instead of waiting a minute.
        last = repo.get_run(killed)["heartbeat_at_ns"]
        repo.heartbeat_run(killed, last - 60 * S)
        assert repo.live_symbol_states(stale_before_ns=time.time_ns() - 48 * S) == []  # readers: not ready already
        second = DaemonProcess(sqlite_url, tmp_path)
        daemons.append(second)
        second.wait_for(re.compile(rf"run\(s\) {killed} of shard default stopped renewing their lease"), what="close-out")
        run = repo.get_run(killed)
        assert run["status"] == "crashed" and run["stopped_at_ns"] == last - 60 * S
        assert {r["status"] for r in repo.symbol_states(killed)} == {"crashed"}
        current = repo.latest_run()["id"]
        _wait(lambda: {(r["run"], r["status"]) for r in repo.live_symbol_states(stale_before_ns=time.time_ns() - 48 * S)}
              == {(current, "ready")}, "only the live run's symbols ready")
        assert second.terminate() == 0
        assert {r["status"] for r in repo.symbol_states(current)} == {"stopped"}  # a clean stop says so
        assert repo.get_run(current)["status"] == "stopped"
    finally:
        close_database(db)


def _threads(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)", text, re.M).group(1))


def test_200_idle_http_connections_while_the_feeds_reconnect_then_threads_bounded_and_probes_answer(
        sqlite_url, tmp_path, daemons):
    """Finding: 1,000 idle partial requests raised the threads from 24 to 1,024 and starved the feeds of file
    descriptors. 200 here (this sandbox misbehaves past ~350 local connections)."""
    env = _env(tmp_path, KRT_HTTP__MAX_CONNECTIONS="256", KRT_HTTP__IDLE_TIMEOUT_MS="60000")
    daemon = DaemonProcess(sqlite_url, tmp_path, env=env)
    daemons.append(daemon)
    _wait(lambda: daemon.get("/readyz")[0] == 200, "ready")
    threads_before = _threads(daemon.proc.pid)
    host, port = daemon.base.removeprefix("http://").split(":")
    idle = []
    try:
        for _ in range(200):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
            idle.append(sock)
        restarted = ctl(sqlite_url, tmp_path, "restart", "feed:public")  # every symbol reconnects and resyncs
        assert restarted.returncode == 0, restarted.stderr
        _wait(lambda: daemon.get("/readyz") == (200, "ok: ready (3/3 symbols ready)\n"), "ready again after the reconnect")
        assert daemon.get("/healthz")[0] == 200
        assert _threads(daemon.proc.pid) <= threads_before + 4, (threads_before, _threads(daemon.proc.pid))
    finally:
        for sock in idle:
            sock.close()
    assert daemon.terminate() == 0


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None, command: str = "run") -> subprocess.CompletedProcess:
    base = [sys.executable, "-m", "kraken_runtime", command]
    if command == "config":
        base.append("check")
    return subprocess.run([*base, "--env-file", str(tmp_path / "none.env"), *args], cwd=tmp_path,
                          env=env or _env(tmp_path), capture_output=True, text=True, timeout=60)


def test_validation_when_symbols_port_folder_or_credentials_are_wrong_then_refused_before_any_side_effect(tmp_path):
    """Findings: `run --symbols FOO/BAR` wrote a runs row and logged "started" before refusing; --http on a taken
    port failed after the local exchange had started; `--db sqlite:////nonexistent_dir/x.db` created a folder
    at the filesystem root; `config check` passed a live configuration that `run` then rejected."""
    db = tmp_path / "state" / "krt.db"  # relative to the working folder: the daemon would create state/ there
    bad_symbol = _run(tmp_path, "--db", "sqlite:///state/krt.db", "--symbols", "FOO/BAR", "--duration", "5")
    assert bad_symbol.returncode == 78 and "FOO/BAR" in bad_symbol.stderr
    assert "started" not in bad_symbol.stderr and not db.parent.exists()

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = _run(tmp_path, "--db", "sqlite:///state/krt.db", "--http", f"127.0.0.1:{port}", "--duration", "5")
    assert busy.returncode == 1 and "address already in use" in busy.stderr
    assert "local exchange started" not in busy.stderr and not db.parent.exists()

    missing = Path(f"/nonexistent_{os.getpid()}_dir")
    nowhere = _run(tmp_path, "--db", f"sqlite:///{missing}/x.db", "--duration", "5")
    assert nowhere.returncode == 78 and f"folder {missing} does not exist" in nowhere.stderr
    assert not missing.exists()

    env = _env(tmp_path, KRT_RUNTIME__MODE="live")
    checked = _run(tmp_path, env=env, command="config")
    assert checked.returncode == 78 and "KRAKEN_API_KEY" in checked.stderr
    refused = _run(tmp_path, "--duration", "5", "--confirm-live", env=env)
    assert refused.returncode == 78 and "KRAKEN_API_KEY" in refused.stderr  # the same check, the same answer
    lines = [line for line in checked.stderr.splitlines() if line]
    assert lines == [line for line in refused.stderr.splitlines() if line.startswith("config error")]  # the same lines
    assert lines and all(line.startswith("config error: runtime.mode = 'live'") and "expected" in line for line in lines)
    assert not (tmp_path / "state").exists()


def test_end_of_run_when_the_main_threads_connection_dropped_earlier_then_reconnects_and_records_it(pg_url) -> None:
    """Finding: when the main thread's connection had dropped earlier, a clean exit logged `cannot record the
    end of run N` and left it `running`."""
    import psycopg2

    from kraken_runtime.core.config import load_settings
    from kraken_runtime.core.marketdata import SymbolStateRow
    from kraken_runtime.daemon import Daemon
    from kraken_runtime.storage.models import database_proxy

    db = open_database(pg_url)
    admin = psycopg2.connect(pg_url.split("?")[0], connect_timeout=3)
    admin.autocommit = True
    try:
        run_id = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h",
                                pid=1, now_ns=time.time_ns())
        repo.upsert_symbol_states(run_id, [SymbolStateRow(symbol="BTC/USD", updated_at_ns=time.time_ns(), status="ready")])
        backend = database_proxy.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        with admin.cursor() as cursor:  # this thread's backend only: other tests may share the server
            cursor.execute("SELECT pg_terminate_backend(%s)", (backend,))
        Daemon(load_settings(env={"KRT_STORAGE__DB_URL": pg_url}))._record_end(run_id, "stopped")
        run = repo.get_run(run_id)
        assert run["status"] == "stopped" and run["stopped_at_ns"] is not None
        assert [row["status"] for row in repo.symbol_states(run_id)] == ["stopped"]
    finally:
        admin.close()
        close_database(db)
