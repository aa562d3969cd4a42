"""RunLeaseActor: keeps this daemon's `runs` row alive (runs.heartbeat_at_ns).

The lease is how `ctl` and the rest of a fleet tell a live daemon from a dead one: a run whose heartbeat
is older than a few intervals is gone, whatever its status column says (a killed process never writes
`stopped`). It is an ordinary supervised child, so it also proves the supervision machinery end to end in
the daemon: a failed database write restarts it with backoff, a crash loop disables it, and
`ctl inject-fault run-lease` drills exactly that.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.core.messages import LeaseTick

log = logging.getLogger(__name__)


class RunLeaseActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, run_id: int, interval_s: float,
                 renew: Callable[[int, int], None] | None = None, wall_clock_ns: Callable[[], int] = time.time_ns) -> None:
        super().__init__(link=link)
        self.run_id = run_id
        self.interval_s = interval_s
        self._renew = renew
        self._now_ns = wall_clock_ns
        self.renewals = 0

    def _renew_lease(self) -> None:
        if self._renew is None:
            from kraken_runtime.storage import repo
            self._renew = repo.heartbeat_run
        self._renew(self.run_id, self._now_ns())
        self.renewals += 1

    def on_supervised_start(self) -> None:
        self._renew_lease()  # a database that cannot be written is a start failure
        self.every(self.interval_s, lambda n: LeaseTick(seq=n), name="run-lease-timer")

    def handle(self, message: Any) -> Any:
        match message:
            case LeaseTick():
                self._renew_lease()
            case _:
                raise TypeError(f"run-lease does not handle {type(message).__name__}")

    def on_supervised_stop(self) -> None:
        from kraken_runtime.storage.models import database_proxy
        try:
            if database_proxy.obj is not None:
                database_proxy.close()  # this thread's connection
        except Exception:  # noqa: BLE001
            pass
