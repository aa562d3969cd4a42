"""The one deadline wait of the test suite: poll a condition until it holds or the deadline passes.

Tests wait on conditions with deadlines, never on sleeps; the pause between two looks is the polling interval
only (tests whose condition makes a REST call at the local exchange poll less often: the account's REST
counter is shared with the daemon under test)."""

from __future__ import annotations

import time
from typing import Any, Callable


def wait_until(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition",
               interval: float = 0.005) -> Any:
    """The condition's first truthy value; AssertionError naming `what` once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)  # polling interval of a deadline wait, not a synchronisation sleep
