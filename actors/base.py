"""The supervised base actor and the small thread-safe pieces it shares with the supervisor.

pykka reports only one kind of failure by itself: an exception in a `tell`-handled message calls
`on_failure` and stops the actor. An exception in `on_start` stops the actor with nothing but a log line,
and an exception in an `ask` goes back to the caller while the actor carries on. `SupervisedActor`
closes those gaps: it reports every failure (start, message, stop) to its supervisor as a `ChildFailed`
with its generation, answers heartbeat requests between messages (so a handler stuck past the deadline
is visible), drops its mailbox once the supervisor has replaced it, and carries the fault-injection hook
for operator drills. The supervisor's liveness sweep catches whatever slips past all of this (an actor
found dead without a report).

Supervised actors are driven by messages (`tell`, and `ask` at the edges); they do not expose pykka
proxies, whose calls would bypass `on_receive` and with it the failure reporting.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import pykka

from kraken_runtime.core.messages import ChildExited, ChildFailed, ChildStarted, Heartbeat, RequestHeartbeat
from kraken_runtime.storage.db import close_thread_connection

log = logging.getLogger(__name__)


class InjectedFault(RuntimeError):
    """Raised by an actor on purpose: `kraken-runtime ctl inject-fault ACTOR --times N`."""


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


class FaultBudget:
    """How many of the next messages should raise. Shared by every instance of one child, so a drill of
    N faults outlives the restarts it causes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining = 0

    def arm(self, times: int) -> None:
        with self._lock:
            self._remaining = max(0, int(times))

    def take(self) -> bool:
        with self._lock:
            if self._remaining <= 0:
                return False
            self._remaining -= 1
            return True

    @property
    def remaining(self) -> int:
        with self._lock:
            return self._remaining


@dataclass(eq=False, kw_only=True)
class ChildLink:
    """The supervisor's handle inside one child instance (one per generation)."""

    name: str
    generation: int
    report: Callable[[Any], None]  # tells the supervisor; never raises
    fault: FaultBudget
    started: threading.Event = field(default_factory=threading.Event)
    stop_requested: threading.Event = field(default_factory=threading.Event)  # the supervisor is stopping it
    abandoned: threading.Event = field(default_factory=threading.Event)  # replaced while hung: drop everything
    thread: threading.Thread | None = None
    start_error: str | None = None
    dropped_after_abandon: int = 0


_EMPTY = object()
EMPTY_SLOT = _EMPTY  # what LatestSlot.take returns when nothing is waiting


