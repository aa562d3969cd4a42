"""SupervisorActor and the Directory: one_for_one supervision of the daemon's children, the name service
peers send through, and the operator control channel (control_commands rows).

Wiring only: every decision (restart or disable, backoff, budget, safety-mode transitions, command
validation) is made by core/supervision.py and core/control.py; this module starts and stops actors,
moves messages, reads the injected clock and writes what happened to storage, logs and metrics.

Failure detection has four sources, all ending in `_child_failed(name, generation, phase, error)`:
  1. ChildFailed reports from SupervisedActor (start, message = tell or ask, stop);
  2. ChildExited for an instance that stopped without being asked (a policy decides);
  3. the liveness sweep: an instance found dead with no report pending ("died");
  4. the heartbeat deadline: a request unanswered for longer than the deadline ("hung").
Only the first report per instance (generation) counts; later ones are stale and ignored.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence

import pykka

from kraken_runtime.actors.base import EMPTY_SLOT as _NOTHING
from kraken_runtime.actors.base import ChildLink, FaultBudget, LatestDelivery, LatestSlot
from kraken_runtime.actors.metrics import UNKNOWN_ACTOR, RuntimeMetrics
from kraken_runtime.core import control as ctl
from kraken_runtime.core.messages import (
    ApplyControl,
    ChildExited,
    ChildFailed,
    ChildStarted,
    GetStatus,
    Heartbeat,
    RequestHeartbeat,
    SafetyModeChanged,
    StartChildren,
    StopChildren,
    StrategyEnablementChanged,
    SupervisorTick,
)
from kraken_runtime.core.supervision import (
    ChildSpec,
    ChildState,
    ChildStatus,
    DisableChild,
    HeartbeatTrack,
    IgnoreReport,
    ModeSource,
    RestartAfter,
    SafetyMode,
    StayStopped,
    child_exited_normally,
    child_failed,
    child_started,
    child_stopped,
    heartbeat_answered,
    heartbeat_due,
    heartbeat_sent,
    is_hung,
    operator_restart,
    request_safety_mode,
    restart_is_due,
)

log = logging.getLogger(__name__)


# --- directory ------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Entry:
    ref: pykka.ActorRef | None = None
    state: str = "stopped"  # running | restarting | disabled | stopped
    mailbox_limit: int = 10_000
    # Latest-wins slots of the current instance only: `attach` installs a new dict, so a delivery queued to
    # an instance that was replaced (its mailbox died with it, or is dropped by its abandoned thread) can
    # never leave a slot of the new instance looking "delivery pending" forever.
    slots: dict[Any, LatestSlot] = field(default_factory=dict)
    dropped: int = 0


class Directory:
    """Name -> current instance. Peers send by name (`directory.send("risk", msg)`), so a restart is
    invisible to them. A send never raises into the sender and never blocks it: a message for a child
    that is disabled, restarting, stopped, unknown or whose mailbox is at its limit is dropped, counted
    (krt_messages_dropped_total{actor,reason}) and `send` returns False."""

    def __init__(self, metrics: RuntimeMetrics | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._metrics = metrics
        self._unknown_dropped = 0

    def register(self, name: str, *, mailbox_limit: int = 10_000) -> None:
        with self._lock:
            self._entries.setdefault(name, _Entry(mailbox_limit=mailbox_limit))

    def attach(self, name: str, ref: pykka.ActorRef) -> None:
        with self._lock:
            entry = self._entries[name]
            entry.ref, entry.state = ref, "running"
            entry.slots = {}  # deliveries queued to the old instance died with its mailbox

    def detach(self, name: str, state: str) -> None:
        with self._lock:
            entry = self._entries[name]
            entry.ref, entry.state = None, state

    def lookup(self, name: str) -> pykka.ActorRef | None:
        """The current instance's ref, for asks at the edges (ctl, health checks, tests); None unless running."""
        with self._lock:
            entry = self._entries.get(name)
            return entry.ref if entry is not None and entry.state == "running" else None

    def names(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._entries)

    def state(self, name: str) -> str | None:
        with self._lock:
            entry = self._entries.get(name)
            return None if entry is None else entry.state

    def mailbox_depth(self, name: str) -> int:
        with self._lock:
            entry = self._entries.get(name)
            ref = None if entry is None else entry.ref
        return 0 if ref is None else ref.actor_inbox.qsize()  # type: ignore[attr-defined]

    def dropped(self, name: str | None = None) -> int:
        with self._lock:
            if name is None:
                return self._unknown_dropped + sum(entry.dropped for entry in self._entries.values())
            entry = self._entries.get(name)
            return 0 if entry is None else entry.dropped

    def _drop(self, name: str, reason: str) -> bool:
        known = False
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                entry.dropped += 1
                known = True
            else:
                self._unknown_dropped += 1
        if self._metrics is not None:
            self._metrics.messages_dropped.labels(actor=name if known else UNKNOWN_ACTOR, reason=reason).inc()
        log.debug("dropped a message for %s (%s)", name, reason)
        return False

    def _target(self, name: str) -> tuple[pykka.ActorRef | None, str | None, _Entry | None]:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return None, "unknown", None
            if entry.ref is None or entry.state != "running":
                return None, entry.state, entry
            if entry.ref.actor_inbox.qsize() >= entry.mailbox_limit:  # type: ignore[attr-defined]
                return None, "mailbox_full", entry
            return entry.ref, None, entry

    def send(self, name: str, message: Any) -> bool:
        ref, reason, _ = self._target(name)
        if ref is None:
            return self._drop(name, reason or "unknown")
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            return self._drop(name, "restarting")  # died a moment ago; the supervisor is on it
        return True

    def send_latest(self, name: str, key: Any, message: Any) -> bool:
        """Latest-wins send for snapshot-type messages: while an earlier message for (name, key) is still
        waiting in the mailbox, this one replaces it (krt_messages_coalesced_total) instead of queueing.

        The instance and its slot are looked up together, under the lock, and belong to one generation. If
        the child is replaced between that lookup and the tell, the delivery went to the old instance's
        mailbox; the value is then taken back from the orphaned slot (unless the old instance already
        consumed it) and sent again to the new instance, so a restart never strands the newest value."""
        for _attempt in range(3):  # a restart per attempt is already far-fetched; bounded all the same
            with self._lock:
                entry = self._entries.get(name)
                if entry is None:
                    reason: str | None = "unknown"
                elif entry.ref is None or entry.state != "running":
                    reason = entry.state
                elif entry.ref.actor_inbox.qsize() >= entry.mailbox_limit:  # type: ignore[attr-defined]
                    reason = "mailbox_full"
                else:
                    reason = None
                if reason is not None:
                    break
                ref, slots = entry.ref, entry.slots
                slot = slots.get(key)
                if slot is None:
                    if len(slots) >= 4096:  # bounded: keys are symbols; never ids
                        slots.clear()
                    slot = slots[key] = LatestSlot()
            needs_delivery, replaced = slot.put(message)
            if replaced and self._metrics is not None:
                self._metrics.messages_coalesced.labels(actor=name).inc()
            dead = False
            if needs_delivery:
                try:
                    ref.tell(LatestDelivery(slot=slot))
                except pykka.ActorDeadError:
                    dead = True  # died a moment ago; the supervisor is on it
            with self._lock:
                current = entry.slots is slots
            if current and not dead:
                return True
            value = slot.take()  # take the value back from the slot whose delivery went nowhere
            if current:
                return self._drop(name, "restarting")
            if value is _NOTHING:
                return True  # the old instance consumed it before it was replaced
            message = value  # replaced meanwhile: send it again, to the new instance
        else:
            reason = "restarting"
        return self._drop(name, reason or "unknown")


