"""Actor-test fixtures: every actor stopped after each test, a fake clock, an in-memory supervisor store,
and `wait_until` (a condition polled against a deadline; never a sleep used as synchronisation)."""

from __future__ import annotations

import threading

import pykka
import pytest


@pytest.fixture(autouse=True)
def stop_all_actors():
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=5)


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class MemoryStore:
    """SupervisorStore kept in lists (the database one is exercised by test_supervisor_control.py)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.modes: list[tuple[str, str, str]] = []
        self.strategies: dict[str, bool] = {}
        self.pending: list = []
        self.results: dict[int, object] = {}
        self.lock = threading.Lock()

    def record_actor_event(self, actor, event, detail):
        with self.lock:
            self.events.append((actor, event, detail))

    def record_safety_mode(self, mode, *, reason, source):
        self.modes.append((mode, reason, source))

    def claim_commands(self):
        with self.lock:
            pending, self.pending = self.pending, []
        return pending

    def complete_command(self, command_id, result):
        self.results[command_id] = result

    def set_strategy_enabled(self, name, enabled, *, updated_by):
        self.strategies[name] = enabled

    def close(self):
        pass

    def events_for(self, actor):
        with self.lock:
            return [event for a, event, _ in self.events if a == actor]



@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()
