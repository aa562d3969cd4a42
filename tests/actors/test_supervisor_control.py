"""Control through the database at actor level: DatabaseStore + SupervisorActor on SQLite and PostgreSQL,
plus the HTTP listener (/metrics, /healthz, /readyz) and the run-lease child."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

from actors.http import HttpServer
from actors.lease import RunLeaseActor
from actors.metrics import RuntimeMetrics
from actors.supervisor import DatabaseStore, Directory, SupervisorActor, SupervisorConfig, SupervisorHealth
from core import control as ctl
from core.messages import GetStatus, StartChildren, StopChildren, SupervisorTick
from core.supervision import ChildSpec

TIMEOUT = 5


@pytest.fixture
def database(db_url):
    from storage.db import close_database, open_database
    from storage import repo

    db = open_database(db_url)
    run_id = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h", pid=1,
                            now_ns=time.time_ns() - 10**9)
    yield repo, run_id
    close_database(db)


def _lease_spec(run_id):
    return ChildSpec(name="run-lease", factory=lambda link: RunLeaseActor.start(link=link, run_id=run_id, interval_s=0.05))


def test_every_ctl_command_when_written_as_a_row_then_applied_and_answered(database, clock, wait_until):
    repo, run_id = database
    metrics = RuntimeMetrics()
    sup = SupervisorActor.start(
        specs=[_lease_spec(run_id)], directory=Directory(metrics), metrics=metrics,
        store=DatabaseStore(run_id=run_id, shard="default"), clock=clock, random=lambda: 0.5,
        config=SupervisorConfig(control_poll_interval_s=0, run_id=run_id),
    )
    sup.ask(StartChildren(), timeout=TIMEOUT)
    before = repo.get_run(run_id)["heartbeat_at_ns"]
    wait_until(lambda: repo.get_run(run_id)["heartbeat_at_ns"] > before, what="run lease renewed by the child")

    def roundtrip(command: ctl.Command) -> tuple[str, dict]:
        command_id = repo.insert_control_command(command.name, ctl.command_args(command), issued_by="test", now_ns=time.time_ns())
        sup.ask(SupervisorTick(), timeout=TIMEOUT)
        record = repo.get_control_command(command_id)
        assert record.applied_by_run == run_id
        return record.status, dict(record.result)

    status, result = roundtrip(ctl.ShowStatus())
    assert status == "applied" and result["data"]["children"][0]["name"] == "run-lease"
    assert roundtrip(ctl.Halt(reason="drill"))[0] == "applied"
    assert repo.current_safety_mode() == ("halted", "drill (test)")
    assert roundtrip(ctl.ReduceOnly())[0] == "refused"
    assert roundtrip(ctl.Resume())[0] == "applied"
    assert roundtrip(ctl.ReduceOnly())[0] == "applied" and repo.current_safety_mode()[0] == "reduce_only"
    assert roundtrip(ctl.DisableStrategy(strategy="regime"))[0] == "applied"
    assert repo.strategy_enabled_map() == {"regime": False}
    assert roundtrip(ctl.EnableStrategy(strategy="regime"))[0] == "applied"
    assert repo.strategy_enabled_map() == {"regime": True}
    assert roundtrip(ctl.RestartActor(actor="run-lease"))[0] == "applied"
    assert roundtrip(ctl.RestartActor(actor="nobody"))[0] == "refused"
    assert roundtrip(ctl.InjectFault(actor="run-lease", times=1))[0] == "applied"
    wait_until(lambda: sup.ask(GetStatus(), timeout=TIMEOUT)["children"][0]["state"] == "restarting", what="drill fault")
    # A malformed row written by something other than ctl is refused, not trusted.
    bad = repo.insert_control_command("disable-strategy", {"strategy": "martingale"}, issued_by="test", now_ns=time.time_ns())
    sup.ask(SupervisorTick(), timeout=TIMEOUT)
    assert repo.get_control_command(bad).status == "refused"
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
        sup = SupervisorActor.start(specs=[], directory=Directory(metrics), metrics=metrics, store=store, clock=clock,
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