class LatestSlot:
    """Latest-wins holder for one (target, key) of snapshot-type messages: while a delivery is pending,
    a newer value replaces the older one instead of queueing behind it, so a slow reader sees the newest
    state and its mailbox holds at most one delivery per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Any = _EMPTY

    def put(self, value: Any) -> tuple[bool, bool]:
        """Store `value`; returns (needs_delivery, replaced_an_undelivered_value)."""
        with self._lock:
            replaced = self._value is not _EMPTY
            self._value = value
            return (not replaced, replaced)

    def take(self) -> Any:
        with self._lock:
            value, self._value = self._value, _EMPTY
            return value

    def clear(self) -> None:
        self.take()


@dataclass(frozen=True, slots=True, kw_only=True)
class LatestDelivery:
    """Envelope the directory sends for a coalesced message; the base actor unwraps it to the latest value."""

    slot: LatestSlot


class SupervisedActor(pykka.ThreadingActor):
    """Base class of every supervised child. Subclasses implement `handle(message)` and optionally
    `on_supervised_start()` / `on_supervised_stop()`; they never override pykka's hooks."""

    use_daemon_thread = True  # a hung instance must not keep the process alive at exit

    def __init__(self, *, link: ChildLink) -> None:
        super().__init__()
        self.link = link
        self._timers: list[PeriodicTimer] = []

    # --- subclass hooks --------------------------------------------------------------------------------------

    def on_supervised_start(self) -> None:
        """Set up (in the actor's thread). Raising here is a start failure the supervisor sees."""

    def on_supervised_stop(self) -> None:
        """Clean up (in the actor's thread) when stopped on purpose."""

    def on_supervised_failure(self) -> None:
        """Release what must not outlive a crashed instance (sockets, threads), in the actor's thread. Keep
        it small and safe: the instance is already broken, and its state is not to be trusted or stored."""

    def handle(self, message: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not handle {type(message).__name__}")

    # --- helpers ---------------------------------------------------------------------------------------------

    def every(self, interval_s: float, make_message: Callable[[int], Any], *, name: str | None = None) -> PeriodicTimer:
        """Tell this actor `make_message(n)` every `interval_s` seconds until it stops."""
        ticker = PeriodicTimer(interval_s, self.actor_ref, make_message, name=name or f"{self.link.name}-timer")
        self._timers.append(ticker)
        ticker.start()
        return ticker

    @property
    def mailbox_depth(self) -> int:
        return self.actor_inbox.qsize()  # type: ignore[attr-defined]  # pykka.ActorInbox has no qsize; a ThreadingActor's is a queue.Queue

    # --- pykka hooks -----------------------------------------------------------------------------------------

    def on_start(self) -> None:
        self.link.thread = threading.current_thread()
        try:
            self.on_supervised_start()
        except Exception as exc:
            self.link.start_error = describe_error(exc)
            self._stop_timers()
            self.link.report(ChildFailed(actor=self.link.name, generation=self.link.generation, phase="start",
                                         error=self.link.start_error))
            self.link.started.set()
            close_thread_connection()
            raise  # pykka logs it and stops this instance
        self.link.report(ChildStarted(actor=self.link.name, generation=self.link.generation))
        self.link.started.set()

    def on_receive(self, message: Any) -> Any:
        link = self.link
        if link.abandoned.is_set():
            link.dropped_after_abandon += 1
            self._stop_timers()
            close_thread_connection()
            self.actor_stopped.set()  # leave the loop after this message; the mailbox is not ours any more
            return None
        try:
            if link.fault.take():
                raise InjectedFault(f"fault injected into {link.name} by the operator")
            if isinstance(message, RequestHeartbeat):
                link.report(Heartbeat(actor=link.name, generation=link.generation, seq=message.seq, mailbox=self.mailbox_depth))
                return None
            if isinstance(message, LatestDelivery):
                message = message.slot.take()
                if message is _EMPTY:
                    return None
            return self.handle(message)
        except Exception as exc:
            # Reported here for both tells and asks: pykka hands an ask's error back to the caller and
            # keeps the actor running, so without this report nobody responsible would ever know.
            link.report(ChildFailed(actor=link.name, generation=link.generation, phase="message", error=describe_error(exc)))
            raise
        finally:
            if link.abandoned.is_set():
                self._stop_timers()
                close_thread_connection()
                self.actor_stopped.set()

    def on_stop(self) -> None:
        self._stop_timers()
        if not self.link.stop_requested.is_set() and not self.link.abandoned.is_set():
            self.link.report(ChildExited(actor=self.link.name, generation=self.link.generation))
        try:
            self.on_supervised_stop()
        except Exception as exc:  # noqa: BLE001 - stopping anyway; the supervisor hears of it
            log.warning("%s: error while stopping: %s", self.link.name, describe_error(exc))
            self.link.report(ChildFailed(actor=self.link.name, generation=self.link.generation, phase="stop",
                                         error=describe_error(exc)))
        close_thread_connection()  # this instance's thread is done with storage (storage/db.py says why)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self._stop_timers()
        try:
            self.on_supervised_failure()
        except Exception as exc:  # noqa: BLE001 - already failing; the supervisor has the original error
            log.warning("%s: error while releasing after a crash: %s", self.link.name, describe_error(exc))
        close_thread_connection()

    def _stop_timers(self) -> None:
        for ticker in self._timers:
            ticker.stop()
        self._timers.clear()


_timer_ids = itertools.count(1)


class PeriodicTimer:
    """A daemon thread that tells `target` a message every `interval_s` seconds until stopped or the
    target is gone. Ticks are skipped (not queued) while the target still has `max_pending` or more
    messages waiting, so a slow target never accumulates a backlog of timer messages."""

    def __init__(self, interval_s: float, target: pykka.ActorRef, make_message: Callable[[int], Any], *,
                 name: str = "ticker", max_pending: int = 10) -> None:
        if interval_s <= 0:
            raise ValueError("ticker interval must be > 0")
        self.interval_s = interval_s
        self._target = target
        self._make_message = make_message
        self._max_pending = max_pending
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-{next(_timer_ids)}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        count = 0
        while not self._stopped.wait(self.interval_s):
            if not self._target.is_alive():
                return
            if self._target.actor_inbox.qsize() >= self._max_pending:  # type: ignore[attr-defined]  # pykka.ActorInbox has no qsize; a ThreadingActor's is a queue.Queue
                continue
            count += 1
            try:
                self._target.tell(self._make_message(count))
            except pykka.ActorDeadError:
                return
