"""Fleet safety at start-up: a second daemon must not run a shard that is already live.

A shard is live when a run of it is marked running and its lease (runs.heartbeat_at_ns) is fresh. A run whose
process is gone is not live, however fresh its lease looks: on this host that is known at once (its pid no
longer exists); for a run on another host, its lease is watched for a few renewal intervals and a lease that
does not move is a dead run (the daemon's start-up then closes it out). Part of the composition root.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable

from kraken_runtime.storage import repo


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveShard:
    run_id: int
    hostname: str
    pid: int
    lease_age_s: float

    def line(self, shard: str) -> str:
        return (f"error: shard {shard!r} is already live: run {self.run_id} (pid {self.pid} on {self.hostname}, lease renewed "
                f"{self.lease_age_s:.1f}s ago); stop it first, or give this daemon another runtime.shard")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def live_shard_owner(shard: str, *, stale_after_s: float, renew_interval_s: float,
                     clock_ns: Callable[[], int] = time.time_ns, wait: Callable[[float], Any] = time.sleep,
                     hostname: str | None = None) -> LiveShard | None:
    """The live run holding `shard`, or None when nothing live holds it."""
    host = hostname or socket.gethostname()
    now = clock_ns()
    candidates = [r for r in repo.live_runs(since_ns=now - int(stale_after_s * 1e9)) if r["shard"] == shard]
    remote = []
    for run in candidates:
        if run["hostname"] == host and run["pid"] and not _pid_alive(int(run["pid"])):
            continue  # its process is gone (killed): not live
        if run["hostname"] == host and run["pid"] == os.getpid():
            continue
        remote.append(run)
    if not remote:
        return None
    # Another host (or a live local pid): live only if its lease moves within a few renewal intervals.
    watch_s = 3 * renew_interval_s + 1.0
    deadline = time.monotonic() + watch_s
    seen = {r["id"]: r["heartbeat_at_ns"] for r in remote}
    while True:
        for run in repo.live_runs(since_ns=clock_ns() - int(stale_after_s * 1e9)):
            if run["id"] in seen and (run["heartbeat_at_ns"] != seen[run["id"]] or
                                      (run["hostname"] == host and _pid_alive(int(run["pid"] or 0)))):
                age = max(0.0, (clock_ns() - int(run["heartbeat_at_ns"] or 0)) / 1e9)
                return LiveShard(run_id=int(run["id"]), hostname=str(run["hostname"]), pid=int(run["pid"] or 0),
                                 lease_age_s=age)
        if time.monotonic() >= deadline:
            return None
        wait(0.2)  # polling interval of a deadline wait on another host's lease
