"""Feed connection policy, pure: the process-wide connection budget, reconnect delays and the idle watchdog.

Kraken allows about 150 connection attempts per rolling 10 minutes per IP; past that it refuses
connections for a while. Every attempt of every feed (public, level3, auth, reference) draws from one
`ConnectionBudget`, so a flapping network cannot burn it: when it is spent, feeds wait for the oldest
attempt to age out of the window instead of connecting. The actor side wraps it with a lock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kraken_runtime.core.supervision import Backoff, backoff_delay_s

__all__ = ["ConnectionBudget", "IdleWatchdog", "reconnect_delay_s", "Backoff"]


class ConnectionBudget:
    """At most `limit` attempts in any rolling window of `window_s` seconds (times in seconds, passed in)."""

    __slots__ = ("limit", "window_s", "_attempts")

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"connection budget needs limit >= 1 and window_s > 0 (got {limit}, {window_s})")
        self.limit = limit
        self.window_s = window_s
        self._attempts: deque[float] = deque()

    def _expire(self, now_s: float) -> None:
        while self._attempts and now_s - self._attempts[0] >= self.window_s:
            self._attempts.popleft()

    def try_acquire(self, now_s: float) -> bool:
        """Record an attempt if the budget allows one now."""
        self._expire(now_s)
        if len(self._attempts) >= self.limit:
            return False
        self._attempts.append(now_s)
        return True

    def wait_s(self, now_s: float) -> float:
        """Seconds until an attempt would be allowed (0 when one is allowed now)."""
        self._expire(now_s)
        if len(self._attempts) < self.limit:
            return 0.0
        return max(0.0, self._attempts[0] + self.window_s - now_s)

    def used(self, now_s: float) -> int:
        self._expire(now_s)
        return len(self._attempts)


def reconnect_delay_s(backoff: Backoff, failures: int, random: float) -> float:
    """Delay before the next connect after `failures` consecutive failed or dropped connections."""
    if failures <= 0:
        return 0.0
    return backoff_delay_s(backoff, failures - 1, lambda: random)


@dataclass(slots=True)
class IdleWatchdog:
    """No frame at all (heartbeats count) for `timeout_s` means the feed is stalled, not quiet."""

    timeout_s: float
    last_frame_s: float

    def frame(self, now_s: float) -> None:
        self.last_frame_s = now_s

    def stalled(self, now_s: float) -> bool:
        return now_s - self.last_frame_s > self.timeout_s
