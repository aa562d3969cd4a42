"""SupervisorHealth: gathers what /healthz and /readyz decide on (the decisions are core/health.py).

Written by the supervisor's thread (sweeps, control polls, disabled critical children), read by the HTTP
listener: plain attribute reads and writes, threading.Events, and providers the daemon plugs in that read
thread-safe state (the Prometheus registry for symbols and the market connection, the lease tracker, the
store worker). Nothing here talks to an actor or the database, so a probe never waits on either.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import pykka

from kraken_runtime.core.health import LivenessInputs, ReadinessInputs, Verdict, liveness, readiness

# (ready, total) symbols; the market-data connection up (None: none to watch); the lease's age in seconds.
SymbolsProvider = Callable[[], tuple[int, int]]
FlagProvider = Callable[[], bool | None]
AgeProvider = Callable[[], float | None]


class SupervisorHealth:
    def __init__(self, *, max_sweep_age_s: float, max_control_failure_s: float | None = None,
                 monotonic_s: Callable[[], float] = time.monotonic, ready_min_symbols: int = 1,
                 lease_max_age_s: float = 24.0, store_slow_after_s: float = 2.0) -> None:
        self.max_sweep_age_s = max_sweep_age_s
        self.max_control_failure_s = max_control_failure_s
        self.ready_min_symbols = ready_min_symbols
        self.lease_max_age_s = lease_max_age_s
        self.store_slow_after_s = store_slow_after_s
        self._monotonic_s = monotonic_s
        self.last_sweep_monotonic: float | None = None
        self.control_failing_since: float | None = None
        self.control_error = ""
        self.children_started = threading.Event()
        self.stopping = threading.Event()
        self.ref: pykka.ActorRef | None = None
        self.blockers: dict[str, str] = {}  # name -> why it blocks readiness (a disabled critical child)
        self.symbols: SymbolsProvider | None = None
        self.market_connected: FlagProvider | None = None
        self.lease_age_s: AgeProvider | None = None
        self.store_busy_s: AgeProvider | None = None

    # --- written by the supervisor ------------------------------------------------------------------------

    def swept(self) -> None:
        self.last_sweep_monotonic = self._monotonic_s()

    def control_polled(self) -> None:
        self.control_failing_since = None

    def control_poll_failed(self, error: str) -> None:
        self.control_error = error
        if self.control_failing_since is None:
            self.control_failing_since = self._monotonic_s()

    def block(self, name: str, why: str) -> None:
        self.blockers = {**self.blockers, name: why}  # replaced whole: readers never see a dict mid-update

    def unblock(self, name: str) -> None:
        if name in self.blockers:
            self.blockers = {key: value for key, value in self.blockers.items() if key != name}

    # --- read by the probes ---------------------------------------------------------------------------------

    def _control_failing_s(self, now: float) -> float | None:
        since = self.control_failing_since
        return None if since is None else now - since

    def liveness(self) -> Verdict:
        now = self._monotonic_s()
        last = self.last_sweep_monotonic
        ref = self.ref
        busy = self.store_busy_s() if self.store_busy_s is not None else None
        control_failing = self._control_failing_s(now)
        limit = self.max_control_failure_s
        return liveness(LivenessInputs(
            supervisor_alive=ref is not None and ref.is_alive(), sweep_age_s=None if last is None else now - last,
            max_sweep_age_s=self.max_sweep_age_s, store_busy_s=busy, store_slow_after_s=self.store_slow_after_s,
            control_failing_s=control_failing if control_failing is not None and limit is not None and control_failing > limit else None,
            control_error=self.control_error,
        ))

    def readiness(self) -> Verdict:
        health = self.liveness()
        now = self._monotonic_s()
        ready, total = self.symbols() if self.symbols is not None else (0, 0)
        return readiness(health, ReadinessInputs(
            children_started=self.children_started.is_set(), stopping=self.stopping.is_set(),
            symbols_total=total, symbols_ready=ready, ready_min_symbols=self.ready_min_symbols,
            market_connected=self.market_connected() if self.market_connected is not None else None,
            lease_age_s=self.lease_age_s() if self.lease_age_s is not None else None, lease_max_age_s=self.lease_max_age_s,
            control_failing_s=self._control_failing_s(now),
            control_max_failure_s=self.max_control_failure_s if self.max_control_failure_s is not None else float("inf"),
            control_error=self.control_error, blockers=tuple(self.blockers.values()),
        ))

    def degraded(self) -> bool:
        verdict = self.liveness()
        return verdict.ok and bool(verdict.degraded)

    def healthy(self) -> tuple[bool, str]:
        verdict = self.liveness()
        return verdict.ok, verdict.line()

    def ready(self) -> tuple[bool, str]:
        verdict = self.readiness()
        return verdict.ok, verdict.line()
