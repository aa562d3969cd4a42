"""Crash safety of the live path against the local exchange, in separate processes (the exchange must outlive the
daemon): the daemon is killed with SIGKILL at random points while orders are in flight and restarted, and in
the end no order is duplicated at the exchange, no fill is missing from the database and every order is
reconciled; a daemon frozen with SIGSTOP has its orders cancelled by the exchange's dead man's switch.

A few kills run by default; `-m soak` runs many (KRT_SOAK_KILLS, default 25)."""

from __future__ import annotations

import functools

import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest

from kraken_runtime.core.kraken.errors import RateLimited
from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.storage import execution as store
from kraken_runtime.storage.db import close_database, open_database
from tests import waiting

REPO = Path(__file__).resolve().parents[2]
SYMBOLS = "BTC/USD,ETH/USD,XRP/USD"
FAST = """
scanner:
  min_score: 0.05
  hybrid_score: 0.1
  taker_score: 0.2
  min_intent_interval_ms: 200
  epoch_settle_ms: 0
  regime_sample_ms: 50
  regime_min_samples: 3
  throttle_illiquid: 1
  throttle_volatile: 1
strategies:
  spread_compression: {min_samples: 3, sample_ms: 50}
  momentum: {min_samples: 3, sample_ms: 50}
executor:
  kraken_poll_interval_ms: 1000
  maker_timeout_ms: 4000
risk:
  max_exposure_usd: 5000
  max_symbol_exposure_usd: 2000
"""


wait_until = functools.partial(waiting.wait_until, interval=0.05)  # the exchange's REST counter is shared


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "kraken_runtime", "sim", "--port", "0", "--symbols", SYMBOLS],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout is not None
        endpoints = json.loads(proc.stdout.readline())
        yield endpoints
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def daemon_env(tmp_path: Path, e: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRT_", "KRAKEN_")) or k.startswith("KRT_TEST_")}
    env.update({
        "PYTHONPATH": str(REPO), "KRT_LOGGING__DIR": str(tmp_path / "logs"), "KRT_CONFIRM_LIVE": "yes",
        "KRT_KRAKEN__REST_URL": e["rest"], "KRT_KRAKEN__WS_PUBLIC_URL": e["ws_public"], "KRT_KRAKEN__WS_L3_URL": e["ws_l3"],
        "KRT_KRAKEN__WS_AUTH_URL": e["ws_auth"], "KRT_REFERENCE__WS_URL": e["ref"],
        "KRAKEN_API_KEY": e["api_key"], "KRAKEN_API_SECRET": e["api_secret"],
        "KRT_SUPERVISOR__BACKOFF_INITIAL_MS": "50",
    })
    env.update(extra)
    return env


def start_daemon(tmp_path: Path, env: dict[str, str], db_url: str, duration: float | None = None) -> subprocess.Popen[str]:
    (tmp_path / "fast.yaml").write_text(FAST)
    args = [sys.executable, "-m", "kraken_runtime", "run", "--config", str(tmp_path / "fast.yaml"), "--live", "--market",
            "kraken", "--symbols", SYMBOLS, "--db", db_url, "--http", "127.0.0.1:0", "--env-file", str(tmp_path / "none.env")]
    if duration is not None:
        args += ["--duration", str(duration)]
    # stderr to a file, not a pipe nobody reads while the daemon runs: a full pipe would block the daemon's logging
    with (tmp_path / "daemon.log").open("a") as log:
        log.write(f"--- daemon started at {time.time():.3f}\n")
        log.flush()
        return subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)


def daemon_log(tmp_path: Path, chars: int = 4000) -> str:
    path = tmp_path / "daemon.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def count_orders(db_url: str) -> int:
    if not Path(db_url.removeprefix("sqlite:///")).exists():
        return 0
    try:
        db = open_database(db_url, migrate=False)
    except Exception:  # noqa: BLE001 - the daemon is still creating the schema
        return 0
    try:
        return len(store.orders())
    finally:
        close_database(db)


def _call(what: str, call: Any) -> Any:
    """One REST call of the checker, waiting out the account's REST counter (the daemon shares the key)."""
    outcome: list[Any] = []

    def attempt() -> bool:
        try:
            outcome.append(call())
            return True
        except RateLimited:
            return False

    wait_until(attempt, 60, f"{what} past the REST rate limit")
    return outcome[0]


def exchange_orders(e: dict[str, str]) -> list[Any]:
    with KrakenRestClient(version="test", base_url=e["rest"], api_key=e["api_key"], api_secret=e["api_secret"],
                          max_attempts=1) as rest:
        found = list(_call("OpenOrders", rest.open_orders))
        ofs = 0
        while True:
            page = _call("ClosedOrders", lambda: rest.closed_orders(ofs=ofs))
            found.extend(page.orders)
            ofs += len(page.orders)
            if not page.orders or page.count is None or ofs >= page.count:
                return found


