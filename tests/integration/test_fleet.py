"""Fleet safety: several daemons (shards) on one database. `ctl halt|reduce-only|resume|status` without --shard
reach every live shard; a second daemon starting with a shard name that is already live is refused with one
line naming the live run; a killed daemon's shard can be started again at once."""

from __future__ import annotations

import functools

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from tests import waiting

REPO = Path(__file__).resolve().parents[2]


def env_for(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRT_", "KRAKEN_")) or k.startswith("KRT_TEST_")}
    env.update({"PYTHONPATH": str(REPO), "KRT_LOGGING__DIR": str(tmp_path / "logs"),
                "KRT_SUPERVISOR__CONTROL_POLL_INTERVAL_MS": "100", "KRT_SUPERVISOR__HEARTBEAT_INTERVAL_MS": "200"})
    return env


def daemon(tmp_path: Path, db_url: str, shard: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kraken_runtime", "run", "--db", db_url, "--http", "127.0.0.1:0", "--symbols", "BTC/USD",
         "--env-file", str(tmp_path / "none.env")],
        cwd=tmp_path, env={**env_for(tmp_path), "KRT_RUNTIME__SHARD": shard}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)


def ctl(tmp_path: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kraken_runtime", "ctl", "--db", db_url, "--timeout", "20",
                           "--env-file", str(tmp_path / "none.env"), *args],
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True, timeout=120)


wait_until = functools.partial(waiting.wait_until, interval=0.1)


def live_shards(db_url: str) -> set[str]:
    from kraken_runtime.storage import repo
    from kraken_runtime.storage.db import close_database, open_database

    if not Path(db_url.removeprefix("sqlite:///")).exists():
        return set()
    try:
        db = open_database(db_url, migrate=False)
    except Exception:  # noqa: BLE001 - schema still being created
        return set()
    try:
        return {r["shard"] for r in repo.live_runs(since_ns=time.time_ns() - 5 * 10**9)}
    finally:
        close_database(db)


def test_fleet_commands_reach_every_shard_and_a_live_shard_name_is_refused(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'fleet.db'}"
    first = daemon(tmp_path, db_url, "east")
    wait_until(lambda: "east" in live_shards(db_url), 60, "shard east live")
    second = daemon(tmp_path, db_url, "west")
    procs = [first, second]
    try:
        wait_until(lambda: live_shards(db_url) == {"east", "west"}, 60, "both shards live")
        duplicate = daemon(tmp_path, db_url, "east")
        _, err = duplicate.communicate(timeout=60)
        assert duplicate.returncode == 1
        [line] = [l for l in err.splitlines() if l.startswith("error:")]
        assert "shard 'east' is already live: run 1" in line and f"pid {first.pid}" in line

        halted = ctl(tmp_path, db_url, "halt", "--reason", "drill")
        assert halted.returncode == 0, halted.stderr
        assert "(shard east)" in halted.stdout and "(shard west)" in halted.stdout
        status = ctl(tmp_path, db_url, "--json", "status")
        assert status.returncode == 0, status.stderr
        shards = orjson.loads(status.stdout)["shards"]
        assert set(shards) == {"east", "west"} and all(doc["safety_mode"] == "halted" for doc in shards.values())
        resumed = ctl(tmp_path, db_url, "resume")
        assert resumed.returncode == 0 and resumed.stdout.count("applied") == 2, resumed.stdout + resumed.stderr
        one = ctl(tmp_path, db_url, "--shard", "west", "reduce-only")
        assert one.returncode == 0 and "shard" not in one.stdout  # --shard: that shard alone, as before
        status = orjson.loads(ctl(tmp_path, db_url, "--json", "status").stdout)["shards"]
        assert status["west"]["safety_mode"] == "reduce_only" and status["east"]["safety_mode"] == "active"

        first.send_signal(signal.SIGKILL)  # a killed daemon's shard may start again at once
        first.wait(timeout=10)
        again = daemon(tmp_path, db_url, "east")
        procs.append(again)
        wait_until(lambda: again.poll() is not None or _run_count(db_url, "east") >= 2, 60, "east started again after the kill")
        assert again.poll() is None
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _run_count(db_url: str, shard: str) -> int:
    from kraken_runtime.storage.db import close_database, open_database
    from kraken_runtime.storage.models import Run

    db = open_database(db_url, migrate=False)
    try:
        return Run.select().where(Run.shard == shard).count()
    finally:
        close_database(db)
