"""End to end: a real `kraken-runtime run` process and `kraken-runtime ctl` from other processes, on SQLite
and on PostgreSQL (fresh schema per test). Each wait has a deadline."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"http listening on http://([\d.]+):(\d+)")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRT_", "KRAKEN_")) or k.startswith("KRT_TEST_")}
    env.update({
        "KRT_LOGGING__DIR": str(tmp_path / "logs"),
        "KRT_RUNTIME__STATUS_INTERVAL_S": "0.5",
        "KRT_SUPERVISOR__BACKOFF_INITIAL_MS": "50",
        "KRT_SUPERVISOR__HEARTBEAT_INTERVAL_MS": "200",
        "KRT_SUPERVISOR__CONTROL_POLL_INTERVAL_MS": "100",
        "PYTHONPATH": str(REPO),
    })
    env.update(extra)
    return env


class DaemonProcess:
    def __init__(self, db_url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self.stdout: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kraken_runtime", "run", "--db", db_url, "--http", "127.0.0.1:0", "--duration", "120",
             "--env-file", str(tmp_path / "none.env"), *args],
            cwd=tmp_path, env=env or _env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout), daemon=True).start()
        match = self.wait_for(LISTEN_RE, what="http listener")
        self.base = f"http://{match.group(1)}:{match.group(2)}"
        self.wait_for(re.compile(r"run-lease started"), what="children started")

    @staticmethod
    def _pump(stream, sink) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern, *, what: str, timeout: float = 20, source=None):
        deadline = time.monotonic() + timeout
        lines = self.lines if source is None else source
        while time.monotonic() < deadline:
            for line in list(lines):
                match = pattern.search(line)
                if match:
                    return match
            if self.proc.poll() is not None and not any(pattern.search(line) for line in list(lines)):
                break
            time.sleep(0.02)
        raise AssertionError(f"daemon: no {what} within {timeout}s; exit {self.proc.poll()}; stderr:\n" + "\n".join(self.lines[-40:]))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def terminate(self, sig=signal.SIGTERM, timeout: float = 20) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


def ctl(db_url: str, tmp_path: Path, *args: str, timeout: str = "10") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kraken_runtime", "ctl", "--db", db_url, "--timeout", timeout,
         "--env-file", str(tmp_path / "none.env"), *args],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )


def status(db_url: str, tmp_path: Path) -> dict:
    done = ctl(db_url, tmp_path, "status", "--json")
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)


def _wait(condition, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def daemons():
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait(timeout=10)


def test_every_ctl_command_round_trips_through_the_database_to_a_running_daemon(db_url, tmp_path, daemons):
    daemon = DaemonProcess(db_url, tmp_path)
    daemons.append(daemon)
    doc = status(db_url, tmp_path)
    assert list(doc)[:3] == ["safety_mode", "children", "strategies"]
    assert doc["safety_mode"] == "active"
    children = [(c["name"], c["state"], c["restarts"], c["last_error"]) for c in doc["children"]]
    assert children[0] == ("run-lease", "running", 0, None)
    assert {name for name, *_ in children} >= {"state:BTC/USD", "state:ETH/USD", "state:XRP/USD", "feed:public",
                                                "feed:reference", "retention"}
    assert all(state == "running" for _, state, _, _ in children), children
    assert list(doc["children"][0])[:5] == ["name", "state", "restarts", "last_error", "mailbox"]
    assert isinstance(doc["children"][0]["mailbox"], int) and doc["children"][0]["mailbox"] >= 0
    assert doc["strategies"] == {name: True for name in ("imbalance", "spread_compression", "momentum", "premium_gap")}

    assert ctl(db_url, tmp_path, "halt").returncode == 0
    refused = ctl(db_url, tmp_path, "reduce-only")
    assert refused.returncode == 1 and "resume" in refused.stderr
    assert status(db_url, tmp_path)["safety_mode"] == "halted"
    assert ctl(db_url, tmp_path, "resume").returncode == 0
    assert ctl(db_url, tmp_path, "reduce-only").returncode == 0
    assert status(db_url, tmp_path)["safety_mode"] == "reduce_only"
    assert ctl(db_url, tmp_path, "disable-strategy", "momentum").returncode == 0
    assert status(db_url, tmp_path)["strategies"]["momentum"] is False
    assert ctl(db_url, tmp_path, "enable-strategy", "momentum").returncode == 0
    assert ctl(db_url, tmp_path, "disable-strategy", "premium_gap").returncode == 0
    assert ctl(db_url, tmp_path, "disable-strategy", "martingale").returncode == 2  # bad usage, never reaches the daemon
    assert ctl(db_url, tmp_path, "restart", "nobody").returncode == 1
    restarted = ctl(db_url, tmp_path, "--json", "restart", "run-lease")
    assert restarted.returncode == 0 and orjson.loads(restarted.stdout)["status"] == "applied"
    assert ctl(db_url, tmp_path, "inject-fault", "run-lease", "--times", "2").returncode == 0
    doc = _wait(lambda: (d := status(db_url, tmp_path))["children"][0]["restarts"] >= 3 and d["children"][0]["state"] == "running" and d,
                "two injected faults restarted")
    assert "InjectedFault" in doc["children"][0]["last_error"]
    code, metrics = daemon.get("/metrics")
    assert code == 200 and re.search(r'krt_actor_restarts_total\{actor="run-lease"\} [3-9]', metrics)
    assert "krt_safety_mode 1.0" in metrics
    assert daemon.get("/healthz")[0] == 200 and daemon.get("/readyz")[0] == 200
    daemon.wait_for(re.compile(r"status: safety_mode=reduce_only children running=\d+ restarting=\d+ disabled=0 .* symbols_ready=\d/3"),
                    what="status line", source=daemon.stdout)

    assert daemon.terminate(signal.SIGTERM) == 0
    assert any("stopped children in reverse order" in line for line in daemon.lines)
    # No daemon now: ctl times out with exit 3 and withdraws its command.
    late = ctl(db_url, tmp_path, "halt", timeout="0.5")
    assert late.returncode == 3 and "no daemon answered" in late.stderr

    # Restart: the disabled strategy and the safety mode come back from the database.
    second = DaemonProcess(db_url, tmp_path)
    daemons.append(second)
    doc = status(db_url, tmp_path)
    assert doc["safety_mode"] == "reduce_only"
    assert doc["strategies"]["premium_gap"] is False and doc["strategies"]["momentum"] is True
    assert doc["run_id"] != 1 or db_url.startswith("sqlite")
    assert second.terminate(signal.SIGINT) == 0


def test_run_when_mode_is_live_without_confirmation_then_refused_before_anything_is_written(sqlite_url, tmp_path):
    """Live needs --mode live, credentials and --confirm-live (or KRT_CONFIRM_LIVE=yes): without the confirmation
    it is refused with one line and exit 2 before a runs row or the local exchange exists. (inject-fault's live
    refusal is tested at actor level, tests/actors/test_supervisor.py.)"""
    env = _env(tmp_path, KRAKEN_API_KEY="k" * 8, KRAKEN_API_SECRET="c2VjcmV0c2VjcmV0")
    done = subprocess.run(
        [sys.executable, "-m", "kraken_runtime", "run", "--db", sqlite_url, "--http", "127.0.0.1:0", "--duration", "5",
         "--mode", "live", "--env-file", str(tmp_path / "none.env")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2 and "add --confirm-live (or set KRT_CONFIRM_LIVE=yes)" in done.stderr, done.stderr
    assert "started" not in done.stderr and not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_run_when_duration_passes_then_exits_zero_and_records_the_run(sqlite_url, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "kraken_runtime", "run", "--db", sqlite_url, "--http", "127.0.0.1:0", "--duration", "1",
         "--env-file", str(tmp_path / "none.env")],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    from kraken_runtime.storage.db import close_database, open_database
    from kraken_runtime.storage import repo
    db = open_database(sqlite_url)
    run = repo.latest_run()
    close_database(db)
    assert run["status"] == "stopped" and run["stopped_at_ns"] >= run["heartbeat_at_ns"]


def test_run_when_config_is_bad_then_one_line_and_exit_78(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "kraken_runtime", "run", "--db", "mysql://x", "--duration", "1", "--env-file", str(tmp_path / "n")],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 78 and len(done.stderr.strip().splitlines()) == 1 and "db_url" in done.stderr


def test_ctl_when_no_database_exists_then_exit_3(tmp_path):
    done = ctl(f"sqlite:///{tmp_path / 'absent.db'}", tmp_path, "status", timeout="0.5")
    assert done.returncode == 3 and not (tmp_path / "absent.db").exists()


def _fresh_database(db_url: str) -> int:
    """Create the schema and a run row (a daemon that is not polling); returns the run id."""
    from kraken_runtime.storage import repo
    from kraken_runtime.storage.db import close_database, open_database

    db = open_database(db_url)
    run_id = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h",
                            pid=1, now_ns=time.time_ns())
    close_database(db)
    return run_id


def _ctl_in_process(db_url: str, tmp_path: Path, monkeypatch, *args: str) -> int:
    from kraken_runtime.cli import main

    for name in list(os.environ):
        if name.startswith(("KRT_", "KRAKEN_")) and not name.startswith("KRT_TEST_"):
            monkeypatch.delenv(name)
    return main(["ctl", "--db", db_url, "--env-file", str(tmp_path / "none.env"), *args])


def test_ctl_when_a_daemon_claimed_the_command_but_wrote_no_result_then_outcome_unknown_not_withdrawn(
        sqlite_url, tmp_path, monkeypatch, capsys):
    from kraken_runtime.commands import ctl as ctl_command
    from kraken_runtime.storage import repo

    run_id = _fresh_database(sqlite_url)
    insert = repo.insert_control_command

    def insert_then_claimed(*args, **kwargs):
        command_id = insert(*args, **kwargs)
        # A daemon claims it at once and then hangs (or dies) before writing the result.
        claimed = repo.claim_pending_commands(run_id, shard="default", now_ns=time.time_ns(), max_age_ns=60 * 10**9)
        assert [record.id for record in claimed] == [command_id]
        return command_id

    monkeypatch.setattr(repo, "insert_control_command", insert_then_claimed)
    monkeypatch.setattr(ctl_command, "CLAIMED_GRACE_S", 0.2)
    code = _ctl_in_process(sqlite_url, tmp_path, monkeypatch, "--timeout", "0.2", "resume")
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"claimed by run {run_id}, outcome unknown; check `ctl status`" in err and "withdrawn" not in err
    assert len(err.strip().splitlines()) == 1


def test_ctl_when_the_daemon_expired_the_command_as_too_old_then_says_why_and_exit_3(sqlite_url, tmp_path, monkeypatch, capsys):
    from kraken_runtime.storage import repo

    run_id = _fresh_database(sqlite_url)
    insert = repo.insert_control_command

    def insert_then_expired(*args, **kwargs):
        command_id = insert(*args, **kwargs)
        # The daemon's clock runs two minutes ahead of this host's: the row looks older than its maximum age.
        repo.claim_pending_commands(run_id, shard="default", now_ns=time.time_ns() + 120 * 10**9, max_age_ns=60 * 10**9)
        return command_id

    monkeypatch.setattr(repo, "insert_control_command", insert_then_expired)
    code = _ctl_in_process(sqlite_url, tmp_path, monkeypatch, "--timeout", "5", "halt")
    err = capsys.readouterr().err
    assert code == 3 and "(halt) not applied: expired unapplied" in err and "control_command_max_age_s" in err, err


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_ctl_when_interrupted_while_waiting_for_a_daemon_then_exit_130_and_command_withdrawn(sqlite_url, tmp_path, sigint):
    """`ignored`: started with SIGINT ignored (a shell's background job, nohup); the finding was that Ctrl-C then
    did nothing. ctl now handles Ctrl-C itself."""
    from kraken_runtime.storage import repo
    from kraken_runtime.storage.db import close_database, open_database

    _fresh_database(sqlite_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kraken_runtime", "ctl", "--db", sqlite_url, "--timeout", "60",
         "--env-file", str(tmp_path / "none.env"), "halt"],
        cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint == "ignored" else None,
    )
    db = open_database(sqlite_url, migrate=False)
    try:
        pending = _wait(lambda: [c for c in repo.recent_control_commands() if c.status == "pending"],
                        "ctl to write its command and wait")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 130, stderr
        assert f"interrupted; command #{pending[0].id} withdrawn" in stderr and "Traceback" not in stderr
        assert repo.get_control_command(pending[0].id).status == "expired"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        close_database(db)
