"""Supervision rules, pure: child specs, restart budgets, backoff, the child state machine and the
safety-mode transitions. Modelled on Erlang/OTP one_for_one, with one deliberate departure: a child
over its restart budget is disabled alone instead of taking the whole tree down.

Nothing here reads a clock or draws randomness: `now_s` (monotonic seconds) and a `random()`-like
callable are passed in, so tests advance time instead of sleeping. actors/supervisor.py drives it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any, Callable


class RestartPolicy(enum.Enum):
    """When a child that stopped is started again (OTP's restart types)."""

    PERMANENT = "permanent"  # always restarted, whatever ended it
    TRANSIENT = "transient"  # restarted only after a failure, not after a normal exit
    TEMPORARY = "temporary"  # never restarted


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartBudget:
    """OTP's intensity: at most `max_restarts` restarts within any `period_s` window."""

    max_restarts: int = 5
    period_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_restarts < 0 or self.period_s <= 0:
            raise ValueError(f"restart budget needs max_restarts >= 0 and period_s > 0 (got {self.max_restarts}, {self.period_s})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential backoff before a restart: initial * 2**attempt, capped at max, jittered by +-ratio."""

    initial_s: float = 0.2
    max_s: float = 10.0
    jitter_ratio: float = 0.2

    def __post_init__(self) -> None:
        if self.initial_s < 0 or self.max_s < 0 or not 0 <= self.jitter_ratio <= 1:
            raise ValueError("backoff needs initial_s >= 0, max_s >= 0 and 0 <= jitter_ratio <= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSpec:
    """How to run one child. `name` is stable (`feed:BTC/USD`, `strategy:momentum`, `risk`) and doubles
    as the metric label and the directory address. `factory(link)` starts the actor and returns its ref;
    the link (actors/base.py) carries the supervisor's handle into the new instance."""

    name: str
    factory: Callable[[Any], Any]
    policy: RestartPolicy = RestartPolicy.PERMANENT
    budget: RestartBudget = RestartBudget()
    backoff: Backoff = Backoff()
    shutdown_timeout_s: float = 5.0
    start_timeout_s: float = 5.0
    critical: bool = False
    mailbox_limit: int = 10_000

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64 or any(ch.isspace() for ch in self.name):
            raise ValueError(f"child name {self.name!r}: expected 1-64 characters without spaces")
        if self.shutdown_timeout_s <= 0 or self.start_timeout_s <= 0:
            raise ValueError(f"child {self.name}: timeouts must be > 0")
        if self.mailbox_limit < 1:
            raise ValueError(f"child {self.name}: mailbox_limit must be >= 1")


def backoff_delay_s(backoff: Backoff, attempt: int, random: Callable[[], float]) -> float:
    """Delay before restart number `attempt` (0 for the first in a window): capped and jittered.

    `random()` returns a float in [0, 1); the jitter spreads restarts of many children that failed
    together so they do not all hammer a shared resource at the same instant."""
    base = min(backoff.max_s, backoff.initial_s * (2 ** min(max(attempt, 0), 62)))
    jitter = base * backoff.jitter_ratio * (2.0 * random() - 1.0)
    return max(0.0, min(backoff.max_s, base + jitter))


def restarts_in_window(restart_times_s: tuple[float, ...], budget: RestartBudget, now_s: float) -> tuple[float, ...]:
    """The restart times still inside the budget's window ending at `now_s`."""
    return tuple(t for t in restart_times_s if now_s - t < budget.period_s)


# --- the child state machine ------------------------------------------------------------------------------


class ChildState(enum.Enum):
    RUNNING = "running"
    RESTARTING = "restarting"  # failed; a new instance starts when the backoff delay has passed
    DISABLED = "disabled"  # over budget (or not restartable by policy); stays so until `ctl restart`
    STOPPED = "stopped"  # stopped on purpose (shutdown, or a normal exit its policy does not restart)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildStatus:
    name: str
    state: ChildState = ChildState.STOPPED
    generation: int = 0  # increments with every instance started; stale reports are ignored
    restarts: int = 0  # total restarts (not reset by the window)
    restart_times_s: tuple[float, ...] = ()  # restarts inside the current budget window
    restart_due_s: float | None = None
    last_error: str | None = None
    failures: int = 0
    disabled_reason: str | None = None
    disabled_at_s: float | None = None  # when it was last disabled (the revival cool-off counts from here)
    revivals: int = 0  # automatic revivals since the last operator restart (each doubles the next cool-off)


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartAfter:
    delay_s: float
    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DisableChild:
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StayStopped:
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IgnoreReport:
    reason: str


FailureDecision = RestartAfter | DisableChild | StayStopped | IgnoreReport


def child_started(status: ChildStatus, *, generation: int) -> ChildStatus:
    """A new instance (this generation) is running."""
    return replace(status, state=ChildState.RUNNING, generation=generation, restart_due_s=None, disabled_reason=None)


def child_failed(
    status: ChildStatus, spec: ChildSpec, *, generation: int, error: str, now_s: float, random: Callable[[], float]
) -> tuple[ChildStatus, FailureDecision]:
    """Decide what a failure of instance `generation` means: restart after a backoff, or disable.

    One failure per instance counts: a report from an older generation, or a second report from the same
    instance (tell failure + liveness sweep), is ignored."""
    if generation != status.generation or status.state is not ChildState.RUNNING:
        return status, IgnoreReport(reason=f"stale report for generation {generation} (state {status.state.value}, generation {status.generation})")
    status = replace(status, last_error=error, failures=status.failures + 1)
    if spec.policy is RestartPolicy.TEMPORARY:
        reason = f"temporary child failed and is not restarted: {error}"
        return (replace(status, state=ChildState.DISABLED, disabled_reason=reason, disabled_at_s=now_s),
                DisableChild(reason=reason))
    window = restarts_in_window(status.restart_times_s, spec.budget, now_s)
    if len(window) >= spec.budget.max_restarts:
        reason = (f"restart budget exhausted: {len(window)} restarts within {spec.budget.period_s:g}s "
                  f"(max {spec.budget.max_restarts}); last error: {error}")
        return (replace(status, state=ChildState.DISABLED, restart_times_s=window, disabled_reason=reason,
                        disabled_at_s=now_s),
                DisableChild(reason=reason))
    delay = backoff_delay_s(spec.backoff, len(window), random)
    status = replace(
        status, state=ChildState.RESTARTING, restart_times_s=window + (now_s,), restarts=status.restarts + 1,
        restart_due_s=now_s + delay,
    )
    return status, RestartAfter(delay_s=delay, attempt=len(window))


def child_exited_normally(status: ChildStatus, spec: ChildSpec, *, generation: int, now_s: float,
                          random: Callable[[], float]) -> tuple[ChildStatus, FailureDecision]:
    """An instance stopped by itself without an error (not asked to by the supervisor)."""
    if spec.policy is RestartPolicy.PERMANENT:
        return child_failed(status, spec, generation=generation, error="exited without being asked to", now_s=now_s, random=random)
    if generation != status.generation or status.state is not ChildState.RUNNING:
        return status, IgnoreReport(reason="stale exit report")
    return replace(status, state=ChildState.STOPPED), StayStopped(reason=f"{spec.policy.value} child exited normally")


def restart_is_due(status: ChildStatus, now_s: float) -> bool:
    return status.state is ChildState.RESTARTING and status.restart_due_s is not None and now_s >= status.restart_due_s


def operator_restart(status: ChildStatus) -> ChildStatus:
    """`ctl restart ACTOR`: a fresh instance now, and a fresh budget (also brings a disabled child back, and
    resets its revival cool-off)."""
    return replace(status, state=ChildState.RESTARTING, restarts=status.restarts + 1, restart_times_s=(), restart_due_s=None,
                   disabled_reason=None, disabled_at_s=None, revivals=0)


# --- revival of disabled children ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RevivalPolicy:
    """A child disabled by failures (over its restart budget) may be disabled by a cause that has since
    cleared: a database outage, a venue down for a minute. It is revived after a cool-off, with a fresh
    budget; each revival that ends disabled again doubles the next cool-off (initial_s, 2x, 4x, ... at most
    max_s), and an operator `ctl restart` resets it. initial_s == 0 turns revival off. Temporary children
    (never restarted by policy) are never revived."""

    initial_s: float = 60.0
    max_s: float = 900.0

    def __post_init__(self) -> None:
        if self.initial_s < 0 or self.max_s < self.initial_s:
            raise ValueError(f"revival needs 0 <= initial_s <= max_s (got {self.initial_s}, {self.max_s})")

    @property
    def enabled(self) -> bool:
        return self.initial_s > 0

    def cool_off_s(self, revivals: int) -> float:
        return min(self.max_s, self.initial_s * 2 ** min(max(revivals, 0), 62))


def revival_due_at_s(status: ChildStatus, spec: ChildSpec, policy: RevivalPolicy) -> float | None:
    """When a disabled child is revived, or None if it never is (not disabled, temporary, revival off)."""
    if (status.state is not ChildState.DISABLED or status.disabled_at_s is None or not policy.enabled
            or spec.policy is RestartPolicy.TEMPORARY):
        return None
    return status.disabled_at_s + policy.cool_off_s(status.revivals)


def revival_is_due(status: ChildStatus, spec: ChildSpec, policy: RevivalPolicy, now_s: float) -> bool:
    due = revival_due_at_s(status, spec, policy)
    return due is not None and now_s >= due


def child_revived(status: ChildStatus) -> ChildStatus:
    """The supervisor revives a disabled child: a fresh instance now and a fresh budget, one revival more."""
    return replace(status, state=ChildState.RESTARTING, restarts=status.restarts + 1, restart_times_s=(), restart_due_s=None,
                   disabled_reason=None, disabled_at_s=None, revivals=status.revivals + 1)


def child_stopped(status: ChildStatus) -> ChildStatus:
    return replace(status, state=ChildState.STOPPED, restart_due_s=None)


# --- heartbeats ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatTrack:
    """Liveness of one running instance. At most one heartbeat request is outstanding at a time; the
    instance answers it between messages, so an instance stuck in one handler leaves it unanswered.
    It is hung when the outstanding request is older than the deadline."""

    seq: int = 0  # of the last request sent
    outstanding_since_s: float | None = None  # when the unanswered request was sent
    last_answer_s: float | None = None


def heartbeat_due(track: HeartbeatTrack, interval_s: float, now_s: float, started_s: float) -> bool:
    """Send a request now? Only when none is outstanding and `interval_s` passed since the last answer."""
    if track.outstanding_since_s is not None:
        return False
    last = track.last_answer_s if track.last_answer_s is not None else started_s
    return now_s - last >= interval_s or track.seq == 0


def heartbeat_sent(track: HeartbeatTrack, now_s: float) -> HeartbeatTrack:
    return replace(track, seq=track.seq + 1, outstanding_since_s=now_s)


def heartbeat_answered(track: HeartbeatTrack, seq: int, now_s: float) -> HeartbeatTrack:
    if seq != track.seq or track.outstanding_since_s is None:
        return track
    return replace(track, outstanding_since_s=None, last_answer_s=now_s)


def is_hung(track: HeartbeatTrack, deadline_s: float, now_s: float) -> bool:
    return track.outstanding_since_s is not None and now_s - track.outstanding_since_s > deadline_s


# --- safety modes -------------------------------------------------------------------------------------------


class SafetyMode(enum.Enum):
    ACTIVE = "active"
    REDUCE_ONLY = "reduce_only"
    HALTED = "halted"

    @property
    def severity(self) -> int:
        """0 active, 1 reduce-only, 2 halted (the krt_safety_mode gauge)."""
        return _SEVERITY[self]


_SEVERITY = {SafetyMode.ACTIVE: 0, SafetyMode.REDUCE_ONLY: 1, SafetyMode.HALTED: 2}


class ModeSource(enum.Enum):
    OPERATOR = "operator"  # ctl halt | reduce-only | resume
    AUTOMATIC = "automatic"  # kill conditions, the supervisor (a disabled critical child)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeTransition:
    mode: SafetyMode
    changed: bool
    refused: str | None = None


def request_safety_mode(current: SafetyMode, requested: SafetyMode, *, source: ModeSource,
                        resume_blockers: tuple[str, ...] = ()) -> ModeTransition:
    """ACTIVE -> REDUCE_ONLY -> HALTED. Anything may tighten the mode; only an operator resume loosens it,
    and it goes straight back to ACTIVE. A resume is refused while something that forced HALTED still
    holds (`resume_blockers`, e.g. a disabled critical child)."""
    if requested.severity > current.severity:
        return ModeTransition(mode=requested, changed=True)
    if requested is current:
        return ModeTransition(mode=current, changed=False)
    # Loosening.
    if source is not ModeSource.OPERATOR:
        return ModeTransition(mode=current, changed=False, refused=f"{current.value} is left only by an operator resume")
    if requested is not SafetyMode.ACTIVE:
        return ModeTransition(mode=current, changed=False,
                              refused=f"already {current.value}; only 'resume' leaves it (to active)")
    if resume_blockers:
        return ModeTransition(mode=current, changed=False, refused="cannot resume while " + "; ".join(resume_blockers))
    return ModeTransition(mode=SafetyMode.ACTIVE, changed=True)