# --- storage seen by the supervisor -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingCommand:
    command_id: int
    command: str
    args: Mapping[str, Any]
    issued_by: str
    created_at_ns: int


class SupervisorStore(Protocol):
    def record_actor_event(self, actor: str, event: str, detail: str) -> None: ...
    def record_safety_mode(self, mode: str, *, reason: str, source: str) -> None: ...
    def claim_commands(self) -> Sequence[PendingCommand]: ...
    def complete_command(self, command_id: int, result: ctl.CommandResult) -> None: ...
    def set_strategy_enabled(self, name: str, enabled: bool, *, updated_by: str) -> None: ...
    def close(self) -> None: ...


# A run whose lease (runs.heartbeat_at_ns) is older than this is gone, whatever its status column says; the
# daemon passes run_stale_after_s(settings) instead (actors/daemon.py).
DEFAULT_RUN_STALE_AFTER_S = 60.0


class DatabaseStore:
    """SupervisorStore on storage/repo.py (the database bound by storage.db.open_database).

    Every call runs on the supervisor's thread, on that thread's connection. peewee never reconnects by
    itself: after a database restart or a killed backend every later query on the thread would fail with
    'connection already closed'. So any storage error closes this thread's connection
    (storage.db.reset_thread_connection) before it is raised, and the next call opens a fresh one."""

    def __init__(self, *, run_id: int, shard: str, command_max_age_s: float = 60.0,
                 run_stale_after_s: float = DEFAULT_RUN_STALE_AFTER_S,
                 wall_clock_ns: Callable[[], int] = time.time_ns, clock: Callable[[], float] = time.monotonic) -> None:
        self.run_id = run_id
        self.shard = shard
        self._clock = clock
        self._outage: _Outage | None = None  # the database was unreachable: calls fail fast until retry_at
        self.command_max_age_ns = int(command_max_age_s * 1e9)
        self.run_stale_after_ns = int(run_stale_after_s * 1e9)
        self._now_ns = wall_clock_ns

    def record_actor_event(self, actor: str, event: str, detail: str) -> None:
        from kraken_runtime.storage import repo
        with self._guarded():
            repo.record_actor_event(self.run_id, actor, event, detail, self._now_ns())

    def record_safety_mode(self, mode: str, *, reason: str, source: str) -> None:
        from kraken_runtime.storage import repo
        with self._guarded():
            repo.record_safety_mode(mode, reason=reason, source=source, run_id=self.run_id, now_ns=self._now_ns())

    def close_out_orphaned_commands(self) -> int:
        """Commands left `applying` by a dead run of this shard become `failed` (outcome unknown, never
        re-applied); see repo.fail_orphaned_control_commands. Called when the daemon starts and on every
        poll (a killed run's lease goes stale only some time after the next daemon started). Returns how many."""
        from kraken_runtime.storage import repo
        now_ns = self._now_ns()
        with self._guarded():
            closed = repo.fail_orphaned_control_commands(self.run_id, shard=self.shard, now_ns=now_ns,
                                                         stale_before_ns=now_ns - self.run_stale_after_ns)
        for record in closed:
            log.warning("control: #%d %s %s closed out as failed: %s", record.id, record.command, dict(record.args),
                        (record.result or {}).get("message", ""))
        return len(closed)

    def claim_commands(self) -> Sequence[PendingCommand]:
        from kraken_runtime.storage import repo
        self.close_out_orphaned_commands()
        with self._guarded():
            rows = repo.claim_pending_commands(self.run_id, shard=self.shard, now_ns=self._now_ns(),
                                               max_age_ns=self.command_max_age_ns)
        return [
            PendingCommand(command_id=r.id, command=r.command, args=r.args, issued_by=r.issued_by, created_at_ns=r.created_at_ns)
            for r in rows
        ]

    def complete_command(self, command_id: int, result: ctl.CommandResult) -> None:
        from kraken_runtime.storage import repo
        with self._guarded():
            repo.complete_control_command(command_id, status=result.status, result=result.to_json(), run_id=self.run_id,
                                          now_ns=self._now_ns())

    def set_strategy_enabled(self, name: str, enabled: bool, *, updated_by: str) -> None:
        from kraken_runtime.storage import repo
        with self._guarded():
            repo.set_strategy_enabled(name, enabled, updated_by=updated_by, now_ns=self._now_ns())

    def close(self) -> None:
        from kraken_runtime.storage.db import reset_thread_connection
        reset_thread_connection()  # this thread's connection only; never raises

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        """Every call: any storage error closes this thread's connection before it is raised (the next call
        opens a fresh one). An error that is not about the row itself (the database unreachable, a killed
        backend) also opens a circuit: calls fail at once with StorageUnavailable until a retry time that
        backs off (0.5 s doubling, at most 30 s), so an outage costs the supervisor's thread one connect
        timeout per retry, not one per poll and per event, and supervision keeps its pace."""
        from kraken_runtime.storage.errors import ROW_REFUSED

        outage = self._outage
        now = self._clock()
        if outage is not None and now < outage.retry_at:
            raise StorageUnavailable(f"database unavailable since {outage.failures} failed attempt(s); next attempt in "
                                     f"{outage.retry_at - now:.1f}s (last error: {outage.error})")
        try:
            yield
        except ROW_REFUSED:
            _reset_connection()
            raise
        except Exception as exc:
            _reset_connection()
            failures = 1 if outage is None else outage.failures + 1
            self._outage = _Outage(failures=failures, retry_at=self._clock() + min(30.0, 0.5 * 2 ** (failures - 1)),
                                   error=_first_line(exc))
            raise
        else:
            if outage is not None:
                log.warning("supervisor: database reachable again after %d failed attempt(s)", outage.failures)
            self._outage = None


