"""The circuit-breaker policy (core/circuit.py), with time passed in."""

from __future__ import annotations

import pytest

from kraken_runtime.core.circuit import CLOSED, CircuitPolicy, circuit_failed, circuit_refusal, circuit_succeeded


def test_closed_circuit_lets_every_call_through() -> None:
    assert circuit_refusal(CLOSED, 0.0) is None
    assert not CLOSED.is_open


def test_a_failure_opens_the_circuit_until_its_retry_time_then_lets_one_attempt_through() -> None:
    state = circuit_failed(CLOSED, now_s=100.0, error="OperationalError: connection refused")
    assert state.is_open and state.retry_at_s == 100.5
    refusal = circuit_refusal(state, 100.2)
    assert refusal is not None and "next attempt in 0.3s" in refusal and "connection refused" in refusal
    assert circuit_refusal(state, 100.5) is None


def test_consecutive_failures_double_the_wait_up_to_the_cap() -> None:
    policy = CircuitPolicy(initial_s=0.5, max_s=30.0)
    state = CLOSED
    waits = []
    for n in range(10):
        state = circuit_failed(state, now_s=float(n) * 100, error="down", policy=policy)
        waits.append(state.retry_at_s - float(n) * 100)
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]


def test_a_success_closes_the_circuit_and_resets_the_backoff() -> None:
    state = circuit_failed(circuit_failed(CLOSED, now_s=0.0, error="x"), now_s=1.0, error="x")
    state = circuit_succeeded(state)
    assert state == CLOSED
    assert circuit_failed(state, now_s=10.0, error="y").retry_at_s == 10.5


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="initial_s"):
        CircuitPolicy(initial_s=0, max_s=1)
    with pytest.raises(ValueError, match="initial_s"):
        CircuitPolicy(initial_s=2, max_s=1)
