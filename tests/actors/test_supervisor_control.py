"""Control through the database at actor level: DatabaseStore + SupervisorActor on SQLite and PostgreSQL,
plus the HTTP listener (/metrics, /healthz, /readyz) and the run-lease child."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from kraken_runtime.actors.http import HttpServer
from kraken_runtime.actors.lease import RunLeaseActor
from kraken_runtime.actors.metrics import RuntimeMetrics
from kraken_runtime.actors.directory import Directory
from kraken_runtime.actors.health import SupervisorHealth
from kraken_runtime.actors.supervisor import SupervisorActor, SupervisorConfig
from kraken_runtime.actors.supervisor_store import DatabaseStore
from kraken_runtime.core import control as ctl
from kraken_runtime.core.messages import GetStatus, StartChildren, StopChildren, SupervisorTick
from kraken_runtime.core.supervision import ChildSpec

TIMEOUT = 5


@pytest.fixture
def database(db_url):
    from kraken_runtime.storage.db import close_database, open_database
    from kraken_runtime.storage import repo

    db = open_database(db_url)
    run_id = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h", pid=1,
                            now_ns=time.time_ns() - 10**9)
    yield repo, run_id
    close_database(db)


def _answered(repo, command_id):
    record = repo.get_control_command(command_id)
    return record if record is not None and record.status in ("applied", "refused", "failed", "expired") else None


def sweep_until(sup, predicate, *, what: str, timeout: float = TIMEOUT):
    """Sweep the supervisor until `predicate()` is truthy (its store calls run on their own thread, so an
    answer lands a sweep or two after the claim); returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        sup.ask(SupervisorTick(), timeout=TIMEOUT)
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout}s")
        time.sleep(0.01)


