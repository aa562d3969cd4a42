"""SupervisorActor: one_for_one supervision of the daemon's children and the operator control channel
(control_commands rows). Its collaborators live beside it: the name directory peers send through
(actors/directory.py), the database as it sees it (actors/supervisor_store.py; the circuit-breaker policy
is core/circuit.py) and the health object /healthz and /readyz read (actors/health.py).

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

import logging
import random as random_module
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import pykka

from kraken_runtime.actors.base import ChildLink, FaultBudget, describe_error
from kraken_runtime.actors.directory import Directory
from kraken_runtime.actors.health import SupervisorHealth
from kraken_runtime.actors.metrics import RuntimeMetrics
from kraken_runtime.actors.supervisor_store import DatabaseStore, PendingCommand, StoreWorker, SupervisorStore, first_line
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
    SafetyModeRequested,
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
    ModeTransition,
    RestartAfter,
    RevivalPolicy,
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
    revival_due_at_s,
    revival_is_due,
    child_revived,
)

log = logging.getLogger(__name__)

# Re-exported: the supervisor's collaborators, for callers that wire it (the daemon, tests, ops/bench).
__all__ = ["DatabaseStore", "Directory", "SupervisorActor", "SupervisorConfig", "SupervisorHealth", "child_names"]


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
    revival: RevivalPolicy = RevivalPolicy()  # disabled children come back after a cool-off
    store_write_deadline_s: float = 60.0  # a store write still queued after this (database stalled) is dropped


# /healthz turns unhealthy once control polls have failed for this many poll intervals (and at least this long).
CONTROL_FAILURE_POLLS = 8
CONTROL_FAILURE_MIN_S = 2.0
STORE_CLOSE_TIMEOUT_S = 5.0  # at stop: how long queued store writes (the stop events) may take


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
        monotonic_s: Callable[[], float] = time.monotonic,
        random: Callable[[], float] | None = None,
        safety_mode: SafetyMode = SafetyMode.ACTIVE,
        safety_reason: str = "",
        strategies: Mapping[str, bool] | None = None,
        health: SupervisorHealth | None = None,
        on_fatal: Callable[[str], None] | None = None,
        status_extras: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"child names must be unique: {names}")
        self._children: dict[str, _Child] = {spec.name: _Child(spec=spec, status=ChildStatus(name=spec.name)) for spec in specs}
        self._order = tuple(names)
        self.directory = directory
        self.metrics = metrics
        self.store = store
        self.config = config
        self._monotonic_s = monotonic_s
        self._random = random or random_module.Random().random
        self.safety_mode = safety_mode
        self.safety_reason = safety_reason
        self.strategies = ctl.strategies_with_defaults(strategies or {})
        self.health = health
        self._on_fatal = on_fatal
        self._last_poll_s: float | None = None
        self._control_failures = 0  # consecutive failed control polls
        self._status_extras = status_extras
        self._pending_persist: Callable[[], None] | None = None
        # The store runs on a worker thread: the supervisor queues calls and never waits on the database.
        self._worker = StoreWorker(write_deadline_s=config.store_write_deadline_s,
                                   on_drop=lambda _what: metrics.store_writes_dropped.inc())
        self._claim: Future[Sequence[PendingCommand]] | None = None
        self._claim_started_s = 0.0
        if health is not None:
            health.store_busy_s = self._worker.busy_s
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
        self._worker.start()
        if self.health is not None:
            self.health.ref = self.actor_ref

    def on_stop(self) -> None:
        # What is queued (the stop events) is written within the deadline; then the worker's connection closes.
        if not self._worker.close(STORE_CLOSE_TIMEOUT_S, finally_call=self.store.close):
            log.error("supervisor: store writes still running after %.0fs (database stalled); left behind", STORE_CLOSE_TIMEOUT_S)

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
                    child.heartbeat = heartbeat_answered(child.heartbeat, message.seq, self._monotonic_s())
            case SupervisorTick():
                self._sweep()
            case SafetyModeRequested():  # a kill condition (the risk envelope's ladder): tighten only
                self._set_mode(SafetyMode(message.mode), source=ModeSource.AUTOMATIC, source_name=message.source,
                               reason=message.reason)
            case _:
                log.warning("supervisor: unexpected message %r", message)

    # --- reporting ------------------------------------------------------------------------------------------

    def _report(self, message: Any) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            pass  # the supervisor is gone (shutdown); nothing left to tell

    def _event(self, actor: str, event: str, detail: str) -> None:
        """Queued for the store's thread: storage trouble never stops supervision (a failure is logged there)."""
        store = self.store
        self._worker.write(lambda: store.record_actor_event(actor, event, detail), f"actor event {actor} {event}")

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        generation = child.status.generation + 1
        link = ChildLink(name=spec.name, generation=generation, report=self._report, fault=child.fault)
        child.link = link
        child.heartbeat = HeartbeatTrack()
        child.started_s = self._monotonic_s()
        child.status = child_started(child.status, generation=generation)
        try:
            ref = spec.factory(link)
        except Exception as exc:  # noqa: BLE001 - a constructor error is a start failure
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
        abandoned = [n for n, o in outcomes if o.endswith("abandoned")]
        log.log(logging.WARNING if abandoned else logging.INFO, "supervisor: stopped children in reverse order: %s%s",
                ", ".join(f"{n} ({o})" for n, o in outcomes),
                f"; abandoned mid-stop: {', '.join(abandoned)} (work they had not finished, such as settling open "
                "orders, is picked up by the next start's reconciliation)" if abandoned else "")
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
                                        now_s=self._monotonic_s(), random=self._random)
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
                                                 now_s=self._monotonic_s(), random=self._random)
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
        if self.health is not None:
            self.health.block(name, f"critical child {name} is disabled")
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
        now = self._monotonic_s()
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
            elif revival_is_due(child.status, child.spec, self.config.revival, now):
                self._revive(child, now)
        self._update_gauges()
        self._collect_commands()
        if self._claim is None and (self._last_poll_s is None or now - self._last_poll_s >= self.config.control_poll_interval_s):
            self._last_poll_s = now
            self._claim = self._worker.call(self.store.claim_commands, "claim commands")
            self._claim_started_s = now
        if self.health is not None:
            self.health.swept()
        self.metrics.supervisor_tick.set(time.time())

    def _revive(self, child: _Child, now: float) -> None:
        name = child.spec.name
        disabled_for = now - (child.status.disabled_at_s or now)
        revivals = child.status.revivals + 1
        child.status = child_revived(child.status)
        self._spawn(child)
        self.metrics.actor_revivals.labels(actor=name).inc()
        self.metrics.actor_restarts.labels(actor=name).inc()
        if self.health is not None:
            self.health.unblock(name)
        detail = (f"revived after {disabled_for:.0f}s disabled (revival {revivals}; next cool-off "
                  f"{self.config.revival.cool_off_s(revivals):g}s)")
        self._event(name, "revived", detail)
        log.warning("supervisor: %s %s", name, detail)

    def _update_gauges(self) -> None:
        stuck = 0
        for name, child in self._children.items():
            self.metrics.actor_mailbox.labels(actor=name).set(self.directory.mailbox_depth(name))
            child.stuck_threads = [thread for thread in child.stuck_threads if thread.is_alive()]
            stuck += len(child.stuck_threads)
        self.metrics.stuck_threads.set(stuck)
        self.metrics.store_busy.set(self._worker.busy_s() or 0.0)
        self.metrics.store_queued.set(self._worker.queued())
        if self.health is not None:
            self.metrics.health_degraded.set(1 if self.health.degraded() else 0)

    # --- control ------------------------------------------------------------------------------------------------

    def _collect_commands(self) -> None:
        """Control polls: the sweep queues a claim of pending commands on the store's thread every poll interval
        (one at a time); a later sweep applies what it brought back, and the answers are written on the store's
        thread again. The sweep never waits for any of it."""
        claim = self._claim
        if claim is None:
            return
        if not claim.done():
            waited = self._monotonic_s() - self._claim_started_s
            if waited > max(CONTROL_FAILURE_MIN_S, CONTROL_FAILURE_POLLS * self.config.control_poll_interval_s):
                if self.health is not None and self.health.control_failing_since is None:
                    self._control_failed(f"reading control commands has taken {waited:.1f}s (database slow)")
            return
        self._claim = None
        try:
            pending = claim.result()
        except Exception as exc:  # noqa: BLE001 - database unavailable: the store reconnects; try again next poll
            self._control_failed(f"cannot read control commands: {first_line(exc)}")
            return
        for row in pending:
            self._pending_persist = None
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
            persist = self._pending_persist if result.status == "applied" else None
            self._pending_persist = None
            self._worker.write(self._completion(row.command_id, result, persist), f"result of command #{row.command_id}")
        if self._control_failures:
            log.warning("supervisor: control channel working again after %d failed poll(s)", self._control_failures)
        self._control_failures = 0
        if self.health is not None:
            self.health.control_polled()

    def _completion(self, command_id: int, result: ctl.CommandResult,
                    persist: Callable[[], None] | None) -> Callable[[], None]:
        """The store-thread job that answers a command: first what the command must persist (a strategy
        setting), then the result; a persist that fails turns the answer into `failed`. A result that cannot
        be written leaves the row `applying`: ctl reports the outcome unknown."""
        store = self.store

        def complete() -> None:
            answer = result
            if persist is not None:
                try:
                    persist()
                except Exception as exc:  # noqa: BLE001 - the command's effect was not stored: say so
                    answer = ctl.CommandResult(status="failed", message=f"not persisted: {first_line(exc)}")
            try:
                store.complete_command(command_id, answer)
            except Exception as exc:  # noqa: BLE001
                log.error("supervisor: cannot write the result of command #%d: %s", command_id, first_line(exc))

        return complete

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
                store, strategy = self.store, command.strategy
                persist = lambda: store.set_strategy_enabled(strategy, enabled, updated_by=issued_by)  # noqa: E731
                if issued_by == "in-process":
                    self._worker.write(persist, f"strategy {strategy} setting")
                else:
                    self._pending_persist = persist  # written before the command's answer, on the store's thread
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

    def _set_mode(self, requested: SafetyMode, *, source: ModeSource, source_name: str, reason: str) -> ModeTransition:
        transition = request_safety_mode(self.safety_mode, requested, source=source, resume_blockers=self._resume_blockers())
        if not transition.changed:
            return transition
        previous = self.safety_mode
        self.safety_mode, self.safety_reason = transition.mode, reason
        self.metrics.set_safety_mode(transition.mode)
        store, mode_value = self.store, transition.mode.value
        self._worker.write(lambda: store.record_safety_mode(mode_value, reason=reason, source=source_name),
                           f"safety mode {mode_value}")
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
        if self.health is not None:
            self.health.unblock(name)
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
        document = ctl.status_document(
            safety_mode=self.safety_mode.value, safety_reason=self.safety_reason, children=reports,
            strategies=self.strategies, run_id=self.config.run_id, mode=self.config.runtime_mode,
            shard=self.config.shard, stuck_threads=stuck, dropped_messages=self.directory.dropped(),
        )
        now = self._monotonic_s()
        for report, name in zip(document["children"], self._order):
            child = self._children[name]
            due = revival_due_at_s(child.status, child.spec, self.config.revival)
            if due is not None:
                report["revive_in_s"] = round(max(0.0, due - now), 1)
        if self.health is not None:
            ready, why = self.health.ready()
            document["ready"], document["ready_reason"] = ready, why
        if self._status_extras is not None:
            try:
                document.update(self._status_extras())
            except Exception as exc:  # noqa: BLE001 - a broken extra must not cost the operator the status
                document["status_extras_error"] = first_line(exc)
        return document


def child_names(specs: Iterable[ChildSpec]) -> tuple[str, ...]:
    return tuple(spec.name for spec in specs)
