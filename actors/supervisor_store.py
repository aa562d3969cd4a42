"""The database as the supervisor sees it: the `SupervisorStore` protocol (actor events, safety-mode audit,
control commands, strategy settings) and `DatabaseStore`, its implementation on storage/repo.py guarded by
a circuit breaker (core/circuit.py: the policy; this module only applies it)."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

from kraken_runtime.core import control as ctl
from kraken_runtime.core.circuit import CLOSED, CircuitPolicy, circuit_failed, circuit_refusal, circuit_succeeded
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import reset_thread_connection
from kraken_runtime.storage.errors import ROW_REFUSED

log = logging.getLogger(__name__)


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
# daemon passes run_stale_after_s(settings) instead (kraken_runtime/daemon.py).
DEFAULT_RUN_STALE_AFTER_S = 60.0


class StorageUnavailable(ConnectionError):
    """The supervisor's store is skipping calls while the database is unreachable (it retries on a backoff)."""


class DatabaseStore:
    """SupervisorStore on storage/repo.py (the database bound by storage.db.open_database).

    Every call runs on the calling thread, on that thread's connection. peewee never reconnects by itself:
    after a database restart or a killed backend every later query on the thread would fail with
    'connection already closed'. So any storage error closes this thread's connection
    (storage.db.reset_thread_connection) before it is raised, and the next call opens a fresh one."""

    def __init__(self, *, run_id: int, shard: str, command_max_age_s: float = 60.0,
                 run_stale_after_s: float = DEFAULT_RUN_STALE_AFTER_S,
                 clock_ns: Callable[[], int] = time.time_ns, monotonic_s: Callable[[], float] = time.monotonic,
                 circuit_policy: CircuitPolicy = CircuitPolicy()) -> None:
        self.run_id = run_id
        self.shard = shard
        self._monotonic_s = monotonic_s
        self._clock_ns = clock_ns
        self._circuit = CLOSED  # the database was unreachable: calls fail fast until its retry time
        self._circuit_policy = circuit_policy
        self.command_max_age_ns = int(command_max_age_s * 1e9)
        self.run_stale_after_ns = int(run_stale_after_s * 1e9)

    def record_actor_event(self, actor: str, event: str, detail: str) -> None:
        with self._guarded():
            repo.record_actor_event(self.run_id, actor, event, detail, self._clock_ns())

    def record_safety_mode(self, mode: str, *, reason: str, source: str) -> None:
        with self._guarded():
            repo.record_safety_mode(mode, reason=reason, source=source, run_id=self.run_id, now_ns=self._clock_ns())

    def close_out_orphaned_commands(self) -> int:
        """Commands left `applying` by a dead run of this shard become `failed` (outcome unknown, never
        re-applied); see repo.fail_orphaned_control_commands. Called when the daemon starts and on every
        poll (a killed run's lease goes stale only some time after the next daemon started). Returns how many."""
        now_ns = self._clock_ns()
        with self._guarded():
            closed = repo.fail_orphaned_control_commands(self.run_id, shard=self.shard, now_ns=now_ns,
                                                         stale_before_ns=now_ns - self.run_stale_after_ns)
        for record in closed:
            log.warning("control: #%d %s %s closed out as failed: %s", record.id, record.command, dict(record.args),
                        (record.result or {}).get("message", ""))
        return len(closed)

    def claim_commands(self) -> Sequence[PendingCommand]:
        self.close_out_orphaned_commands()
        with self._guarded():
            rows = repo.claim_pending_commands(self.run_id, shard=self.shard, now_ns=self._clock_ns(),
                                               max_age_ns=self.command_max_age_ns)
        return [
            PendingCommand(command_id=r.id, command=r.command, args=r.args, issued_by=r.issued_by, created_at_ns=r.created_at_ns)
            for r in rows
        ]

    def complete_command(self, command_id: int, result: ctl.CommandResult) -> None:
        with self._guarded():
            repo.complete_control_command(command_id, status=result.status, result=result.to_json(), run_id=self.run_id,
                                          now_ns=self._clock_ns())

    def set_strategy_enabled(self, name: str, enabled: bool, *, updated_by: str) -> None:
        with self._guarded():
            repo.set_strategy_enabled(name, enabled, updated_by=updated_by, now_ns=self._clock_ns())

    def close(self) -> None:
        reset_thread_connection()  # this thread's connection only; never raises

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        """Every call: any storage error closes this thread's connection before it is raised (the next call
        opens a fresh one). An error that is not about the row itself (the database unreachable, a killed
        backend) also opens the circuit (core/circuit.py): calls fail at once with StorageUnavailable until a
        retry time that backs off, so an outage costs one connect timeout per retry, not one per call."""
        circuit = self._circuit
        refusal = circuit_refusal(circuit, self._monotonic_s())
        if refusal is not None:
            raise StorageUnavailable(refusal)
        try:
            yield
        except ROW_REFUSED:
            reset_thread_connection()
            raise
        except Exception as exc:
            reset_thread_connection()
            self._circuit = circuit_failed(self._circuit, now_s=self._monotonic_s(), error=first_line(exc),
                                           policy=self._circuit_policy)
            raise
        else:
            if circuit.is_open:
                log.warning("supervisor: database reachable again after %d failed attempt(s)", circuit.failures)
            self._circuit = circuit_succeeded(circuit)