class PollRecordingStore(DatabaseStore):
    """DatabaseStore noting the wall time of every finished control poll (claims run on the store's thread)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.polled_at_ns: list[int] = []

    def claim_commands(self):
        now_ns = self._clock_ns()
        try:
            return super().claim_commands()
        finally:
            self.polled_at_ns.append(now_ns)


def poll_at(sup, store: PollRecordingStore, now_ns: int) -> None:
    """Sweep until a control poll that ran at wall time `now_ns` or later has finished."""
    sweep_until(sup, lambda: any(t >= now_ns for t in store.polled_at_ns), what=f"a poll at {now_ns}")


def _lease_spec(run_id):
    return ChildSpec(name="run-lease", factory=lambda link: RunLeaseActor.start(link=link, run_id=run_id, interval_s=0.05))


def test_every_ctl_command_when_written_as_a_row_then_applied_and_answered(database, clock, wait_until):
    repo, run_id = database
    metrics = RuntimeMetrics()
    sup = SupervisorActor.start(
        specs=[_lease_spec(run_id)], directory=Directory(metrics), metrics=metrics,
        store=DatabaseStore(run_id=run_id, shard="default"), monotonic_s=clock, random=lambda: 0.5,
        config=SupervisorConfig(control_poll_interval_s=0, run_id=run_id),
    )
    sup.ask(StartChildren(), timeout=TIMEOUT)
    before = repo.get_run(run_id)["heartbeat_at_ns"]
    wait_until(lambda: repo.get_run(run_id)["heartbeat_at_ns"] > before, what="run lease renewed by the child")

    def roundtrip(command: ctl.Command) -> tuple[str, dict]:
        command_id = repo.insert_control_command(command.name, ctl.command_args(command), issued_by="test", now_ns=time.time_ns())
        record = sweep_until(sup, lambda: _answered(repo, command_id), what=f"{command.name} answered")
        assert record.applied_by_run == run_id
        return record.status, dict(record.result)

    status, result = roundtrip(ctl.ShowStatus())
    assert status == "applied" and result["data"]["children"][0]["name"] == "run-lease"
    assert roundtrip(ctl.Halt(reason="drill"))[0] == "applied"
    assert repo.current_safety_mode() == ("halted", "drill (test)")
    assert roundtrip(ctl.ReduceOnly())[0] == "refused"
    assert roundtrip(ctl.Resume())[0] == "applied"
    assert roundtrip(ctl.ReduceOnly())[0] == "applied" and repo.current_safety_mode()[0] == "reduce_only"
    assert roundtrip(ctl.DisableStrategy(strategy="premium_gap"))[0] == "applied"
    assert repo.strategy_enabled_map() == {"premium_gap": False}
    assert roundtrip(ctl.EnableStrategy(strategy="premium_gap"))[0] == "applied"
    assert repo.strategy_enabled_map() == {"premium_gap": True}
    assert roundtrip(ctl.RestartActor(actor="run-lease"))[0] == "applied"
    assert roundtrip(ctl.RestartActor(actor="nobody"))[0] == "refused"
    assert roundtrip(ctl.InjectFault(actor="run-lease", times=1))[0] == "applied"
    wait_until(lambda: sup.ask(GetStatus(), timeout=TIMEOUT)["children"][0]["state"] == "restarting", what="drill fault")
    # A malformed row written by something other than ctl is refused, not trusted.
    bad = repo.insert_control_command("disable-strategy", {"strategy": "martingale"}, issued_by="test", now_ns=time.time_ns())
    assert sweep_until(sup, lambda: _answered(repo, bad), what="malformed row answered").status == "refused"
    events = [event for _, event, _ in repo.actor_events(run_id, "run-lease")]
    assert events[:1] == ["started"] and "restarted" in events and "fault_injected" in events and "failed" in events
    sup.ask(StopChildren(deadline_s=2), timeout=TIMEOUT)
    sup.stop()


def test_http_when_supervisor_sweeps_then_healthz_200_and_metrics_exported_else_503(clock, store):
    metrics = RuntimeMetrics()
    health = SupervisorHealth(max_sweep_age_s=60)
    server = HttpServer("127.0.0.1", 0, registry=metrics.registry, health=health.healthy, ready=health.ready)
    server.start()
    base = "http://%s:%d" % server.address

    def get(path):
        try:
            with urllib.request.urlopen(base + path, timeout=TIMEOUT) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    try:
        assert get("/healthz")[0] == 503  # no supervisor yet
        sup = SupervisorActor.start(specs=[], directory=Directory(metrics), metrics=metrics, store=store, monotonic_s=clock,
                                    health=health)
        assert get("/readyz")[0] == 503
        sup.ask(StartChildren(), timeout=TIMEOUT)
        sup.ask(SupervisorTick(), timeout=TIMEOUT)
        assert get("/healthz")[0] == 200 and get("/readyz")[0] == 200
        status, text = get("/metrics")
        assert status == 200 and "krt_safety_mode 0.0" in text and "krt_messages_dropped_total" in text
        sup.stop(block=True, timeout=TIMEOUT)
        assert get("/healthz")[0] == 503
        assert get("/nope")[0] == 404
    finally:
        server.stop()


def _pg_admin(url: str):
    import psycopg2

    parts = urllib.parse.urlsplit(url)
    options = dict(urllib.parse.parse_qsl(parts.query)).get("options")
    connection = psycopg2.connect(dbname=parts.path.lstrip("/"), user=parts.username, password=parts.password,
                                  host=parts.hostname, port=parts.port or 5432, options=options, connect_timeout=3)
    connection.autocommit = True
    return connection


class BackendRecordingStore(DatabaseStore):
    """DatabaseStore that notes which PostgreSQL backend served its last successful poll."""

    backend_pid: int | None = None

    def claim_commands(self):
        claimed = super().claim_commands()
        from kraken_runtime.storage.models import database_proxy
        self.backend_pid = database_proxy.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        return claimed


def test_control_when_postgresql_terminates_the_supervisor_backend_then_next_poll_reconnects_and_commands_round_trip(
        pg_url, clock, wait_until):
    from kraken_runtime.storage import repo
    from kraken_runtime.storage.db import close_database, open_database

    db = open_database(pg_url)
    run_id = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h", pid=1,
                            now_ns=time.time_ns())
    metrics = RuntimeMetrics()
    store = BackendRecordingStore(run_id=run_id, shard="default")
    health = SupervisorHealth(max_sweep_age_s=60, monotonic_s=clock)
    sup = SupervisorActor.start(specs=[], directory=Directory(metrics), metrics=metrics, store=store, monotonic_s=clock,
                                config=SupervisorConfig(control_poll_interval_s=0, run_id=run_id), health=health)
    admin = _pg_admin(pg_url)
    try:
        def roundtrip(reason: str) -> str:
            command_id = repo.insert_control_command("halt", {"reason": reason}, issued_by="test", now_ns=time.time_ns())
            return sweep_until(sup, lambda: _answered(repo, command_id), what=f"command {reason} answered").status

        assert roundtrip("before") == "applied"
        killed = store.backend_pid
        with admin.cursor() as cursor:
            # The supervisor's backend only: other tests may share this server.
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid = %s", (killed,))
            assert cursor.fetchone() == (True,)
        wait_until(lambda: _backend_gone(admin, killed), what="backend terminated")

        sweep_until(sup, lambda: health.control_failing_since is not None, what="the poll that meets the dead connection")
        assert "cannot read control commands" in health.control_error
        assert roundtrip("after") == "applied"  # the next polls reconnect
        assert store.backend_pid not in (None, killed)
        assert health.control_failing_since is None and health.healthy()[0]
        assert repo.current_safety_mode()[0] == "halted"
    finally:
        admin.close()
        sup.stop(block=True, timeout=TIMEOUT)
        close_database(db)


def _backend_gone(admin, pid: int) -> bool:
    with admin.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
        return cursor.fetchone()[0] == 0


class UnreachableStore:
    """A SupervisorStore whose database is down until `up` is set."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.polls = 0

    def claim_commands(self):
        self.polls += 1
        if not self.up.is_set():
            raise ConnectionError("could not connect to server: Connection refused\nIs the server running?")
        return []

    def record_actor_event(self, actor, event, detail):
        pass

    def record_safety_mode(self, mode, *, reason, source):
        pass

    def complete_command(self, command_id, result):
        pass

    def set_strategy_enabled(self, name, enabled, *, updated_by):
        pass

    def close(self):
        pass


