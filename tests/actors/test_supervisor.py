"""SupervisorActor + Directory + SupervisedActor with real pykka actors, a fake clock and manual sweeps.

`h.tick()` asks the supervisor to sweep once: the ask returns after the sweep, so it doubles as the
synchronisation point; failures reach the supervisor asynchronously and are awaited with deadlines."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pykka
import pytest

from kraken_runtime.actors.base import SupervisedActor
from kraken_runtime.actors.metrics import RuntimeMetrics
from kraken_runtime.actors.supervisor import Directory, SupervisorActor, SupervisorConfig
from kraken_runtime.core import control as ctl
from kraken_runtime.core.messages import ApplyControl, GetStatus, StartChildren, StopChildren, SupervisorTick
from kraken_runtime.core.supervision import Backoff, ChildSpec, RestartBudget, RestartPolicy, RevivalPolicy

TIMEOUT = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Crash:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    entered: threading.Event
    release: threading.Event


@dataclass(frozen=True, slots=True, kw_only=True)
class Forward:
    to: str
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Vanish:
    pass


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[tuple[str, int, Any]] = []
        self.lifecycle: list[tuple[str, str]] = []

    def add(self, entry) -> None:
        with self._lock:
            self.entries.append(entry)

    def life(self, entry) -> None:
        with self._lock:
            self.lifecycle.append(entry)

    def values(self, name: str, generation: int | None = None) -> list[Any]:
        with self._lock:
            return [v for n, g, v in self.entries if n == name and (generation is None or g == generation)]


class Worker(SupervisedActor):
    def __init__(self, *, link, journal: Journal, directory: Directory, fail_start_generations=()) -> None:
        super().__init__(link=link)
        self.journal, self.directory, self.fail_start_generations = journal, directory, fail_start_generations

    def on_supervised_start(self) -> None:
        self.journal.life(("start", self.link.name))
        if self.link.generation in self.fail_start_generations:
            raise RuntimeError("cannot start")

    def on_supervised_stop(self) -> None:
        self.journal.life(("stop", self.link.name))

    def handle(self, message: Any) -> Any:
        match message:
            case Record():
                self.journal.add((self.link.name, self.link.generation, message.value))
                return message.value
            case Crash():
                raise RuntimeError("crashed on purpose")
            case Block():
                message.entered.set()
                message.release.wait(30)
            case Forward():
                self.directory.send(message.to, Record(value=message.value))
            case Vanish():
                self.actor_stopped.set()  # leaves pykka's loop with no report at all
            case _:
                raise TypeError(message)


@dataclass
class Harness:
    sup: pykka.ActorRef
    directory: Directory
    metrics: RuntimeMetrics
    journal: Journal
    store: Any
    clock: Any
    fatal: list = field(default_factory=list)

    def tick(self) -> None:
        self.sup.ask(SupervisorTick(), timeout=TIMEOUT)

    def status(self) -> dict:
        return self.sup.ask(GetStatus(), timeout=TIMEOUT)

    def child(self, name: str) -> dict:
        return next(c for c in self.status()["children"] if c["name"] == name)

    def apply(self, command) -> ctl.CommandResult:
        return self.sup.ask(ApplyControl(command=command), timeout=TIMEOUT)

    def metric(self, name: str, **labels) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)

    def restart_when_due(self, name: str, wait_until) -> None:
        """Wait for the failure to be seen, then move the clock past any backoff and sweep."""
        wait_until(lambda: self.child(name)["state"] == "restarting", what=f"{name} restarting")
        self.clock.advance(60)
        self.tick()
        wait_until(lambda: self.child(name)["state"] == "running", what=f"{name} running again")


@pytest.fixture
def harness(clock, store):
    made = []

    def make(children=("worker", "sibling"), *, budget=RestartBudget(max_restarts=3, period_s=300), critical=(),
             fail_start=None, mailbox_limit=10_000, exit_on_critical=False, deadline_s=10.0, mode="paper",
             revival=RevivalPolicy(initial_s=60, max_s=240)) -> Harness:
        metrics = RuntimeMetrics()
        directory = Directory(metrics)
        journal = Journal()
        fail_start = fail_start or {}
        specs = [
            ChildSpec(
                name=name,
                factory=lambda link, name=name: Worker.start(link=link, journal=journal, directory=directory,
                                                             fail_start_generations=fail_start.get(name, ())),
                policy=RestartPolicy.PERMANENT, budget=budget,
                backoff=Backoff(initial_s=0.5, max_s=4, jitter_ratio=0.2), critical=name in critical,
                mailbox_limit=mailbox_limit, shutdown_timeout_s=2,
            )
            for name in children
        ]
        h = Harness(sup=None, directory=directory, metrics=metrics, journal=journal, store=store, clock=clock)  # type: ignore[arg-type]
        h.sup = SupervisorActor.start(
            specs=specs, directory=directory, metrics=metrics, store=store, monotonic_s=clock, random=lambda: 0.5,
            config=SupervisorConfig(heartbeat_interval_s=1, heartbeat_deadline_s=deadline_s, control_poll_interval_s=0,
                                    exit_on_critical_disable=exit_on_critical, runtime_mode=mode, revival=revival),
            on_fatal=h.fatal.append,
        )
        h.sup.ask(StartChildren(), timeout=TIMEOUT)
        made.append(h)
        return h

    return make


def test_crash_when_child_raises_in_a_tell_then_restarted_and_peers_reach_the_new_instance(harness, wait_until):
    h = harness()
    assert h.directory.send("worker", Record(value="before"))
    wait_until(lambda: h.journal.values("worker", 1) == ["before"], what="first delivery")
    h.directory.send("worker", Crash())
    wait_until(lambda: h.child("worker")["state"] == "restarting", what="failure seen")
    # While restarting: dropped and counted, never raised into the sender.
    assert h.directory.send("sibling", Forward(to="worker", value="lost")) is True
    wait_until(lambda: h.directory.dropped("worker") == 1, what="drop counted")
    assert h.metric("krt_messages_dropped_total", actor="worker", reason="restarting") == 1
    h.clock.advance(60)
    h.tick()
    wait_until(lambda: h.child("worker")["state"] == "running")
    h.directory.send("sibling", Forward(to="worker", value="after"))
    wait_until(lambda: h.journal.values("worker", 2) == ["after"], what="delivery to generation 2")
    child = h.child("worker")
    assert child["restarts"] == 1 and "crashed on purpose" in child["last_error"]
    assert h.metric("krt_actor_restarts_total", actor="worker") == 1
    assert h.metric("krt_actor_up", actor="worker") == 1
    assert h.metric("krt_actor_failures_total", actor="worker", phase="message") == 1
    wait_until(lambda: h.store.events_for("worker") == ["started", "failed", "restarted"], what="actor events")


def test_crash_loop_when_budget_exhausted_then_child_disabled_alone_while_sibling_keeps_processing(harness, wait_until):
    h = harness(budget=RestartBudget(max_restarts=2, period_s=300))
    for round_ in range(2):
        h.directory.send("worker", Crash())
        h.directory.send("sibling", Record(value=round_))
        h.restart_when_due("worker", wait_until)
    h.directory.send("worker", Crash())
    wait_until(lambda: h.child("worker")["state"] == "disabled", what="disabled")
    for value in ("a", "b", "c"):
        h.directory.send("sibling", Record(value=value))
    wait_until(lambda: h.journal.values("sibling") == [0, 1, "a", "b", "c"], what="sibling processing")
    h.clock.advance(59)
    h.tick()
    assert h.child("worker")["state"] == "disabled"  # stays disabled until its revival cool-off (60 s) has passed
    assert h.child("worker")["revive_in_s"] == pytest.approx(1.0, abs=0.01)
    assert h.child("sibling")["state"] == "running" and h.child("sibling")["restarts"] == 0
    assert h.directory.send("worker", Record(value="x")) is False
    assert h.metric("krt_actor_disabled", actor="worker") == 1
    assert h.metric("krt_actor_up", actor="worker") == 0
    assert h.metric("krt_messages_dropped_total", actor="worker", reason="disabled") == 1
    wait_until(lambda: h.store.events_for("worker")[-1:] == ["disabled"], what="disabled stored")
    assert h.status()["safety_mode"] == "active"  # not critical


def test_on_start_failure_when_first_instance_cannot_start_then_detected_and_restarted(harness, wait_until):
    h = harness(fail_start={"worker": (1,)})
    wait_until(lambda: h.child("worker")["state"] == "restarting", what="start failure seen")
    assert h.child("worker")["last_error"].startswith("start: RuntimeError: cannot start")
    assert h.metric("krt_actor_failures_total", actor="worker", phase="start") == 1
    h.clock.advance(60)
    h.tick()
    h.directory.send("worker", Record(value="up"))
    wait_until(lambda: h.journal.values("worker", 2) == ["up"], what="second instance working")


def test_ask_failure_when_error_goes_back_to_caller_then_supervisor_still_replaces_the_instance(harness, wait_until):
    h = harness()
    target = h.directory.lookup("worker")
    with pytest.raises(RuntimeError, match="crashed on purpose"):
        target.ask(Crash(), timeout=TIMEOUT)
    wait_until(lambda: h.child("worker")["state"] == "restarting", what="ask failure seen")
    wait_until(lambda: not target.is_alive(), what="old instance stopped")
    h.clock.advance(60)
    h.tick()
    wait_until(lambda: h.child("worker")["state"] == "running")
    h.directory.send("worker", Record(value="new"))
    wait_until(lambda: h.journal.values("worker", 2) == ["new"])


def test_hung_actor_when_heartbeat_misses_its_deadline_then_replaced_and_stuck_thread_counted(harness, wait_until):
    h = harness(deadline_s=10)
    entered, release = threading.Event(), threading.Event()
    h.directory.send("worker", Block(entered=entered, release=release))
    assert entered.wait(TIMEOUT)
    h.tick()  # heartbeat requests go out at t0
    h.directory.send("sibling", Record(value="ping"))
    wait_until(lambda: h.journal.values("sibling") == ["ping"], what="sibling answered its heartbeat")
    h.clock.advance(5)
    h.tick()
    assert h.child("worker")["state"] == "running"  # within the deadline
    h.clock.advance(6)
    h.tick()
    worker = h.child("worker")
    assert worker["state"] == "restarting" and worker["last_error"].startswith("hung:")
    assert h.child("sibling")["state"] == "running" and h.child("sibling")["restarts"] == 0
    assert h.metric("krt_actor_hung_total", actor="worker") == 1
    assert h.metric("krt_actor_stuck_threads") == 1 and h.status()["stuck_threads"] == 1
    h.directory.send("worker", Record(value="while restarting"))  # not queued behind the stuck handler
    h.clock.advance(60)
    h.tick()
    h.directory.send("worker", Record(value="fresh"))
    wait_until(lambda: h.journal.values("worker", 2) == ["fresh"], what="replacement works while the old thread is stuck")
    release.set()
    wait_until(lambda: (h.tick(), h.metric("krt_actor_stuck_threads") == 0)[1], what="stuck thread ends")
    assert h.journal.values("worker", 1) == []  # the old instance handled nothing after being replaced
    wait_until(lambda: "hung" in h.store.events_for("worker"), what="hung stored")


def test_liveness_sweep_when_instance_dies_without_any_report_then_detected(harness, wait_until):
    h = harness()
    h.directory.send("worker", Vanish())
    wait_until(lambda: (h.tick(), h.child("worker")["state"] == "restarting")[1], what="death found by the sweep")
    assert h.metric("krt_actor_failures_total", actor="worker", phase="died") == 1


def test_unrequested_stop_when_permanent_child_exits_then_restarted(harness, wait_until):
    h = harness()
    h.directory.lookup("worker").stop()
    h.restart_when_due("worker", wait_until)


def test_critical_child_when_disabled_then_halted_resume_refused_until_restarted(harness, wait_until):
    h = harness(children=("risk", "worker"), critical=("risk",), budget=RestartBudget(max_restarts=0, period_s=60),
                exit_on_critical=True)
    h.directory.send("risk", Crash())
    wait_until(lambda: h.status()["safety_mode"] == "halted", what="HALTED")
    assert h.child("risk")["state"] == "disabled" and h.child("worker")["state"] == "running"
    assert h.metric("krt_safety_mode") == 2
    wait_until(lambda: h.store.modes and h.store.modes[-1][0] == "halted", what="HALTED stored")
    assert h.store.modes[-1][2] == "supervisor"
    assert len(h.fatal) == 1 and "risk" in h.fatal[0]  # exit_on_critical_disable -> the daemon exits 1
    refused = h.apply(ctl.Resume())
    assert refused.status == "refused" and "risk" in refused.message
    assert h.apply(ctl.RestartActor(actor="risk")).status == "applied"
    assert h.child("risk")["state"] == "running" and h.metric("krt_actor_disabled", actor="risk") == 0
    assert h.apply(ctl.Resume()).status == "applied"
    assert h.status()["safety_mode"] == "active" and h.metric("krt_safety_mode") == 0


def test_shutdown_when_stopping_children_then_reverse_start_order(harness):
    h = harness(children=("first", "second", "third"))
    assert [e for e in h.journal.lifecycle if e[0] == "start"] == [("start", "first"), ("start", "second"), ("start", "third")]
    outcomes = h.sup.ask(StopChildren(deadline_s=5), timeout=TIMEOUT)
    assert [name for name, _ in outcomes] == ["third", "second", "first"]
    assert all(outcome == "stopped" for _, outcome in outcomes)
    assert [e for e in h.journal.lifecycle if e[0] == "stop"] == [("stop", "third"), ("stop", "second"), ("stop", "first")]
    assert h.directory.send("first", Record(value="late")) is False


def test_shutdown_when_a_child_hangs_then_abandoned_within_the_deadline(harness, caplog):
    caplog.set_level("INFO", logger="kraken_runtime.actors.supervisor")
    h = harness(children=("a", "b"))
    entered, release = threading.Event(), threading.Event()
    h.directory.send("b", Block(entered=entered, release=release))
    assert entered.wait(TIMEOUT)
    outcomes = dict(h.sup.ask(StopChildren(deadline_s=0.5), timeout=TIMEOUT))
    release.set()
    assert "abandoned" in outcomes["b"] and outcomes["a"] == "stopped"
    [listing] = [r for r in caplog.records if "stopped children in reverse order" in r.getMessage()]
    assert listing.levelname == "WARNING" and "abandoned mid-stop: b (" in listing.getMessage()  # not a quiet INFO line


def test_inject_fault_when_armed_for_n_messages_then_next_n_raise_and_restart(harness, wait_until):
    h = harness()
    result = h.apply(ctl.InjectFault(actor="worker", times=2))
    assert result.status == "applied"
    h.directory.send("worker", Record(value=1))
    h.restart_when_due("worker", wait_until)
    h.directory.send("worker", Record(value=2))
    h.restart_when_due("worker", wait_until)
    h.directory.send("worker", Record(value=3))
    wait_until(lambda: h.journal.values("worker") == [3], what="third message handled")
    assert h.child("worker")["restarts"] == 2 and "InjectedFault" in h.child("worker")["last_error"]
    assert h.apply(ctl.InjectFault(actor="nobody")).status == "refused"


def test_inject_fault_when_daemon_is_live_then_refused_unless_allowed(harness):
    h = harness(mode="live")
    assert h.apply(ctl.InjectFault(actor="worker")).status == "refused"
    assert h.apply(ctl.InjectFault(actor="worker", allow_in_live=True)).status == "applied"


def test_directory_when_mailbox_at_limit_then_drops_without_blocking(harness, wait_until):
    h = harness(mailbox_limit=3)
    entered, release = threading.Event(), threading.Event()
    h.directory.send("worker", Block(entered=entered, release=release))
    assert entered.wait(TIMEOUT)
    sent = [h.directory.send("worker", Record(value=i)) for i in range(10)]
    assert sent == [True] * 3 + [False] * 7
    assert h.metric("krt_messages_dropped_total", actor="worker", reason="mailbox_full") == 7
    h.tick()
    assert h.metric("krt_actor_mailbox_messages", actor="worker") >= 3
    release.set()
    wait_until(lambda: h.journal.values("worker") == [0, 1, 2])
    assert h.directory.send("nobody", Record(value=0)) is False
    assert h.metric("krt_messages_dropped_total", actor="_unknown", reason="unknown") == 1


def test_send_latest_when_reader_is_slow_then_only_the_newest_per_key_is_delivered(harness, wait_until):
    h = harness()
    entered, release = threading.Event(), threading.Event()
    h.directory.send("worker", Block(entered=entered, release=release))
    assert entered.wait(TIMEOUT)
    for i in range(100):
        h.directory.send_latest("worker", "BTC/USD", Record(value=("BTC/USD", i)))
        h.directory.send_latest("worker", "ETH/USD", Record(value=("ETH/USD", i)))
    assert h.directory.mailbox_depth("worker") == 2  # one delivery per key
    release.set()
    wait_until(lambda: len(h.journal.values("worker")) == 2)
    assert sorted(h.journal.values("worker")) == [("BTC/USD", 99), ("ETH/USD", 99)]
    assert h.metric("krt_messages_coalesced_total", actor="worker") == 198
    h.directory.send_latest("worker", "BTC/USD", Record(value=("BTC/USD", 100)))
    wait_until(lambda: ("BTC/USD", 100) in h.journal.values("worker"), what="delivery after draining")


def test_strategy_commands_when_applied_then_stored_and_reported(harness, wait_until):
    h = harness()
    assert h.apply(ctl.DisableStrategy(strategy="momentum")).status == "applied"
    wait_until(lambda: h.store.strategies == {"momentum": False}, what="setting stored")
    assert h.status()["strategies"]["momentum"] is False
    assert h.apply(ctl.EnableStrategy(strategy="momentum")).status == "applied"
    assert h.status()["strategies"]["momentum"] is True


def test_safety_commands_when_applied_then_only_resume_leaves_halted(harness, wait_until):
    h = harness()
    assert h.apply(ctl.ReduceOnly()).status == "applied" and h.metric("krt_safety_mode") == 1
    assert h.apply(ctl.Halt()).status == "applied" and h.metric("krt_safety_mode") == 2
    assert h.apply(ctl.ReduceOnly()).status == "refused"
    assert h.apply(ctl.Resume()).status == "applied"
    wait_until(lambda: [m for m, _, _ in h.store.modes] == ["reduce_only", "halted", "active"], what="modes stored")


def test_restart_command_when_child_unknown_then_refused_and_when_running_then_new_generation(harness, wait_until):
    h = harness()
    assert h.apply(ctl.RestartActor(actor="ghost")).status == "refused"
    assert h.apply(ctl.RestartActor(actor="worker")).status == "applied"
    h.directory.send("worker", Record(value="gen2"))
    wait_until(lambda: h.journal.values("worker", 2) == ["gen2"])


def test_disabled_child_when_its_cool_off_passes_then_revived_counted_and_next_cool_off_doubles(harness, wait_until):
    """Finding: a child disabled by failures that have since cleared (a database outage) stayed disabled for
    good. Now it is revived after the cool-off with a fresh budget, logged, stored and counted; a child that
    is disabled again waits twice as long; `ctl restart` resets that."""
    h = harness(budget=RestartBudget(max_restarts=0, period_s=300), revival=RevivalPolicy(initial_s=60, max_s=240))
    h.directory.send("worker", Crash())
    wait_until(lambda: h.child("worker")["state"] == "disabled", what="disabled at once (budget 0)")
    h.clock.advance(60)
    h.tick()
    wait_until(lambda: h.child("worker")["state"] == "running", what="revived")
    assert h.metric("krt_actor_revivals_total", actor="worker") == 1
    wait_until(lambda: "revived" in h.store.events_for("worker"), what="revival stored")
    h.directory.send("worker", Record(value="back"))
    wait_until(lambda: "back" in h.journal.values("worker"), what="revived instance working")
    h.directory.send("worker", Crash())  # the cause has not cleared: disabled again, twice the cool-off
    wait_until(lambda: h.child("worker")["state"] == "disabled", what="disabled again")
    assert h.child("worker")["revive_in_s"] == pytest.approx(120.0, abs=0.01)
    h.clock.advance(119)
    h.tick()
    assert h.child("worker")["state"] == "disabled"
    h.clock.advance(1)
    h.tick()
    wait_until(lambda: h.child("worker")["state"] == "running", what="revived the second time")
    assert h.metric("krt_actor_revivals_total", actor="worker") == 2


def test_revival_when_turned_off_then_a_disabled_child_stays_disabled(harness, wait_until):
    h = harness(budget=RestartBudget(max_restarts=0, period_s=300), revival=RevivalPolicy(initial_s=0, max_s=0))
    h.directory.send("worker", Crash())
    wait_until(lambda: h.child("worker")["state"] == "disabled", what="disabled")
    h.clock.advance(86_400)
    h.tick()
    assert h.child("worker")["state"] == "disabled" and "revive_in_s" not in h.child("worker")


def test_strategy_command_when_its_setting_cannot_be_stored_then_answered_failed_not_applied(harness, wait_until):
    """The answer is written on the store's thread after what the command must persist; a persist that
    fails turns the answer into `failed` (the operator must not read `applied` for a setting that is lost)."""
    from kraken_runtime.actors.supervisor_store import PendingCommand

    h = harness()

    def refuse(name, enabled, *, updated_by):
        raise ConnectionError("database unavailable")

    h.store.set_strategy_enabled = refuse
    h.store.pending = [PendingCommand(command_id=1, command="disable-strategy", args={"strategy": "momentum"},
                                      issued_by="op", created_at_ns=0)]
    wait_until(lambda: (h.tick(), 1 in h.store.results)[1], what="command answered")
    result = h.store.results[1]
    assert result.status == "failed" and result.message == "not persisted: ConnectionError: database unavailable"
