"""The Directory: the name service peers send through (`directory.send("risk", msg)`), so a restart is
invisible to them. The supervisor attaches and detaches instances; senders never hold an ActorRef."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import pykka

from kraken_runtime.actors.base import EMPTY_SLOT as _NOTHING
from kraken_runtime.actors.base import LatestDelivery, LatestSlot
from kraken_runtime.actors.metrics import UNKNOWN_ACTOR, RuntimeMetrics

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Entry:
    ref: pykka.ActorRef | None = None
    state: str = "stopped"  # running | restarting | disabled | stopped
    mailbox_limit: int = 10_000
    # Latest-wins slots of the current instance only: `attach` installs a new dict, so a delivery queued to
    # an instance that was replaced (its mailbox died with it, or is dropped by its abandoned thread) can
    # never leave a slot of the new instance looking "delivery pending" forever.
    slots: dict[Any, LatestSlot] = field(default_factory=dict)
    dropped: int = 0


class Directory:
    """Name -> current instance. Peers send by name (`directory.send("risk", msg)`), so a restart is
    invisible to them. A send never raises into the sender and never blocks it: a message for a child
    that is disabled, restarting, stopped, unknown or whose mailbox is at its limit is dropped, counted
    (krt_messages_dropped_total{actor,reason}) and `send` returns False."""

    def __init__(self, metrics: RuntimeMetrics | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._metrics = metrics
        self._unknown_dropped = 0

    def register(self, name: str, *, mailbox_limit: int = 10_000) -> None:
        with self._lock:
            self._entries.setdefault(name, _Entry(mailbox_limit=mailbox_limit))

    def attach(self, name: str, ref: pykka.ActorRef) -> None:
        with self._lock:
            entry = self._entries[name]
            entry.ref, entry.state = ref, "running"
            entry.slots = {}  # deliveries queued to the old instance died with its mailbox

    def detach(self, name: str, state: str) -> None:
        with self._lock:
            entry = self._entries[name]
            entry.ref, entry.state = None, state

    def lookup(self, name: str) -> pykka.ActorRef | None:
        """The current instance's ref, for asks at the edges (ctl, health checks, tests); None unless running."""
        with self._lock:
            entry = self._entries.get(name)
            return entry.ref if entry is not None and entry.state == "running" else None

    def names(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._entries)

    def state(self, name: str) -> str | None:
        with self._lock:
            entry = self._entries.get(name)
            return None if entry is None else entry.state

    def mailbox_depth(self, name: str) -> int:
        with self._lock:
            entry = self._entries.get(name)
            ref = None if entry is None else entry.ref
        return 0 if ref is None else ref.actor_inbox.qsize()  # type: ignore[attr-defined]

    def dropped(self, name: str | None = None) -> int:
        with self._lock:
            if name is None:
                return self._unknown_dropped + sum(entry.dropped for entry in self._entries.values())
            entry = self._entries.get(name)
            return 0 if entry is None else entry.dropped

    def _drop(self, name: str, reason: str) -> bool:
        known = False
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                entry.dropped += 1
                known = True
            else:
                self._unknown_dropped += 1
        if self._metrics is not None:
            self._metrics.messages_dropped.labels(actor=name if known else UNKNOWN_ACTOR, reason=reason).inc()
        log.debug("dropped a message for %s (%s)", name, reason)
        return False

    def _target(self, name: str) -> tuple[pykka.ActorRef | None, str | None, _Entry | None]:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return None, "unknown", None
            if entry.ref is None or entry.state != "running":
                return None, entry.state, entry
            if entry.ref.actor_inbox.qsize() >= entry.mailbox_limit:  # type: ignore[attr-defined]
                return None, "mailbox_full", entry
            return entry.ref, None, entry

    def send(self, name: str, message: Any) -> bool:
        ref, reason, _ = self._target(name)
        if ref is None:
            return self._drop(name, reason or "unknown")
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            return self._drop(name, "restarting")  # died a moment ago; the supervisor is on it
        return True

    def send_latest(self, name: str, key: Any, message: Any) -> bool:
        """Latest-wins send for snapshot-type messages: while an earlier message for (name, key) is still
        waiting in the mailbox, this one replaces it (krt_messages_coalesced_total) instead of queueing.

        The instance and its slot are looked up together, under the lock, and belong to one generation. If
        the child is replaced between that lookup and the tell, the delivery went to the old instance's
        mailbox; the value is then taken back from the orphaned slot (unless the old instance already
        consumed it) and sent again to the new instance, so a restart never strands the newest value."""
        for _attempt in range(3):  # a restart per attempt is already far-fetched; bounded all the same
            with self._lock:
                found = self._entries.get(name)
                if found is None:
                    reason: str | None = "unknown"
                    break
                if found.ref is None or found.state != "running":
                    reason = found.state
                    break
                if found.ref.actor_inbox.qsize() >= found.mailbox_limit:  # type: ignore[attr-defined]
                    reason = "mailbox_full"
                    break
                entry, ref, slots = found, found.ref, found.slots
                slot = slots.get(key)
                if slot is None:
                    if len(slots) >= 4096:  # bounded: keys are symbols; never ids
                        slots.clear()
                    slot = slots[key] = LatestSlot()
            needs_delivery, replaced = slot.put(message)
            if replaced and self._metrics is not None:
                self._metrics.messages_coalesced.labels(actor=name).inc()
            dead = False
            if needs_delivery:
                try:
                    ref.tell(LatestDelivery(slot=slot))
                except pykka.ActorDeadError:
                    dead = True  # died a moment ago; the supervisor is on it
            with self._lock:
                current = entry.slots is slots
            if current and not dead:
                return True
            value = slot.take()  # take the value back from the slot whose delivery went nowhere
            if current:
                return self._drop(name, "restarting")
            if value is _NOTHING:
                return True  # the old instance consumed it before it was replaced
            message = value  # replaced meanwhile: send it again, to the new instance
        else:
            reason = "restarting"
        return self._drop(name, reason or "unknown")
