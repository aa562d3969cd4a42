"""End to end: `kraken-runtime run --duration` on its defaults (market sim in-process) brings every
configured symbol to ready, writes run_symbol_state and market rows, serves ingest metrics, and stops
cleanly. A configuration the local exchange cannot serve is refused with one line and exit 78."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRT_", "KRAKEN_")) or k.startswith("KRT_TEST_")}
    env.update({"KRT_LOGGING__DIR": str(tmp_path / "logs"), "KRT_RUNTIME__STATUS_INTERVAL_S": "1", "PYTHONPATH": str(REPO)})
    env.update(extra)
    return env


def test_run_on_defaults_makes_every_symbol_ready_with_rows(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kraken_runtime", "run", "--duration", "6", "--http", "127.0.0.1:0"],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    status_lines = [line for line in result.stdout.splitlines() if line.startswith("status:")]
    assert status_lines and "symbols_ready=3/3" in status_lines[-1], status_lines
    db = open_database(f"sqlite:///{tmp_path / 'state' / 'kraken-runtime.db'}", migrate=False)
    try:
        run = repo.latest_run()
        assert run["status"] == "stopped"
        states = {row["symbol"]: row for row in repo.symbol_states(run["id"])}
        assert set(states) == {"BTC/USD", "ETH/USD", "XRP/USD"}
        for symbol, row in states.items():
            assert row["status"] == "stopped", (symbol, row["status"])  # ready while it ran; a clean stop says so
            assert row["epoch"] >= 1 and row["seq"] > 0
            assert row["best_bid"] < row["best_ask"]
            assert row["premium_bps"] is not None  # the local exchange's reference venue is wired
        counts = repo.window_counts(since_ns=run["started_at_ns"])
        assert counts["ticker_rows"] > 0 and counts["trade_rows"] > 0
        # Ticker rows coalesced: at most one per symbol per state.ticker_row_interval_ms (1 s) over the ~6 s run,
        # plus the one held at shutdown; trades are all kept.
        seconds = (run["stopped_at_ns"] - run["started_at_ns"]) / 1e9
        assert counts["ticker_rows"] <= 3 * (seconds + 2), (counts, seconds)
    finally:
        close_database(db)


def test_symbol_the_local_exchange_does_not_list_is_a_config_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kraken_runtime", "run", "--duration", "5", "--http", "127.0.0.1:0", "--symbols", "NOPE/USD"],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 78
    errors = [line for line in result.stderr.splitlines() if line.startswith("config error")]
    assert errors == [errors[0]] and "NOPE/USD" in errors[0]
    assert not (tmp_path / "state").exists()  # refused before anything was written: no database, no runs row