def check_consistent(e: dict[str, str], db_url: str) -> tuple[int, int]:
    at_exchange = exchange_orders(e)
    by_cl: dict[str, list[Any]] = {}
    for order in at_exchange:
        by_cl.setdefault(order.cl_ord_id or f"<none:{order.txid}>", []).append(order)
    db = open_database(db_url, migrate=False)
    try:
        ours = {o["client_order_id"]: o for o in store.orders()}
        fills = store.fills()
    finally:
        close_database(db)
    assert all(len(orders) == 1 for orders in by_cl.values()), "an order was sent twice"
    assert set(by_cl) <= set(ours), f"orders at the exchange the database never wrote: {set(by_cl) - set(ours)}"
    filled: dict[str, Decimal] = {}
    for f in fills:
        filled[f["client_order_id"]] = filled.get(f["client_order_id"], Decimal(0)) + f["qty"]
    for cl, order in ours.items():
        if cl not in by_cl:  # never reached the exchange: written before the venue call, never sent
            assert order["status"] in ("rejected", "unknown", "pending_new") and order["filled_qty"] == 0, order
            continue
        venue = by_cl[cl][0]
        assert venue.status != "open", f"{cl} still open at the exchange after a clean stop"
        assert order["filled_qty"] == venue.vol_exec == filled.get(cl, Decimal(0)), f"fills of {cl} missing or extra"
        assert order["status"] in ("filled", "canceled", "expired"), (cl, order["status"], venue.status)
        assert order["exchange_order_id"] == venue.txid
    return len(ours), len(fills)


def crash_and_recover(tmp_path: Path, exchange: dict[str, str], kills: int, seed: int) -> None:
    rng = random.Random(seed)
    db_url = f"sqlite:///{tmp_path / 'krt.db'}"
    env = daemon_env(tmp_path, exchange)
    for _ in range(kills):
        target = count_orders(db_url) + rng.randint(1, 6)  # a random point: after 1 to 6 more orders were written
        proc = start_daemon(tmp_path, env, db_url)
        try:
            # after many restarts the key's REST counter is spent and nothing goes out until it drains (~60 s)
            try:
                wait_until(lambda: count_orders(db_url) >= target or proc.poll() is not None, 180, f"{target} orders")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; the daemon's log ends:\n{daemon_log(tmp_path)}") from None
            assert proc.poll() is None, daemon_log(tmp_path)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
    # Every restart spends the key's REST counter (preflight, level3 token, reconciliation); after many, the last
    # run needs the time the counter takes to drain (20 points at 0.5/s) to settle everything.
    final = start_daemon(tmp_path, env, db_url, duration=10 if kills <= 3 else 45)
    final.wait(timeout=120)
    assert final.returncode == 0, daemon_log(tmp_path)
    try:
        orders, fills = check_consistent(exchange, db_url)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the daemon's log ends:\n{daemon_log(tmp_path, 12000)}") from None
    assert orders >= kills and fills > 0


@pytest.mark.timeout(600)
def test_sigkill_at_random_points_then_no_duplicate_no_missing_fill_every_order_reconciled(tmp_path: Path,
                                                                                           exchange: dict[str, str]) -> None:
    crash_and_recover(tmp_path, exchange, kills=3, seed=int(os.environ.get("KRT_TEST_SEED", "13")))


@pytest.mark.soak
@pytest.mark.timeout(7200)
def test_sigkill_soak(tmp_path: Path, exchange: dict[str, str]) -> None:
    crash_and_recover(tmp_path, exchange, kills=int(os.environ.get("KRT_SOAK_KILLS", "25")), seed=random.randrange(10**6))


@pytest.mark.timeout(300)
def test_dead_mans_switch_cancels_at_the_exchange_when_the_daemon_is_frozen(tmp_path: Path, exchange: dict[str, str]) -> None:
    db_url = f"sqlite:///{tmp_path / 'krt.db'}"
    env = daemon_env(tmp_path, exchange, KRT_EXECUTOR__DEAD_MANS_SWITCH_S="4", KRT_EXECUTOR__DEAD_MANS_SWITCH_REFRESH_S="1",
                     KRT_SCANNER__TAKER_SCORE="0.99", KRT_EXECUTOR__MAKER_TIMEOUT_MS="600000")
    proc = start_daemon(tmp_path, env, db_url)
    try:
        def resting() -> bool:
            db = open_database(db_url, migrate=False)
            try:
                return any(o["status"] == "new" and o["post_only"] for o in store.orders())
            finally:
                close_database(db)

        wait_until(lambda: proc.poll() is not None or (count_orders(db_url) > 0 and resting()), 90,
                   "a resting order acknowledged by the exchange")
        assert proc.poll() is None, daemon_log(tmp_path)
        proc.send_signal(signal.SIGSTOP)  # frozen: no refresh reaches the exchange
        frozen = time.monotonic()
        wait_until(lambda: not any(o.status == "open" for o in exchange_orders(exchange)), 30,
                   "the exchange to cancel every order", interval=1.0)
        assert time.monotonic() - frozen < 30
        canceled = [o for o in exchange_orders(exchange) if o.status == "canceled"]
        assert canceled
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
