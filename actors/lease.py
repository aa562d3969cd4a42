"""RunLeaseActor: keeps this daemon's `runs` row alive (runs.heartbeat_at_ns).

The lease is how `ctl` and the rest of a fleet tell a live daemon from a dead one: a run whose heartbeat
is older than `run_stale_after_s` is gone, whatever its status column says (a killed process never writes
`stopped`), and the next daemon of its shard closes it out as crashed. So the lease must outlive a
database outage: a failed renewal resets this thread's connection (peewee never reconnects by itself)
and is tried again on the next tick, counted and logged, instead of crashing the actor (a crash loop
would exhaust its restart budget in a 20 s outage and leave the lease dead after the database came back).
`LeaseTracker` shows the lease's age to /readyz, `ctl status` and `krt_run_lease_age_seconds`.

It is an ordinary supervised child, so `ctl inject-fault run-lease` still drills the supervision path.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.actors.supervisor_store import first_line
from kraken_runtime.core.messages import LeaseTick
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import reset_thread_connection

log = logging.getLogger(__name__)


class LeaseTracker:
    """The lease as the rest of the process sees it: when it was last renewed (monotonic) and how renewals
    are going. Written by the lease actor's thread, read anywhere (one lock, no I/O)."""

    def __init__(self, *, monotonic_s: Callable[[], float] = time.monotonic) -> None:
        self._monotonic_s = monotonic_s
        self._lock = threading.Lock()
        self.renewed_s: float | None = None
        self.renewed_ns: int | None = None
        self.failures = 0  # consecutive failed renewals
        self.last_error = ""

    def renewed(self, now_ns: int) -> None:
        with self._lock:
            self.renewed_s, self.renewed_ns, self.failures, self.last_error = self._monotonic_s(), now_ns, 0, ""

    def failed(self, error: str) -> int:
        with self._lock:
            self.failures += 1
            self.last_error = error
            return self.failures

    def start(self) -> None:
        """The runs row was written with a fresh heartbeat when the run started: the lease starts fresh."""
        with self._lock:
            if self.renewed_s is None:
                self.renewed_s = self._monotonic_s()

    def age_s(self) -> float | None:
        with self._lock:
            return None if self.renewed_s is None else max(0.0, self._monotonic_s() - self.renewed_s)

    def report(self) -> dict[str, Any]:
        age = self.age_s()
        with self._lock:
            return {"lease_age_s": None if age is None else round(age, 1), "lease_failures": self.failures,
                    "lease_error": self.last_error}


class RunLeaseActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, run_id: int, interval_s: float,
                 renew: Callable[[int, int], None] = repo.heartbeat_run, clock_ns: Callable[[], int] = time.time_ns,
                 tracker: LeaseTracker | None = None) -> None:
        super().__init__(link=link)
        self.run_id = run_id
        self.interval_s = interval_s
        self._renew = renew
        self._clock_ns = clock_ns
        self.tracker = tracker or LeaseTracker()
        self.renewals = 0

    def _renew_lease(self) -> None:
        now_ns = self._clock_ns()
        try:
            self._renew(self.run_id, now_ns)
        except Exception as exc:  # noqa: BLE001 - storage down or a dropped connection: retried next tick
            reset_thread_connection()
            failures = self.tracker.failed(first_line(exc))
            if failures == 1 or failures % 30 == 0:
                log.warning("run-lease: cannot renew the lease of run %d (%d failed in a row; retrying every %.1fs): %s",
                            self.run_id, failures, self.interval_s, first_line(exc))
            return
        if self.tracker.failures:
            log.warning("run-lease: lease of run %d renewed again after %d failed attempt(s)", self.run_id, self.tracker.failures)
        self.tracker.renewed(now_ns)
        self.renewals += 1

    def on_supervised_start(self) -> None:
        self._renew_lease()
        self.every(self.interval_s, lambda n: LeaseTick(seq=n), name="run-lease-timer")

    def handle(self, message: Any) -> Any:
        match message:
            case LeaseTick():
                self._renew_lease()
            case _:
                raise TypeError(f"run-lease does not handle {type(message).__name__}")

    def on_supervised_stop(self) -> None:
        reset_thread_connection()  # this thread's connection; never raises