def test_control_polls_failing_longer_than_a_few_intervals_then_healthz_200_degraded_and_readyz_503_until_they_work(
        clock, wait_until):
    """Finding: an unreachable database flipped /healthz to 503, so a liveness probe would restart a daemon that
    a restart cannot help. Now the database being down is "degraded" (/healthz 200 with a note and
    krt_health_degraded 1) and not ready (/readyz 503: an operator could not halt it through ctl)."""
    metrics = RuntimeMetrics()
    health = SupervisorHealth(max_sweep_age_s=60, monotonic_s=clock)
    store = UnreachableStore()
    sup = SupervisorActor.start(specs=[], directory=Directory(metrics), metrics=metrics, store=store, monotonic_s=clock,
                                config=SupervisorConfig(control_poll_interval_s=0.25), health=health)
    server = HttpServer("127.0.0.1", 0, registry=metrics.registry, health=health.healthy, ready=health.ready)
    server.start()

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen("http://%s:%d%s" % (*server.address, path), timeout=TIMEOUT) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def poll_after(seconds: float) -> None:
        """One poll interval: the sweep applies the previous claim's outcome and queues the next claim."""
        polls = store.polls
        clock.advance(seconds)
        sup.ask(SupervisorTick(), timeout=TIMEOUT)
        wait_until(lambda: store.polls == polls + 1, what="the next claim")

    try:
        sup.ask(StartChildren(), timeout=TIMEOUT)
        assert health.max_control_failure_s == 2.0  # 8 polls of 0.25 s
        poll_after(0)
        for _ in range(8):
            poll_after(0.25)
        assert get("/healthz") == (200, "ok: supervisor swept 0.00s ago\n") and get("/readyz")[0] == 200  # 1.75 s: a blip
        poll_after(0.5)
        status, body = get("/healthz")
        assert status == 200 and "degraded: control commands unreadable for 2.2s" in body
        assert "ConnectionError: could not connect to server: Connection refused" in body and "\n" not in body.strip()
        status, body = get("/readyz")
        assert status == 503 and body.startswith("unavailable: control commands unreadable for 2.2s (limit 2s)")
        sup.ask(SupervisorTick(), timeout=TIMEOUT)
        assert metrics.registry.get_sample_value("krt_health_degraded") == 1
        store.up.set()
        poll_after(0.25)  # applies the claim queued while down (failed), queues one that succeeds
        poll_after(0.25)
        assert get("/readyz")[0] == 200 and "degraded" not in get("/healthz")[1]
        sup.ask(SupervisorTick(), timeout=TIMEOUT)
        assert metrics.registry.get_sample_value("krt_health_degraded") == 0
    finally:
        server.stop()
        sup.stop(block=True, timeout=TIMEOUT)


