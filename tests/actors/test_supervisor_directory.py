"""Directory.send_latest around a restart: the latest-wins slot of a (child, key) must never be left
"delivery pending" by a delivery that went to a replaced instance's mailbox."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pykka

import kraken_runtime.actors.directory as directory_module
from kraken_runtime.actors.base import EMPTY_SLOT, LatestDelivery, LatestSlot
from kraken_runtime.actors.directory import Directory

TIMEOUT = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    entered: threading.Event
    release: threading.Event


class Received:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: list[Any] = []

    def add(self, value: Any) -> None:
        with self._lock:
            self._values.append(value)

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._values)


class Reader(pykka.ThreadingActor):
    """Takes latest-wins deliveries the way SupervisedActor does and records the values."""

    def __init__(self, received: Received) -> None:
        super().__init__()
        self.received = received

    def on_receive(self, message: Any) -> Any:
        match message:
            case LatestDelivery():
                value = message.slot.take()
                if value is not EMPTY_SLOT:
                    self.received.add(value)
            case Block():
                message.entered.set()
                message.release.wait(30)
        return None


def test_send_latest_when_child_is_replaced_between_lookup_and_put_then_new_instance_still_gets_every_latest_value(
        monkeypatch, wait_until):
    directory = Directory()
    directory.register("state:BTC/USD")
    old, new = Received(), Received()
    hung = Reader.start(old)
    entered, release = threading.Event(), threading.Event()
    hung.tell(Block(entered=entered, release=release))  # the old instance is stuck in a handler
    assert entered.wait(TIMEOUT)
    directory.attach("state:BTC/USD", hung)
    replacement = Reader.start(new)
    replaced = threading.Event()

    class ReplacedDuringPut(LatestSlot):
        """Injects the interleaving: the supervisor attaches the replacement after the sender looked up
        the target and its slot, before the value goes into the slot."""

        def put(self, value: Any) -> tuple[bool, bool]:
            if not replaced.is_set():
                replaced.set()
                directory.attach("state:BTC/USD", replacement)
            return super().put(value)

    monkeypatch.setattr(directory_module, "LatestSlot", ReplacedDuringPut)
    try:
        assert directory.send_latest("state:BTC/USD", "book", 1)
        assert replaced.is_set()
        wait_until(lambda: new.values() == [1], what="the value sent across the restart reaches the new instance")
        assert directory.send_latest("state:BTC/USD", "book", 2)
        wait_until(lambda: new.values() == [1, 2], what="later values keep flowing to the new instance")
        for value in range(3, 10):
            directory.send_latest("state:BTC/USD", "book", value)
        wait_until(lambda: new.values()[-1] == 9, what="the newest value after a burst")
    finally:
        release.set()
    hung.stop(block=True, timeout=TIMEOUT)
    assert old.values() == []  # the delivery left in the hung mailbox found its slot already drained


def test_send_latest_when_child_is_replaced_while_a_delivery_waits_in_the_hung_mailbox_then_new_instance_gets_the_next(
        wait_until):
    directory = Directory()
    directory.register("state:BTC/USD")
    old, new = Received(), Received()
    hung = Reader.start(old)
    entered, release = threading.Event(), threading.Event()
    hung.tell(Block(entered=entered, release=release))
    assert entered.wait(TIMEOUT)
    directory.attach("state:BTC/USD", hung)
    try:
        assert directory.send_latest("state:BTC/USD", "book", "old")  # waits behind the stuck handler
        replacement = Reader.start(new)
        directory.attach("state:BTC/USD", replacement)
        assert directory.send_latest("state:BTC/USD", "book", "new")
        wait_until(lambda: new.values() == ["new"], what="delivery to the replacement")
    finally:
        release.set()