class StorageUnavailable(ConnectionError):
    """The supervisor's store is skipping calls while the database is unreachable (it retries on a backoff)."""


@dataclass(frozen=True, slots=True)
class _Outage:
    failures: int
    retry_at: float
    error: str


def _reset_connection() -> None:
    from kraken_runtime.storage.db import reset_thread_connection
    reset_thread_connection()



class SupervisorHealth:
    """What /healthz reads: the supervisor is alive and sweeping, and its control channel works (wall-clock
    monotonic time). Control polls failing for longer than `max_control_failure_s` (by default a few poll
    intervals, set by the supervisor) make the daemon unhealthy: an operator could no longer halt it."""

    def __init__(self, *, max_sweep_age_s: float, max_control_failure_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_sweep_age_s = max_sweep_age_s
        self.max_control_failure_s = max_control_failure_s
        self._clock = clock
        self.last_sweep_monotonic: float | None = None
        self.control_failing_since: float | None = None
        self.control_error = ""
        self.children_started = threading.Event()
        self.stopping = threading.Event()
        self.ref: pykka.ActorRef | None = None

    def swept(self) -> None:
        self.last_sweep_monotonic = self._clock()

    def control_polled(self) -> None:
        self.control_failing_since = None

    def control_poll_failed(self, error: str) -> None:
        self.control_error = error
        if self.control_failing_since is None:
            self.control_failing_since = self._clock()

    def healthy(self) -> tuple[bool, str]:
        if self.ref is None or not self.ref.is_alive():
            return False, "supervisor not running"
        last = self.last_sweep_monotonic
        if last is None:
            return False, "supervisor has not swept yet"
        now = self._clock()
        age = now - last
        if age > self.max_sweep_age_s:
            return False, f"supervisor last swept {age:.1f}s ago (limit {self.max_sweep_age_s:g}s)"
        failing_since, limit = self.control_failing_since, self.max_control_failure_s
        if failing_since is not None and limit is not None and now - failing_since > limit:
            return False, (f"control commands unreadable for {now - failing_since:.1f}s (limit {limit:g}s): "
                           f"{self.control_error}")
        return True, f"supervisor swept {age:.2f}s ago"

    def ready(self) -> tuple[bool, str]:
        ok, why = self.healthy()
        if not ok:
            return ok, why
        if self.stopping.is_set():
            return False, "shutting down"
        if not self.children_started.is_set():
            return False, "children starting"
        return True, "ready"


# --- the supervisor ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Child:
    spec: ChildSpec
    status: ChildStatus
    fault: FaultBudget = field(default_factory=FaultBudget)
    ref: pykka.ActorRef | None = None
    link: ChildLink | None = None
    heartbeat: HeartbeatTrack = field(default_factory=HeartbeatTrack)
    started_s: float = 0.0
    stuck_threads: list[threading.Thread] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorConfig:
    heartbeat_interval_s: float = 1.0
    heartbeat_deadline_s: float = 10.0
    control_poll_interval_s: float = 0.25
    runtime_mode: str = "paper"  # paper | shadow | live (inject-fault is refused in live)
    shard: str = "default"
    run_id: int | None = None
    exit_on_critical_disable: bool = False
    safety_listeners: tuple[str, ...] = ()  # children told SafetyModeChanged


# /healthz turns unhealthy once control polls have failed for this many poll intervals (and at least this long).
CONTROL_FAILURE_POLLS = 8
CONTROL_FAILURE_MIN_S = 2.0


class SupervisorActor(pykka.ThreadingActor):
    """one_for_one supervisor. Not itself supervised: every handler that a tell reaches is guarded so
    an error is logged and counted, never fatal to the supervisor."""

    def __init__(
        self,
        *,
        specs: Sequence[ChildSpec],
        directory: Directory,
        metrics: RuntimeMetrics,
        store: SupervisorStore,
        config: SupervisorConfig = SupervisorConfig(),
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] | None = None,
        safety_mode: SafetyMode = SafetyMode.ACTIVE,
        safety_reason: str = "",
        strategies: Mapping[str, bool] | None = None,
        health: SupervisorHealth | None = None,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"child names must be unique: {names}")
        import random as _random
        self._children: dict[str, _Child] = {spec.name: _Child(spec=spec, status=ChildStatus(name=spec.name)) for spec in specs}
        self._order = tuple(names)
        self.directory = directory
        self.metrics = metrics
        self.store = store
        self.config = config
        self._clock = clock
        self._random = random or _random.Random().random
        self.safety_mode = safety_mode
        self.safety_reason = safety_reason
        self.strategies = ctl.strategies_with_defaults(strategies or {})
        self.health = health
        self._on_fatal = on_fatal
        self._last_poll_s: float | None = None
        self._control_failures = 0  # consecutive failed control polls
        self._stopping = False
        if health is not None and health.max_control_failure_s is None:
            health.max_control_failure_s = max(CONTROL_FAILURE_MIN_S, CONTROL_FAILURE_POLLS * config.control_poll_interval_s)
        for spec in specs:
            directory.register(spec.name, mailbox_limit=spec.mailbox_limit)
        metrics.register_children(names)
        metrics.set_safety_mode(safety_mode)
        for command in ctl.COMMAND_NAMES:
            for status in ctl.RESULT_STATUSES:
                metrics.control_commands.labels(command=command, status=status)

    # --- pykka hooks --------------------------------------------------------------------------------------------

    def on_start(self) -> None:
        if self.health is not None:
            self.health.ref = self.actor_ref

    def on_stop(self) -> None:
        self.store.close()

    def on_receive(self, message: Any) -> Any:
        match message:
            case StartChildren():
                return self._start_children()
            case StopChildren():
                return self._stop_children(message.deadline_s)
            case GetStatus():
                return self.status_document()
            case ApplyControl():
                return self._apply(message.command, issued_by="in-process")
            case _:
                try:
                    self._on_event(message)
                except Exception:  # noqa: BLE001 - the supervisor must outlive its own bugs
                    log.exception("supervisor: error while handling %s", type(message).__name__)
                # Sweeps answer asks too (tests use ask(SupervisorTick()) as a synchronisation point).
                return None

    def _on_event(self, message: Any) -> None:
        match message:
            case ChildStarted():
                self._child_started(message)
            case ChildFailed():
                self._child_failed(message.actor, message.generation, message.phase, message.error)
            case ChildExited():
                self._child_exited(message)
            case Heartbeat():
                child = self._children.get(message.actor)
                if child is not None and message.generation == child.status.generation:
                    child.heartbeat = heartbeat_answered(child.heartbeat, message.seq, self._clock())
            case SupervisorTick():
                self._sweep()
            case _:
                log.warning("supervisor: unexpected message %r", message)

    # --- reporting ------------------------------------------------------------------------------------------

    def _report(self, message: Any) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            pass  # the supervisor is gone (shutdown); nothing left to tell

    def _event(self, actor: str, event: str, detail: str) -> None:
        try:
            self.store.record_actor_event(actor, event, detail)
        except Exception as exc:  # noqa: BLE001 - storage trouble must not stop supervision
            log.error("supervisor: cannot store actor event %s %s: %s", actor, event, exc)

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        generation = child.status.generation + 1
        link = ChildLink(name=spec.name, generation=generation, report=self._report, fault=child.fault)
        child.link = link
        child.heartbeat = HeartbeatTrack()
        child.started_s = self._clock()
        child.status = child_started(child.status, generation=generation)
        try:
            ref = spec.factory(link)
        except Exception as exc:  # noqa: BLE001 - a constructor error is a start failure
            from kraken_runtime.actors.base import describe_error
            child.ref = None
            link.started.set()
            self._child_failed(spec.name, generation, "start", describe_error(exc))
            return
        child.ref = ref
        self.directory.attach(spec.name, ref)
        self.metrics.actor_up.labels(actor=spec.name).set(1)
        self.metrics.actor_disabled.labels(actor=spec.name).set(0)

    def _retire(self, child: _Child, *, hung: bool) -> None:
        """Take the current instance out of service: it drops what is left in its mailbox and stops after
        its current handler. A hung instance's thread cannot be killed; it is counted until it ends."""
        link, ref = child.link, child.ref
        child.ref = None
        if link is not None:
            link.stop_requested.set()
            link.abandoned.set()
            if hung and link.thread is not None and link.thread.is_alive():
                child.stuck_threads.append(link.thread)
        if ref is not None:
            pykka.ActorRegistry.unregister(ref)  # an instance that left the loop by itself is still listed
            try:
                ref.stop(block=False)
            except pykka.ActorDeadError:
                pass

    def _start_children(self) -> tuple[str, ...]:
        started = []
        for name in self._order:
            child = self._children[name]
            self._spawn(child)
            if child.link is not None and not child.link.started.wait(child.spec.start_timeout_s):
                log.warning("supervisor: %s did not finish starting within %.1fs", name, child.spec.start_timeout_s)
            started.append(name)
        if self.health is not None:
            self.health.children_started.set()
            self.health.swept()
        log.info("supervisor: started %d children: %s", len(started), ", ".join(started))
        return tuple(started)

    def _stop_children(self, deadline_s: float) -> tuple[tuple[str, str], ...]:
        """Stop in reverse start order within the overall deadline; a child that does not stop in its
        share is abandoned (its thread is a daemon thread and dies with the process)."""
        self._stopping = True
        if self.health is not None:
            self.health.stopping.set()
        deadline = time.monotonic() + deadline_s
        outcomes = []
        for name in reversed(self._order):
            child = self._children[name]
            outcome = "not running"
            ref, link = child.ref, child.link
            if ref is not None and ref.is_alive():
                if link is not None:
                    link.stop_requested.set()
                timeout = max(0.05, min(child.spec.shutdown_timeout_s, deadline - time.monotonic()))
                try:
                    ref.stop(block=True, timeout=timeout)
                    outcome = "stopped"
                except pykka.Timeout:
                    outcome = f"did not stop within {timeout:.1f}s; abandoned"
                    self._retire(child, hung=True)
                except pykka.ActorDeadError:
                    outcome = "stopped"
            child.ref = None
            child.status = child_stopped(child.status) if child.status.state is not ChildState.DISABLED else child.status
            self.directory.detach(name, child.status.state.value)
            self.metrics.actor_up.labels(actor=name).set(0)
            self._event(name, "stopped", outcome)
            outcomes.append((name, outcome))
        log.info("supervisor: stopped children in reverse order: %s", ", ".join(f"{n} ({o})" for n, o in outcomes))
        return tuple(outcomes)

    # --- failures -----------------------------------------------------------------------------------------------

    def _child_started(self, message: ChildStarted) -> None:
        child = self._children.get(message.actor)
        if child is None or message.generation != child.status.generation:
            return
        event = "started" if message.generation == 1 else "restarted"
        self._event(message.actor, event, f"generation {message.generation}")
        log.info("supervisor: %s %s (generation %d)", message.actor, event, message.generation)

    def _child_failed(self, name: str, generation: int, phase: str, error: str) -> None:
        child = self._children.get(name)
        if child is None or self._stopping:
            return
        status, decision = child_failed(child.status, child.spec, generation=generation, error=f"{phase}: {error}",
                                        now_s=self._clock(), random=self._random)
        if isinstance(decision, IgnoreReport):
            log.debug("supervisor: %s: %s", name, decision.reason)
            return
        child.status = status
        self.metrics.actor_failures.labels(actor=name, phase=phase).inc()
        if phase == "hung":
            self.metrics.actor_hung.labels(actor=name).inc()
        self._retire(child, hung=phase == "hung")
        self.metrics.actor_up.labels(actor=name).set(0)
        self._event(name, "hung" if phase == "hung" else "failed", f"generation {generation}: {phase}: {error}")
        self._decide(child, decision)

    def _decide(self, child: _Child, decision: Any) -> None:
        name = child.spec.name
        match decision:
            case RestartAfter():
                self.directory.detach(name, "restarting")
                log.warning("supervisor: %s failed (%s); restart %d in window, in %.2fs", name, child.status.last_error,
                            decision.attempt + 1, decision.delay_s)
            case DisableChild():
                self.directory.detach(name, "disabled")
                self.metrics.actor_disabled.labels(actor=name).set(1)
                self._event(name, "disabled", decision.reason)
                log.error("supervisor: %s DISABLED: %s", name, decision.reason)
                if child.spec.critical:
                    self._critical_disabled(name, decision.reason)
            case StayStopped():
                self.directory.detach(name, "stopped")
                self._event(name, "stopped", decision.reason)
                log.info("supervisor: %s stopped: %s", name, decision.reason)

    def _child_exited(self, message: ChildExited) -> None:
        child = self._children.get(message.actor)
        if child is None or self._stopping:
            return
        status, decision = child_exited_normally(child.status, child.spec, generation=message.generation,
                                                 now_s=self._clock(), random=self._random)
        if isinstance(decision, IgnoreReport):
            return
        child.status = status
        self._retire(child, hung=False)
        self.metrics.actor_up.labels(actor=message.actor).set(0)
        if isinstance(decision, RestartAfter):
            self.metrics.actor_failures.labels(actor=message.actor, phase="died").inc()
        self._decide(child, decision)

    def _critical_disabled(self, name: str, reason: str) -> None:
        text = f"critical child {name} disabled: {reason}"
        self._set_mode(SafetyMode.HALTED, source=ModeSource.AUTOMATIC, source_name="supervisor", reason=text)
        if self.config.exit_on_critical_disable and self._on_fatal is not None:
            log.critical("supervisor: %s; exiting with status 1 so the service manager restarts the daemon", text)
            self._on_fatal(text)

    def _resume_blockers(self) -> tuple[str, ...]:
        return tuple(f"critical child {c.spec.name} is disabled (ctl restart {c.spec.name})"
                     for c in self._children.values() if c.spec.critical and c.status.state is ChildState.DISABLED)

    # --- the sweep ----------------------------------------------------------------------------------------------

    def _sweep(self) -> None:
        if self._stopping:
            return
        now = self._clock()
        own_mailbox_empty = self.actor_inbox.qsize() == 0  # type: ignore[attr-defined]
        for name in self._order:
            child = self._children[name]
            state = child.status.state
            if state is ChildState.RUNNING and child.ref is not None:
                if not child.ref.is_alive():
                    # Dead without a report we have not read yet: an exception pykka swallowed, a
                    # BaseException, a stop nobody asked for. Reports are sent before an instance
                    # dies, so an empty mailbox here means none is on its way.
                    if own_mailbox_empty:
                        self._child_failed(name, child.status.generation, "died", "instance found dead by the liveness sweep")
                    continue
                if is_hung(child.heartbeat, self.config.heartbeat_deadline_s, now):
                    waited = now - (child.heartbeat.outstanding_since_s or now)
                    self._child_failed(name, child.status.generation, "hung",
                                       f"no heartbeat for {waited:.1f}s (deadline {self.config.heartbeat_deadline_s:g}s)")
                    continue
                if heartbeat_due(child.heartbeat, self.config.heartbeat_interval_s, now, child.started_s):
                    child.heartbeat = heartbeat_sent(child.heartbeat, now)
                    try:
                        child.ref.tell(RequestHeartbeat(seq=child.heartbeat.seq))
                    except pykka.ActorDeadError:
                        pass  # found dead on the next sweep
            elif restart_is_due(child.status, now):
                self._spawn(child)
                self.metrics.actor_restarts.labels(actor=name).inc()
        self._update_gauges()
        if self._last_poll_s is None or now - self._last_poll_s >= self.config.control_poll_interval_s:
            self._last_poll_s = now
            self._poll_commands()
        if self.health is not None:
            self.health.swept()
        self.metrics.supervisor_tick.set(time.time())

    def _update_gauges(self) -> None:
        stuck = 0
        for name, child in self._children.items():
            self.metrics.actor_mailbox.labels(actor=name).set(self.directory.mailbox_depth(name))
            child.stuck_threads = [thread for thread in child.stuck_threads if thread.is_alive()]
            stuck += len(child.stuck_threads)
        self.metrics.stuck_threads.set(stuck)

    # --- control ------------------------------------------------------------------------------------------------

    def _poll_commands(self) -> None:
        try:
            pending = self.store.claim_commands()
        except Exception as exc:  # noqa: BLE001 - database unavailable: the store reconnects; try again next poll
            self._control_failed(f"cannot read control commands: {_first_line(exc)}")
            return
        failed_write = ""
        for row in pending:
            try:
                command = ctl.parse_command(row.command, row.args)
            except ctl.CommandError as exc:
                result = ctl.refused(str(exc))
            else:
                try:
                    result = self._apply(command, issued_by=row.issued_by or "operator")
                except Exception as exc:  # noqa: BLE001
                    log.exception("supervisor: command %s failed", row.command)
                    result = ctl.CommandResult(status="failed", message=f"{type(exc).__name__}: {exc}")
            self.metrics.control_commands.labels(
                command=row.command if row.command in ctl.COMMAND_NAMES else "status", status=result.status).inc()
            log.info("control: #%d %s %s -> %s: %s", row.command_id, row.command, dict(row.args), result.status, result.message)
            try:
                self.store.complete_command(row.command_id, result)
            except Exception as exc:  # noqa: BLE001 - the row stays 'applying'; ctl reports the outcome unknown
                failed_write = f"cannot write the result of command #{row.command_id}: {_first_line(exc)}"
                log.error("supervisor: %s", failed_write)
        if failed_write:
            self._control_failed(failed_write)
            return
        if self._control_failures:
            log.warning("supervisor: control channel working again after %d failed poll(s)", self._control_failures)
        self._control_failures = 0
        if self.health is not None:
            self.health.control_polled()

    def _control_failed(self, error: str) -> None:
        self._control_failures += 1
        if self._control_failures == 1 or self._control_failures % 100 == 0:  # an outage logs once, then rarely
            log.error("supervisor: %s (failed polls in a row: %d)", error, self._control_failures)
        if self.health is not None:
            self.health.control_poll_failed(error)

    def _apply(self, command: ctl.Command, *, issued_by: str) -> ctl.CommandResult:
        match command:
            case ctl.ShowStatus():
                return ctl.applied("status", self.status_document())
            case ctl.Halt():
                return self._operator_mode(SafetyMode.HALTED, command.reason, issued_by)
            case ctl.ReduceOnly():
                return self._operator_mode(SafetyMode.REDUCE_ONLY, command.reason, issued_by)
            case ctl.Resume():
                return self._operator_mode(SafetyMode.ACTIVE, command.reason, issued_by)
            case ctl.DisableStrategy() | ctl.EnableStrategy():
                enabled = isinstance(command, ctl.EnableStrategy)
                self.store.set_strategy_enabled(command.strategy, enabled, updated_by=issued_by)
                self.strategies[command.strategy] = enabled
                if f"strategy:{command.strategy}" in self._children:
                    self.directory.send(f"strategy:{command.strategy}",
                                        StrategyEnablementChanged(strategy=command.strategy, enabled=enabled))
                return ctl.applied(f"strategy {command.strategy} {'enabled' if enabled else 'disabled'}",
                                   {"strategies": dict(self.strategies)})
            case ctl.RestartActor():
                return self._operator_restart(command.actor)
            case ctl.InjectFault():
                child = self._children.get(command.actor)
                if child is None:
                    return ctl.refused(f"no child named {command.actor!r}; children: {', '.join(self._order)}")
                refusal = ctl.inject_fault_refusal(command, mode=self.config.runtime_mode)
                if refusal:
                    return ctl.refused(refusal)
                if child.status.state is ChildState.DISABLED:
                    return ctl.refused(f"{command.actor} is disabled; 'ctl restart {command.actor}' first")
                child.fault.arm(command.times)
                self._event(command.actor, "fault_injected", f"next {command.times} message(s) raise; by {issued_by}")
                return ctl.applied(f"fault armed: {command.actor} raises on its next {command.times} message(s)")
        raise TypeError(f"unhandled command {command!r}")

    def _operator_mode(self, mode: SafetyMode, reason: str, issued_by: str) -> ctl.CommandResult:
        transition = self._set_mode(mode, source=ModeSource.OPERATOR, source_name="operator",
                                    reason=f"{reason} ({issued_by})" if issued_by else reason)
        if transition.refused:
            return ctl.refused(transition.refused)
        verb = "now" if transition.changed else "already"
        return ctl.applied(f"safety mode {verb} {transition.mode.value}", {"safety_mode": transition.mode.value})

    def _set_mode(self, requested: SafetyMode, *, source: ModeSource, source_name: str, reason: str):
        transition = request_safety_mode(self.safety_mode, requested, source=source, resume_blockers=self._resume_blockers())
        if not transition.changed:
            return transition
        previous = self.safety_mode
        self.safety_mode, self.safety_reason = transition.mode, reason
        self.metrics.set_safety_mode(transition.mode)
        try:
            self.store.record_safety_mode(transition.mode.value, reason=reason, source=source_name)
        except Exception as exc:  # noqa: BLE001
            log.error("supervisor: cannot store safety mode %s: %s", transition.mode.value, exc)
        log.warning("safety mode %s -> %s (%s: %s)", previous.value, transition.mode.value, source_name, reason)
        for name in self.config.safety_listeners:
            self.directory.send(name, SafetyModeChanged(mode=transition.mode.value, reason=reason, source=source_name))
        return transition

    def _operator_restart(self, name: str) -> ctl.CommandResult:
        child = self._children.get(name)
        if child is None:
            return ctl.refused(f"no child named {name!r}; children: {', '.join(self._order)}")
        previous = child.status.state
        if child.ref is not None:
            ref = child.ref
            self._retire(child, hung=False)
            try:
                ref.stop(block=True, timeout=child.spec.shutdown_timeout_s)
            except pykka.Timeout:
                if child.link is not None and child.link.thread is not None:
                    child.stuck_threads.append(child.link.thread)
            except pykka.ActorDeadError:
                pass
        child.status = operator_restart(child.status)
        self._spawn(child)
        self.metrics.actor_restarts.labels(actor=name).inc()
        self._event(name, "restarted", f"by operator (was {previous.value})")
        return ctl.applied(f"{name} restarted (was {previous.value}); restart budget reset")

    # --- status -------------------------------------------------------------------------------------------------

    def status_document(self) -> dict[str, Any]:
        reports = tuple(
            ctl.ChildReport(
                name=name, state=child.status.state.value, restarts=child.status.restarts,
                last_error=child.status.last_error, mailbox=self.directory.mailbox_depth(name),
                critical=child.spec.critical, failures=child.status.failures,
            )
            for name, child in ((n, self._children[n]) for n in self._order)
        )
        stuck = sum(1 for child in self._children.values() for thread in child.stuck_threads if thread.is_alive())
        return ctl.status_document(
            safety_mode=self.safety_mode.value, safety_reason=self.safety_reason, children=reports,
            strategies=self.strategies, run_id=self.config.run_id, mode=self.config.runtime_mode,
            shard=self.config.shard, stuck_threads=stuck, dropped_messages=self.directory.dropped(),
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def child_names(specs: Iterable[ChildSpec]) -> tuple[str, ...]:
    return tuple(spec.name for spec in specs)
