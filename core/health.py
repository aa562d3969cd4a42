"""What healthy, degraded and ready mean, as pure functions (actors/health.py gathers the inputs, the HTTP
listener serves the verdicts as /healthz and /readyz).

- **healthy** (/healthz 200): the supervisor is alive and sweeping. Only "the process can no longer
  supervise itself" is unhealthy (503): a liveness probe that restarts the daemon then helps.
- **degraded** (/healthz still 200, with a note, `krt_health_degraded` 1): something outside the process is
  slow or down (the database: a store call running long, control polls failing). Restarting the daemon
  would not fix it, so a liveness probe must not.
- **ready** (/readyz 200): healthy, children started and not shutting down, at least
  `http.ready_min_symbols` symbols ready, the market-data connection up, the run lease fresh, the control
  channel readable, and no critical child disabled (later: the risk envelope and executor running).
  Otherwise 503 with one line naming why.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class LivenessInputs:
    supervisor_alive: bool
    sweep_age_s: float | None  # None: has not swept yet
    max_sweep_age_s: float
    store_busy_s: float | None = None  # how long the supervisor's current store call has been running
    store_slow_after_s: float = 2.0
    control_failing_s: float | None = None  # how long control polls have been failing
    control_error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    ok: bool
    reason: str
    degraded: str = ""  # a note while ok: what is slow or down outside the process

    def line(self) -> str:
        if not self.ok:
            return f"unavailable: {self.reason}"
        return f"ok: {self.reason}" + (f"; degraded: {self.degraded}" if self.degraded else "")


def liveness(inputs: LivenessInputs) -> Verdict:
    """Healthy while the supervisor is alive and has swept recently; degraded notes never fail it."""
    if not inputs.supervisor_alive:
        return Verdict(ok=False, reason="supervisor not running")
    if inputs.sweep_age_s is None:
        return Verdict(ok=False, reason="supervisor has not swept yet")
    if inputs.sweep_age_s > inputs.max_sweep_age_s:
        return Verdict(ok=False, reason=f"supervisor last swept {inputs.sweep_age_s:.1f}s ago (limit {inputs.max_sweep_age_s:g}s)")
    notes = []
    if inputs.store_busy_s is not None and inputs.store_busy_s > inputs.store_slow_after_s:
        notes.append(f"database slow: a supervisor store call has been running for {inputs.store_busy_s:.1f}s")
    if inputs.control_failing_s is not None:
        notes.append(f"control commands unreadable for {inputs.control_failing_s:.1f}s: {inputs.control_error}")
    return Verdict(ok=True, reason=f"supervisor swept {inputs.sweep_age_s:.2f}s ago", degraded="; ".join(notes))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessInputs:
    children_started: bool
    stopping: bool
    symbols_total: int
    symbols_ready: int
    ready_min_symbols: int
    market_connected: bool | None  # None: this daemon has no market-data connection to watch
    lease_age_s: float | None  # None: no lease kept (tests without one)
    lease_max_age_s: float
    control_failing_s: float | None
    control_max_failure_s: float
    control_error: str = ""
    blockers: tuple[str, ...] = ()  # e.g. "critical child executor is disabled"


def readiness(health: Verdict, inputs: ReadinessInputs) -> Verdict:
    """Ready only when every condition in the module docstring holds; else the first that does not."""
    if not health.ok:
        return health
    if inputs.stopping:
        return Verdict(ok=False, reason="shutting down")
    if not inputs.children_started:
        return Verdict(ok=False, reason="children starting")
    if inputs.blockers:
        return Verdict(ok=False, reason="; ".join(inputs.blockers))
    if inputs.lease_age_s is not None and inputs.lease_age_s > inputs.lease_max_age_s:
        return Verdict(ok=False, reason=(f"run lease last renewed {inputs.lease_age_s:.1f}s ago (limit "
                                         f"{inputs.lease_max_age_s:g}s): the fleet is about to take this run for dead"))
    if inputs.control_failing_s is not None and inputs.control_failing_s > inputs.control_max_failure_s:
        return Verdict(ok=False, reason=(f"control commands unreadable for {inputs.control_failing_s:.1f}s (limit "
                                         f"{inputs.control_max_failure_s:g}s): {inputs.control_error}"))
    if inputs.market_connected is False:
        return Verdict(ok=False, reason="market-data connection down")
    need = min(inputs.ready_min_symbols, inputs.symbols_total)
    if inputs.symbols_ready < need:
        return Verdict(ok=False, reason=f"{inputs.symbols_ready} of {inputs.symbols_total} symbols ready (need {need})")
    symbols = f"{inputs.symbols_ready}/{inputs.symbols_total} symbols ready" if inputs.symbols_total else "no symbols"
    return Verdict(ok=True, reason=f"ready ({symbols})", degraded=health.degraded)
