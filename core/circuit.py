"""Circuit breaker for a dependency that can become unreachable (the database, seen by the supervisor's store).

Pure: the caller passes the monotonic time in. One failed attempt against an unreachable dependency opens
the circuit; while it is open, calls are refused at once until `retry_at_s`; the next attempt either
closes it (success) or reopens it with a doubled wait (0.5 s, 1 s, 2 s, ... capped at 30 s by default).
So an outage costs the caller one timeout per retry, not one per call.

    state = CLOSED
    refusal = circuit_refusal(state, now_s)          # None: go ahead; else a one-line reason
    state = circuit_failed(state, now_s=..., error=...)  or  circuit_succeeded(state)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitPolicy:
    """Backoff of the retry time after consecutive failures: initial_s * 2**(failures-1), at most max_s."""

    initial_s: float = 0.5
    max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s:
            raise ValueError(f"circuit policy needs 0 < initial_s <= max_s (got {self.initial_s}, {self.max_s})")

    def wait_s(self, failures: int) -> float:
        return min(self.max_s, self.initial_s * 2 ** min(max(failures - 1, 0), 62))


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitState:
    """failures == 0: closed. Otherwise open until retry_at_s (then one attempt is let through)."""

    failures: int = 0
    retry_at_s: float = 0.0
    error: str = ""

    @property
    def is_open(self) -> bool:
        return self.failures > 0


CLOSED = CircuitState()


def circuit_refusal(state: CircuitState, now_s: float) -> str | None:
    """None when a call may go ahead (closed, or open and its retry time has come); else why not."""
    if not state.is_open or now_s >= state.retry_at_s:
        return None
    return (f"database unavailable since {state.failures} failed attempt(s); next attempt in "
            f"{state.retry_at_s - now_s:.1f}s (last error: {state.error})")


def circuit_failed(state: CircuitState, *, now_s: float, error: str, policy: CircuitPolicy = CircuitPolicy()) -> CircuitState:
    """An attempt failed because the dependency is unreachable: open (or reopen) with a longer wait."""
    failures = state.failures + 1
    return CircuitState(failures=failures, retry_at_s=now_s + policy.wait_s(failures), error=error)


def circuit_succeeded(state: CircuitState) -> CircuitState:
    """An attempt succeeded: closed."""
    return CLOSED
