"""StrategyActor: one per strategy (`strategy:<name>`), supervised alone; its code runs on the scanner's thread.

The actor is the strategy's supervised unit: its lifecycle, restart budget, operator switch and fault drills
are the supervisor's, as for any child. The strategy's pure signal function (core/signals/) runs on the
scanner's thread, so a snapshot costs no thread hop and no wake-up per strategy: the actor hands a fresh
strategy instance to the scanner through the strategy's `StrategySlot` when it starts (and when it is
switched off, since history with a gap in it is no history) and withdraws it when it stops or fails.

Isolation: when the strategy raises on the scanner's thread (or an operator drill armed its fault budget:
`ctl inject-fault strategy:<name>`), the scanner stops calling that instance at once, counts it
(krt_strategy_errors_total), logs one line and tells the actor `StrategyFailed`; the actor fails with it,
so the supervisor restarts it with a fresh instance under its budget and backoff, or disables it alone.
The scanner never goes down with a strategy, and counts only running strategies. A strategy that never
returns hangs the scanner; the supervisor's heartbeat deadline replaces the scanner, and the new one finds
the strategy it was stuck in (`StrategySlot.inside`) and fails that strategy the same way.

`StrategyEnablementChanged` (from the supervisor, on `ctl disable-strategy` / `enable-strategy`) switches
it: a disabled strategy is not called and the actor tells the scanner, which drops its signals at once.
Crash-only: a (re)started instance reads its switch from strategy_settings and starts its history afresh.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from kraken_runtime.actors.base import ChildLink, FaultBudget, SupervisedActor
from kraken_runtime.core.messages import StrategyEnablementChanged
from kraken_runtime.core.signals import Strategy
from kraken_runtime.storage import repo

log = logging.getLogger(__name__)


def strategy_child_name(name: str) -> str:
    return f"strategy:{name}"


class StrategyFailure(RuntimeError):
    """The strategy raised on the scanner's thread; its actor fails with this, and the supervisor takes over."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyFailed:
    """Scanner -> strategy actor: this generation's strategy raised on the scanner's thread (`error`)."""

    strategy: str
    generation: int
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Installed:
    """One generation's strategy instance as the scanner runs it. Only the scanner's thread calls `strategy`
    once it is installed; the actor only ever replaces the whole record."""

    generation: int
    strategy: Strategy
    enabled: bool
    fault: FaultBudget


class StrategySlot:
    """The hand-over between a strategy's supervised actor and the scanner that runs its code. Outlives the
    actor's generations (the composition owns it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._installed: Installed | None = None
        # The generation the scanner is calling right now (None between calls): a scanner replaced because it
        # hung leaves this set, and its successor blames the strategy (never calls that instance again).
        self.inside: int | None = None

    def install(self, installed: Installed) -> None:
        with self._lock:
            current = self._installed
            if current is None or installed.generation >= current.generation:
                self._installed = installed

    def withdraw(self, generation: int) -> None:
        """Take this generation's instance out (a later generation's stays)."""
        with self._lock:
            if self._installed is not None and self._installed.generation == generation:
                self._installed = None

    def current(self) -> Installed | None:
        return self._installed  # one attribute read: the record is replaced whole, never changed


class StrategyActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, make_strategy: Callable[[], Strategy], send: Callable[[str, Any], bool],
                 slot: StrategySlot, scanner_name: str = "scanner",
                 read_enabled: Callable[[], dict[str, bool]] = repo.strategy_enabled_map) -> None:
        super().__init__(link=link)
        self.make_strategy = make_strategy
        self.name = make_strategy().name
        if slot.name != self.name:
            raise ValueError(f"{link.name}: slot {slot.name!r} given to strategy {self.name!r}")
        self.send = send
        self.slot = slot
        self.scanner_name = scanner_name
        self.read_enabled = read_enabled
        self.enabled = True

    def _install(self, *, fresh: bool) -> None:
        current = self.slot.current()
        strategy = self.make_strategy() if fresh or current is None or current.generation != self.link.generation \
            else current.strategy
        self.slot.install(Installed(generation=self.link.generation, strategy=strategy, enabled=self.enabled, fault=self.link.fault))

    def on_supervised_start(self) -> None:
        self.enabled = bool(self.read_enabled().get(self.name, True))
        self._install(fresh=True)
        self.send(self.scanner_name, StrategyEnablementChanged(strategy=self.name, enabled=self.enabled))
        if not self.enabled:
            log.info("%s: disabled by the operator; idle until `ctl enable-strategy %s`", self.link.name, self.name)

    def on_supervised_stop(self) -> None:
        self.slot.withdraw(self.link.generation)

    def on_supervised_failure(self) -> None:
        self.slot.withdraw(self.link.generation)

    def handle(self, message: Any) -> Any:
        match message:
            case StrategyFailed():
                if message.strategy != self.name:
                    raise ValueError(f"{self.link.name}: failure of {message.strategy!r} sent to {self.name!r}")
                if message.generation == self.link.generation:
                    raise StrategyFailure(f"{self.name} raised on the scanner's thread: {message.error}")
            case StrategyEnablementChanged():
                if message.strategy != self.name:
                    raise ValueError(f"{self.link.name}: enablement change for {message.strategy!r} sent to {self.name!r}")
                # switched off: a fresh instance (history with a gap in it is no history); on: that one goes on
                fresh = self.enabled and not message.enabled
                self.enabled = message.enabled
                self._install(fresh=fresh)
                self.send(self.scanner_name, message)
                log.warning("%s: %s", self.link.name, "enabled: producing signals again" if message.enabled else "disabled: no more signals")
            case _:
                raise TypeError(f"{self.link.name}: unexpected message {type(message).__name__}")
