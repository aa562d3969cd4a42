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

__all__ = ["ConnectionBudget", "IdleWatchdog", "ResubscribeBackoff", "reconnect_delay_s", "Backoff"]


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


class ResubscribeBackoff:
    """Per (symbol, book): repeated resubscribes back off. A book whose checksum keeps failing (a venue bug, a
    bad level) would otherwise be resubscribed on every snapshot, 20 times a second. The first resubscribe of a
    key goes at once; each later one waits initial_s, then twice that, ... at most max_s after the previous
    one; a key left alone for reset_after_s starts over. Times in seconds, passed in; keys are bounded by the
    configured symbols (two books each)."""

    __slots__ = ("initial_s", "max_s", "reset_after_s", "_sent")

    def __init__(self, *, initial_s: float = 0.5, max_s: float = 30.0, reset_after_s: float = 60.0) -> None:
        if initial_s <= 0 or max_s < initial_s or reset_after_s <= 0:
            raise ValueError("resubscribe backoff needs 0 < initial_s <= max_s and reset_after_s > 0")
        self.initial_s = initial_s
        self.max_s = max_s
        self.reset_after_s = reset_after_s
        self._sent: dict[tuple[str, str], tuple[float, int]] = {}  # key -> (last sent, resubscribes in a row)

    def due_s(self, key: tuple[str, str], now_s: float) -> float:
        """The earliest time the next resubscribe of `key` may go (`now_s` or earlier: at once)."""
        last = self._sent.get(key)
        if last is None or now_s - last[0] >= self.reset_after_s:
            return now_s
        return last[0] + min(self.max_s, self.initial_s * 2 ** min(last[1] - 1, 62))

    def sent(self, key: tuple[str, str], now_s: float) -> int:
        """Record a resubscribe sent now; returns how many in a row (1 after a quiet spell)."""
        last = self._sent.get(key)
        count = 1 if last is None or now_s - last[0] >= self.reset_after_s else last[1] + 1
        self._sent[key] = (now_s, count)
        return count


@dataclass(slots=True)
class IdleWatchdog:
    """No frame at all (heartbeats count) for `timeout_s` means the feed is stalled, not quiet."""

    timeout_s: float
    last_frame_s: float

    def frame(self, now_s: float) -> None:
        self.last_frame_s = now_s

    def stalled(self, now_s: float) -> bool:
        return now_s - self.last_frame_s > self.timeout_s
