"""End to end: `kraken-runtime run` on its defaults (the in-process local exchange) produces signals from
several strategies and explained intents, on the console and in the database; `ctl disable-strategy` stops a
strategy's contribution within a second and the switch survives a restart."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from kraken_runtime.storage import repo
from kraken_runtime.storage import route as route_store
from kraken_runtime.storage.db import StorageError, close_database, open_database

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRT_", "KRAKEN_")) or k.startswith("KRT_TEST_")}
    env.update({"KRT_LOGGING__DIR": str(tmp_path / "logs"), "KRT_RUNTIME__STATUS_INTERVAL_S": "2", "PYTHONPATH": str(REPO)})
    env.update(extra)
    return env


def _run(tmp_path: Path, seconds: int, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kraken_runtime", "run", "--duration", str(seconds), "--http", "127.0.0.1:0"],
                          cwd=tmp_path, env=_env(tmp_path, **env), capture_output=True, text=True, timeout=seconds + 60)


def test_default_run_signals_from_several_strategies_and_explained_intents_on_console_and_in_the_database(tmp_path):
    result = _run(tmp_path, 25)
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    intent_lines = [line for line in console.splitlines() if "scanner: intent " in line]
    assert intent_lines, console[-3000:]
    # the risk envelope stores each intent with its decision and names it by its row id
    decision_lines = [line for line in console.splitlines() if "risk: intent #" in line]
    assert " score=" in intent_lines[0] and " strategies=" in intent_lines[0] and " @ " in intent_lines[0]
    assert any("scan: scans=" in line for line in console.splitlines())
    db = open_database(f"sqlite:///{tmp_path / 'state' / 'kraken-runtime.db'}", migrate=False)
    try:
        run_id = repo.latest_run()["id"]
        card = route_store.scorecard(run_id)
        signalling = {row["strategy"] for row in card if row["signals"] > 0}
        assert len(signalling) >= 2, card
        intents = route_store.intents(run_id)
        assert len(intents) == len(intent_lines) == len(decision_lines)
        assert {row["id"] for row in intents} == {int(re.search(r"risk: intent #(\d+) ", line).group(1))  # type: ignore[union-attr]
                                                  for line in decision_lines}
        for row in intents:
            assert row["epoch"] >= 1 and row["seq"] > 0 and row["state"]["epoch"] == row["epoch"]
            reasons = dict(map(tuple, row["signals"]["reasons"]))
            assert reasons["score"] and reasons["regime"] in ("calm", "trending", "volatile")
            assert any(name in reasons for name in ("imbalance", "spread_compression", "momentum", "premium_gap"))
        assert any(row["regime"] for row in repo.symbol_states(run_id))
    finally:
        close_database(db)


def test_ctl_disable_strategy_stops_its_contribution_within_1s_and_persists_across_a_restart(tmp_path):
    env = _env(tmp_path)
    daemon = subprocess.Popen([sys.executable, "-m", "kraken_runtime", "run", "--duration", "40", "--http", "127.0.0.1:0"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    db_path = tmp_path / "state" / "kraken-runtime.db"
    try:
        deadline = time.monotonic() + 35
        db = None
        while db is None:
            try:
                db = open_database(f"sqlite:///{db_path}", migrate=False)
            except StorageError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # polling a deadline for the daemon to create and upgrade its database
        try:
            run_id = None
            while time.monotonic() < deadline:
                run = repo.latest_run()
                run_id = run["id"] if run else None
                if run_id and any("imbalance" in row["strategy"] for row in route_store.intents(run_id)):
                    break
                time.sleep(0.2)  # polling a deadline for the first intents
            else:
                raise AssertionError("no intent with imbalance within 35 s")
            ctl_result = subprocess.run([sys.executable, "-m", "kraken_runtime", "ctl", "--timeout", "10", "disable-strategy", "imbalance"],
                                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
            applied_ns = time.time_ns()
            assert ctl_result.returncode == 0, ctl_result.stderr
        finally:
            close_database(db)
    finally:
        output, _ = daemon.communicate(timeout=80)
    assert daemon.returncode == 0, output[-3000:]
    db = open_database(f"sqlite:///{db_path}", migrate=False)
    try:
        late = [row for row in route_store.intents(run_id) if row["created_at_ns"] > applied_ns + 1_000_000_000]
        assert all("imbalance" not in row["strategy"] for row in late), late
        assert repo.strategy_enabled_map()["imbalance"] is False
    finally:
        close_database(db)

    again = _run(tmp_path, 20)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "strategies off: imbalance" in again.stderr or "strategies_off=imbalance" in again.stdout + again.stderr
    db = open_database(f"sqlite:///{db_path}", migrate=False)
    try:
        second = repo.latest_run()["id"]
        assert second != run_id
        assert all("imbalance" not in row["strategy"] for row in route_store.intents(second))
        assert all(row["signals"] == 0 for row in route_store.scorecard(second) if row["strategy"] == "imbalance")
    finally:
        close_database(db)


def test_ctl_status_shows_each_strategy_switch_and_its_actor_state(capsys):
    from kraken_runtime.commands.ctl import _print_status_text
    from kraken_runtime.core import control as ctl

    doc = ctl.status_document(
        safety_mode="active", safety_reason="", run_id=1, mode="paper", shard="default", stuck_threads=0, dropped_messages=0,
        strategies={"momentum": False},
        children=(ctl.ChildReport(name="strategy:imbalance", state="running", restarts=0, last_error=None, mailbox=0),
                  ctl.ChildReport(name="strategy:momentum", state="disabled", restarts=5, last_error="boom", mailbox=0)))
    _print_status_text(doc)
    line = [text for text in capsys.readouterr().out.splitlines() if text.startswith("strategies: ")][0]
    assert line == ("strategies: imbalance=on (actor running), spread_compression=on (actor none), "
                    "momentum=off (actor disabled), premium_gap=on (actor none)")