def first_line(exc: BaseException) -> str:
    """'ErrorType: first line of its text' (or just the type): one-line error reports."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


# --- off the supervisor's thread ----------------------------------------------------------------------------------


class StoreWorker:
    """Runs the supervisor's store calls on a thread of their own, so the supervisor never waits on the
    database: a 15 s lock (a backup) or an outage stalls this thread, never the sweep (restarts, hung-actor
    checks, /healthz).

    - `call(fn)` queues a call and returns a Future at once (the supervisor checks it on later sweeps).
    - `write(fn, what)` queues a call whose outcome nobody waits for (actor events, the safety-mode audit);
      a failure is logged. Writes still queued after `write_deadline_s` are dropped and counted (an outage
      must not grow the queue without bound), as are writes beyond `max_queued`.
    - `busy_s()`: how long the call now running has been running (None when idle): "database slow".
    Calls run in order, one at a time, on one connection (the worker thread's)."""

    def __init__(self, *, name: str = "supervisor-store", write_deadline_s: float = 60.0, max_queued: int = 1000,
                 monotonic_s: Callable[[], float] = time.monotonic, on_drop: Callable[[str], None] | None = None) -> None:
        self._queue: queue.Queue[tuple[float, str, Callable[[], Any], Future[Any] | None] | None] = queue.Queue()
        self._write_deadline_s = write_deadline_s
        self._max_queued = max_queued
        self._monotonic_s = monotonic_s
        self._on_drop = on_drop
        self._busy_since: float | None = None
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False

    def start(self) -> None:
        self._thread.start()

    def call(self, fn: Callable[[], Any], what: str = "call") -> Future[Any]:
        future: Future[Any] = Future()
        if self._closed:
            future.set_exception(StorageUnavailable("the supervisor's store is closed"))
            return future
        self._queue.put((self._monotonic_s(), what, fn, future))
        return future

    def write(self, fn: Callable[[], Any], what: str) -> None:
        if self._closed:
            return
        if self._queue.qsize() >= self._max_queued:
            self._drop(what, "queue full")
            return
        self._queue.put((self._monotonic_s(), what, fn, None))

    def busy_s(self) -> float | None:
        since = self._busy_since
        return None if since is None else max(0.0, self._monotonic_s() - since)

    def queued(self) -> int:
        return self._queue.qsize()

    def close(self, timeout_s: float, finally_call: Callable[[], Any] | None = None) -> bool:
        """Run what is queued (within timeout_s), then `finally_call` on the worker thread, then stop.
        Returns False when the worker did not finish in time (stuck on the database; it is a daemon thread)."""
        if finally_call is not None:
            self._queue.put((self._monotonic_s(), "close", finally_call, None))
        self._queue.put(None)
        self._closed = True
        if not self._thread.is_alive():
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _drop(self, what: str, why: str) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 100 == 0:
            log.warning("supervisor: store write dropped (%s: %s; %d dropped so far)", what, why, self.dropped)
        if self._on_drop is not None:
            self._on_drop(what)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            queued_at, what, fn, future = item
            if future is None and self._monotonic_s() - queued_at > self._write_deadline_s:
                self._drop(what, f"still queued after {self._write_deadline_s:g}s")
                continue
            if future is not None and not future.set_running_or_notify_cancel():
                continue
            self._busy_since = self._monotonic_s()
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - reported to the caller, or logged for a write
                if future is not None:
                    future.set_exception(exc)
                else:
                    log.error("supervisor: cannot store %s: %s", what, first_line(exc))
            else:
                if future is not None:
                    future.set_result(result)
            finally:
                self._busy_since = None
