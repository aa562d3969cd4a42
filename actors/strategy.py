"""StrategyActor: one per strategy (`strategy:<name>`), supervised alone.

Wiring only: the scanner forwards each symbol's StateSnapshot (latest wins); the actor runs the strategy's
pure signal function (core/signals/) and tells the scanner the Signal. `StrategyEnablementChanged` (from
the supervisor, on `ctl disable-strategy` / `enable-strategy`) switches it: a disabled strategy computes and
sends nothing and tells the scanner, which drops its signals at once. Crash-only: a (re)started instance
reads its switch from strategy_settings and starts its history afresh.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import StrategyEnablementChanged
from kraken_runtime.core.signals import Strategy
from kraken_runtime.storage import repo

log = logging.getLogger(__name__)


def strategy_child_name(name: str) -> str:
    return f"strategy:{name}"


class StrategyActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, make_strategy: Callable[[], Strategy], send: Callable[[str, Any], bool],
                 scanner_name: str = "scanner", read_enabled: Callable[[], dict[str, bool]] = repo.strategy_enabled_map) -> None:
        super().__init__(link=link)
        self.make_strategy = make_strategy
        self.strategy = make_strategy()
        self.name = self.strategy.name
        self.send = send
        self.scanner_name = scanner_name
        self.read_enabled = read_enabled
        self.enabled = True

    def on_supervised_start(self) -> None:
        self.enabled = bool(self.read_enabled().get(self.name, True))
        self.send(self.scanner_name, StrategyEnablementChanged(strategy=self.name, enabled=self.enabled))
        if not self.enabled:
            log.info("%s: disabled by the operator; idle until `ctl enable-strategy %s`", self.link.name, self.name)

    def handle(self, message: Any) -> Any:
        match message:
            case StateSnapshot():
                if self.enabled:
                    self.send(self.scanner_name, self.strategy.on_snapshot(message))
            case StrategyEnablementChanged():
                if message.strategy != self.name:
                    raise ValueError(f"{self.link.name}: enablement change for {message.strategy!r} sent to {self.name!r}")
                if self.enabled and not message.enabled:
                    self.strategy = self.make_strategy()  # history with a gap in it is no history: start afresh
                self.enabled = message.enabled
                self.send(self.scanner_name, message)
                log.warning("%s: %s", self.link.name, "enabled: producing signals again" if message.enabled else "disabled: no more signals")
            case _:
                raise TypeError(f"{self.link.name}: unexpected message {type(message).__name__}")
