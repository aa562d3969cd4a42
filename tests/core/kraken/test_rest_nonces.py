"""The REST adapter's nonce source: strictly increasing per key, across instances, threads and restarts."""

from __future__ import annotations

import threading
import uuid

import pytest

from kraken_runtime.core.kraken import rest_nonces
from kraken_runtime.core.kraken.rest_nonces import NonceSource, key_lock


def _fresh_key() -> str:
    return f"test-key-{uuid.uuid4()}"


def test_next_when_clock_moves_forward_then_nonce_follows_clock_in_unit():
    key = _fresh_key()
    now = [1_700_000_000_123_456_789]
    source = NonceSource(clock_ns=lambda: now[0], unit="us")
    assert source.next(key) == 1_700_000_000_123_456
    now[0] += 5_000_000_000
    assert source.next(key) == 1_700_000_005_123_456


def test_next_when_clock_stands_still_or_goes_back_then_nonce_still_increases():
    key = _fresh_key()
    now = [1_700_000_000_000_000_000]
    source = NonceSource(clock_ns=lambda: now[0])
    first = source.next(key)
    second = source.next(key)
    now[0] -= 60_000_000_000  # wall clock stepped back a minute
    third = source.next(key)
    assert first < second < third
    assert third == second + 1


def test_next_when_two_sources_share_a_key_then_nonces_interleave_strictly_increasing():
    key = _fresh_key()
    frozen = lambda: 1_700_000_000_000_000_000  # noqa: E731 - both see the same instant
    a, b = NonceSource(clock_ns=frozen), NonceSource(clock_ns=frozen)
    issued = [a.next(key), b.next(key), a.next(key), b.next(key)]
    assert issued == sorted(issued) and len(set(issued)) == 4


def test_next_when_keys_differ_then_each_key_has_its_own_sequence():
    frozen = lambda: 1_000  # noqa: E731
    source = NonceSource(clock_ns=frozen)
    key_a, key_b = _fresh_key(), _fresh_key()
    assert source.next(key_a) == 1_000
    assert source.next(key_b) == 1_000
    assert source.next(key_a) == 1_001


def test_next_when_many_threads_take_nonces_then_all_are_unique():
    key = _fresh_key()
    source = NonceSource(clock_ns=lambda: 5)
    results: list[int] = []
    results_lock = threading.Lock()

    def worker():
        taken = [source.next(key) for _ in range(500)]
        with results_lock:
            results.extend(taken)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert len(results) == 4000 and len(set(results)) == 4000


def test_next_after_a_restart_then_time_floor_keeps_nonces_above_those_issued_before():
    key = _fresh_key()
    now = [1_700_000_000_000_000_000]
    before = NonceSource(clock_ns=lambda: now[0], unit="ms")
    issued_before = [before.next(key) for _ in range(50)]  # a burst runs ahead of the ms clock
    rest_nonces._forget_all_for_tests()  # the process dies: in-memory state is gone
    now[0] += 1_000_000_000  # restarted one second later
    after = NonceSource(clock_ns=lambda: now[0], unit="ms")
    assert after.next(key) > max(issued_before)


def test_next_when_same_key_asks_for_another_unit_then_refuses():
    key = _fresh_key()
    NonceSource(clock_ns=lambda: 10**18, unit="ns").next(key)
    with pytest.raises(ValueError):
        NonceSource(clock_ns=lambda: 10**18, unit="ms").next(key)


def test_nonce_source_when_unit_unknown_then_refuses():
    with pytest.raises(ValueError):
        NonceSource(unit="s")


def test_next_with_real_clock_in_ns_then_fits_unsigned_64_bits():
    nonce = NonceSource().next(_fresh_key())
    assert 0 < nonce < 2**64


def test_seed_when_clock_stepped_back_across_a_restart_then_persisted_last_nonce_is_the_floor():
    key = _fresh_key()
    source = NonceSource(clock_ns=lambda: 2_000, unit="ns")
    assert source.last(key) is None
    issued = source.next(key)
    persisted = source.last(key)
    assert persisted == issued
    rest_nonces._forget_all_for_tests()
    restarted = NonceSource(clock_ns=lambda: 1_000, unit="ns")  # wall clock now behind
    restarted.seed(key, persisted)
    assert restarted.next(key) == persisted + 1
    restarted.seed(key, 5)  # never lowers
    assert restarted.next(key) == persisted + 2


def test_key_lock_when_asked_twice_for_one_key_then_same_lock_and_other_keys_get_their_own():
    key = _fresh_key()
    assert key_lock(key) is key_lock(key)
    assert key_lock(key) is not key_lock(_fresh_key())
