"""SupervisorHealth: what /healthz and /readyz read. Written by the supervisor's thread (sweeps, control
polls), read by the HTTP listener's threads; plain attribute reads and writes and threading.Events only."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pykka


class SupervisorHealth:
    """What /healthz reads: the supervisor is alive and sweeping, and its control channel works (wall-clock
    monotonic time). Control polls failing for longer than `max_control_failure_s` (by default a few poll
    intervals, set by the supervisor) make the daemon unhealthy: an operator could no longer halt it."""

    def __init__(self, *, max_sweep_age_s: float, max_control_failure_s: float | None = None,
                 monotonic_s: Callable[[], float] = time.monotonic) -> None:
        self.max_sweep_age_s = max_sweep_age_s
        self.max_control_failure_s = max_control_failure_s
        self._monotonic_s = monotonic_s
        self.last_sweep_monotonic: float | None = None
        self.control_failing_since: float | None = None
        self.control_error = ""
        self.children_started = threading.Event()
        self.stopping = threading.Event()
        self.ref: pykka.ActorRef | None = None

    def swept(self) -> None:
        self.last_sweep_monotonic = self._monotonic_s()

    def control_polled(self) -> None:
        self.control_failing_since = None

    def control_poll_failed(self, error: str) -> None:
        self.control_error = error
        if self.control_failing_since is None:
            self.control_failing_since = self._monotonic_s()

    def healthy(self) -> tuple[bool, str]:
        if self.ref is None or not self.ref.is_alive():
            return False, "supervisor not running"
        last = self.last_sweep_monotonic
        if last is None:
            return False, "supervisor has not swept yet"
        now = self._monotonic_s()
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
