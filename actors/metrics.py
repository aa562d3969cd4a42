"""The daemon's one Prometheus registry and the metrics on it.

Names use the `krt_` prefix, base units and low-cardinality labels: `actor` takes only configured child
names (plus `_unknown` for a send to a name nobody configured), `reason`/`phase`/`command`/`status` come
from fixed sets. Label sets of configured children are pre-created at start so a series exists (at 0)
before anything happens to it.
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

from kraken_runtime.core.supervision import SafetyMode

UNKNOWN_ACTOR = "_unknown"
DROP_REASONS = ("disabled", "restarting", "stopped", "mailbox_full", "unknown")
FAILURE_PHASES = ("start", "message", "ask", "stop", "hung", "died")


class RuntimeMetrics:
    """Every metric of the supervised runtime. Later issues add theirs to this class."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.actor_up = Gauge("krt_actor_up", "1 while the child has a running instance, else 0.", ["actor"], registry=r)
        self.actor_restarts = Counter("krt_actor_restarts_total", "Restarts of a child by the supervisor.", ["actor"], registry=r)
        self.actor_disabled = Gauge("krt_actor_disabled", "1 while the child is disabled (over its restart budget).",
                                    ["actor"], registry=r)
        self.actor_mailbox = Gauge("krt_actor_mailbox_messages", "Messages waiting in the child's mailbox.", ["actor"], registry=r)
        self.messages_dropped = Counter(
            "krt_messages_dropped_total",
            "Messages addressed through the directory and dropped (child disabled, restarting, stopped, mailbox full, unknown).",
            ["actor", "reason"], registry=r)
        self.messages_coalesced = Counter("krt_messages_coalesced_total",
                                          "Snapshot-type messages replaced by a newer one before delivery (latest wins).",
                                          ["actor"], registry=r)
        self.actor_failures = Counter("krt_actor_failures_total", "Failures detected, by where they happened.",
                                      ["actor", "phase"], registry=r)
        self.actor_hung = Counter("krt_actor_hung_total", "Instances replaced because a heartbeat passed its deadline.",
                                  ["actor"], registry=r)
        self.stuck_threads = Gauge("krt_actor_stuck_threads", "Threads of replaced (hung) instances that are still alive.",
                                   registry=r)
        self.safety_mode = Gauge("krt_safety_mode", "Safety mode: 0 active, 1 reduce-only, 2 halted.", registry=r)
        self.control_commands = Counter("krt_control_commands_total", "Operator commands handled, by outcome.",
                                        ["command", "status"], registry=r)
        self.supervisor_tick = Gauge("krt_supervisor_last_sweep_timestamp_seconds",
                                     "Unix time of the supervisor's last sweep.", registry=r)
        self.actor_revivals = Counter("krt_actor_revivals_total",
                                      "Disabled children revived by the supervisor after their cool-off.", ["actor"], registry=r)
        self.store_busy = Gauge("krt_supervisor_store_busy_seconds",
                                "How long the supervisor's running store call has taken so far (0 when idle).", registry=r)
        self.store_queued = Gauge("krt_supervisor_store_queued_calls", "Store calls queued behind it.", registry=r)
        self.store_writes_dropped = Counter("krt_supervisor_store_writes_dropped_total",
                                            "Supervisor store writes dropped (queued past their deadline or the queue bound).",
                                            registry=r)
        self.health_degraded = Gauge("krt_health_degraded",
                                     "1 while /healthz is 200 but degraded (the database slow or unreachable).", registry=r)
        self.lease_age = Gauge("krt_run_lease_age_seconds", "Seconds since the run lease was last renewed.", registry=r)

    def register_children(self, names: Iterable[str]) -> None:
        for name in names:
            self.actor_up.labels(actor=name).set(0)
            self.actor_restarts.labels(actor=name)
            self.actor_disabled.labels(actor=name).set(0)
            self.actor_mailbox.labels(actor=name).set(0)
            self.messages_coalesced.labels(actor=name)
            self.actor_hung.labels(actor=name)
            self.actor_revivals.labels(actor=name)
            for reason in DROP_REASONS:
                if reason != "unknown":
                    self.messages_dropped.labels(actor=name, reason=reason)
            for phase in FAILURE_PHASES:
                self.actor_failures.labels(actor=name, phase=phase)
        self.messages_dropped.labels(actor=UNKNOWN_ACTOR, reason="unknown")

    def set_safety_mode(self, mode: SafetyMode) -> None:
        self.safety_mode.set(mode.severity)