def test_control_when_a_pending_row_is_older_than_the_maximum_age_then_expired_not_applied(database, clock):
    repo, run_id = database
    metrics = RuntimeMetrics()
    sup = SupervisorActor.start(
        specs=[], directory=Directory(metrics), metrics=metrics,
        store=DatabaseStore(run_id=run_id, shard="default", command_max_age_s=60), monotonic_s=clock,
        config=SupervisorConfig(control_poll_interval_s=0, run_id=run_id),
    )
    # A ctl killed an hour ago left its `halt` pending; an operator's fresh `status` came just now.
    stale = repo.insert_control_command("halt", {"reason": "an hour ago"}, issued_by="test", now_ns=time.time_ns() - 3600 * 10**9)
    fresh = repo.insert_control_command("status", {}, issued_by="test", now_ns=time.time_ns())
    sweep_until(sup, lambda: _answered(repo, fresh), what="the fresh command answered")
    expired = repo.get_control_command(stale)
    assert expired.status == "expired" and "expired unapplied" in expired.result["message"]
    assert repo.get_control_command(fresh).status == "applied"
    assert sup.ask(GetStatus(), timeout=TIMEOUT)["safety_mode"] == "active" and repo.current_safety_mode()[0] == "active"
    sup.stop(block=True, timeout=TIMEOUT)


# --- commands left `applying` by a run that died ---------------------------------------------------------------


def _claim_for(repo, run_id: int, command: str, args: dict) -> int:
    command_id = repo.insert_control_command(command, args, issued_by="test", now_ns=time.time_ns())
    claimed = repo.claim_pending_commands(run_id, shard="default", now_ns=time.time_ns(), max_age_ns=60 * 10**9)
    assert [c.id for c in claimed] == [command_id]
    return command_id


def test_daemon_start_when_a_dead_run_left_a_command_applying_then_failed_with_reason_and_never_reapplied(database, db_url):
    """Fault: the run that claimed `halt` crashed before writing its answer. The next daemon of the shard
    closes the row out as failed (outcome unknown) when it starts, and does not apply it; a command claimed by
    a live run of the shard is left to that run."""
    from kraken_runtime.daemon import Daemon, DaemonOptions
    from kraken_runtime.core.config import load_settings

    repo, live_run = database
    dead_run = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h",
                              pid=2, now_ns=time.time_ns())
    orphan = _claim_for(repo, dead_run, "halt", {"reason": "before the crash"})
    repo.finish_run(dead_run, status="crashed", now_ns=time.time_ns())
    busy = _claim_for(repo, live_run, "status", {})
    repo.heartbeat_run(live_run, time.time_ns())

    settings = load_settings(env={"KRT_STORAGE__DB_URL": db_url, "KRT_RUNTIME__SYMBOLS": "BTC/USD"})
    daemon = Daemon(settings, DaemonOptions(duration_s=0, http_host="127.0.0.1", http_port=0,
                                            install_signal_handlers=False, status_out=lambda _line: None))
    assert daemon.run() == 0

    record = repo.get_control_command(orphan)
    assert (record.status, record.applied_by_run) == ("failed", dead_run)
    assert record.result["message"].startswith(f"claimed by run {dead_run}, which ended (crashed) before it reported")
    assert "outcome unknown" in record.result["message"] and "re-issue it if it is still wanted" in record.result["message"]
    assert record.result["data"]["closed_by_run"] == daemon.run_id != dead_run
    assert repo.current_safety_mode()[0] == "active"  # the halt was not applied after the restart
    assert repo.get_control_command(busy).status == "applying"  # a live run's claim is its own


class WallClock:
    """Wall-clock nanoseconds that move only when the test says so (the store's `clock_ns`)."""

    def __init__(self) -> None:
        self.now_ns = time.time_ns()

    def __call__(self) -> int:
        return self.now_ns


def test_control_poll_when_a_killed_run_left_a_command_applying_then_failed_once_its_lease_is_stale(database, clock):
    """Fault: kill -9 while `resume` was applying. The run row still says `running` and the next daemon
    started seconds later, so at its start the lease still looks alive; a later poll closes the row out
    once the lease is older than the bound, and the command is not applied."""
    from kraken_runtime.core.supervision import SafetyMode

    repo, run_id = database
    wall = WallClock()
    killed = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h",
                            pid=3, now_ns=wall.now_ns)
    orphan = _claim_for(repo, killed, "resume", {"reason": "before kill -9"})
    repo.heartbeat_run(run_id, wall.now_ns)
    store = PollRecordingStore(run_id=run_id, shard="default", run_stale_after_s=48, clock_ns=wall)
    metrics = RuntimeMetrics()
    sup = SupervisorActor.start(specs=[], directory=Directory(metrics), metrics=metrics, store=store, monotonic_s=clock,
                                config=SupervisorConfig(control_poll_interval_s=0, run_id=run_id),
                                safety_mode=SafetyMode.HALTED, safety_reason="drill")
    try:
        wall.now_ns += 5 * 10**9
        poll_at(sup, store, wall.now_ns)
        assert repo.get_control_command(orphan).status == "applying"  # a 5 s old lease may be a live daemon
        wall.now_ns += 43 * 10**9
        store.polled_at_ns.clear()
        poll_at(sup, store, wall.now_ns)
        assert repo.get_control_command(orphan).status == "applying"  # exactly at the bound: still alive
        wall.now_ns += 10**9
        poll_at(sup, store, wall.now_ns)
        record = repo.get_control_command(orphan)
        assert (record.status, record.applied_by_run) == ("failed", killed)
        assert record.result["message"].startswith(
            f"claimed by run {killed}, which stopped renewing its lease 49s ago (killed or hung) before it reported")
        assert "outcome unknown" in record.result["message"]
        assert sup.ask(GetStatus(), timeout=TIMEOUT)["safety_mode"] == "halted"  # the resume was not applied
    finally:
        sup.stop(block=True, timeout=TIMEOUT)


def test_control_poll_when_the_claimant_renews_its_lease_then_its_applying_command_is_left_alone(database, clock):
    repo, run_id = database
    wall = WallClock()
    busy_run = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h",
                              pid=4, now_ns=wall.now_ns)
    busy = _claim_for(repo, busy_run, "status", {})
    store = PollRecordingStore(run_id=run_id, shard="default", run_stale_after_s=48, clock_ns=wall)
    metrics = RuntimeMetrics()
    sup = SupervisorActor.start(specs=[], directory=Directory(metrics), metrics=metrics, store=store, monotonic_s=clock,
                                config=SupervisorConfig(control_poll_interval_s=0, run_id=run_id))
    try:
        for _ in range(5):  # four minutes of polls, the claimant renewing its lease throughout
            wall.now_ns += 47 * 10**9
            repo.heartbeat_run(busy_run, wall.now_ns - 10**9)
            poll_at(sup, store, wall.now_ns)
            assert repo.get_control_command(busy).status == "applying"
        repo.complete_control_command(busy, status="applied", result={"status": "applied", "message": "ok", "data": {}},
                                      run_id=busy_run, now_ns=wall.now_ns)
        assert repo.get_control_command(busy).status == "applied"
    finally:
        sup.stop(block=True, timeout=TIMEOUT)


def test_ctl_when_the_run_that_claimed_its_command_dies_and_the_next_daemon_closes_it_out_then_prints_failed_and_exits_1(
        database, db_url, clock, tmp_path, wait_until):
    """What the operator sees: `ctl halt` waits; the daemon that claimed the halt crashes without answering;
    the next daemon of the shard closes the row out; ctl prints the reason on one line and exits 1."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo, run_id = database
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRT_", "KRAKEN_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    ctl_process = subprocess.Popen([sys.executable, "-m", "kraken_runtime", "ctl", "--db", db_url, "--timeout", "20",
                                    "halt", "--reason", "drill"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
    metrics = RuntimeMetrics()
    sup = None
    try:
        issued = wait_until(lambda: [c for c in repo.recent_control_commands() if c.command == "halt"], timeout=30,
                            what="ctl's halt row")
        dead_run = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t",
                                  hostname="h", pid=5, now_ns=time.time_ns())
        claimed = repo.claim_pending_commands(dead_run, shard="default", now_ns=time.time_ns(), max_age_ns=60 * 10**9)
        assert [c.id for c in claimed] == [issued[0].id]
        repo.finish_run(dead_run, status="crashed", now_ns=time.time_ns())
        sup = SupervisorActor.start(specs=[], directory=Directory(metrics), metrics=metrics, monotonic_s=clock,
                                    store=DatabaseStore(run_id=run_id, shard="default"),
                                    config=SupervisorConfig(control_poll_interval_s=0, run_id=run_id))
        sup.ask(SupervisorTick(), timeout=TIMEOUT)
        out, err = ctl_process.communicate(timeout=45)
    finally:
        if ctl_process.poll() is None:
            ctl_process.kill()
            ctl_process.wait(timeout=TIMEOUT)
        if sup is not None:
            sup.stop(block=True, timeout=TIMEOUT)
    assert ctl_process.returncode == 1, err
    assert out == ""
    assert err.strip().splitlines() == [
        f"halt: failed: claimed by run {dead_run}, which ended (crashed) before it reported whether it applied the "
        "command; outcome unknown, not retried: check `ctl status` and re-issue it if it is still wanted"]
    assert repo.current_safety_mode()[0] == "active"
