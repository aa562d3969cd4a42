"""Process-wide API nonces and per-key send locks: the REST client adapter's shared state.

Nonces must be strictly increasing per API key ("an always increasing, unsigned 64-bit integer"), also
across several client instances in one process and across restarts. ``NonceSource`` gives
``max(last + 1, now)`` in one fixed unit (nanoseconds by default): the per-key ``last`` lives in a
process-wide registry guarded by a lock, and the time floor carries monotonicity across restarts as long as
the wall clock does not step back past the last nonce issued before the restart. Clients on one key that run
in *different* processes at the same time cannot be ordered by this module: give each process its own key,
or set a nonce window on the key.

This module holds locks, so it is one of core/kraken's I/O adapter modules (named ``rest*``; see
tests/test_layering.py); the pure ``API-Sign`` computation stays in ``signing.py``. The registry is keyed by
``signing.key_fingerprint`` (a SHA-256 fingerprint), so the raw key is not kept in module state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kraken_runtime.core.kraken.signing import key_fingerprint

__all__ = ["NonceSource", "NONCE_UNITS", "key_lock"]

# Nonce units: how many nanoseconds of wall clock make one nonce tick.
NONCE_UNITS: dict[str, int] = {"ms": 1_000_000, "us": 1_000, "ns": 1}
_UINT64_MAX = 2**64 - 1

_registry_lock = threading.Lock()
_last_nonce: dict[str, tuple[str, int]] = {}  # fingerprint -> (unit, last nonce issued in this process)
_send_locks: dict[str, threading.Lock] = {}  # fingerprint -> lock held from nonce issue to response


def key_lock(api_key: str) -> threading.Lock:
    """The process-wide lock for one API key.

    The REST client holds it from taking a nonce until the response arrives, so requests on one key reach
    Kraken in nonce order even when several threads or client instances share the key.
    """
    fingerprint = key_fingerprint(api_key)
    with _registry_lock:
        lock = _send_locks.get(fingerprint)
        if lock is None:
            lock = _send_locks[fingerprint] = threading.Lock()
        return lock


def _forget_all_for_tests() -> None:
    """Drop the in-process registry: what a process restart does. Tests only."""
    with _registry_lock:
        _last_nonce.clear()


class NonceSource:
    """Strictly increasing nonces per API key: ``max(last + 1, now_in_unit)``.

    ``clock_ns`` is the wall clock in integer nanoseconds since the epoch (``time.time_ns`` by default;
    inject a fake in tests). ``unit`` is one of ``ms``, ``us``, ``ns`` and must stay the same for a key
    ("keep one format per key"). Instances share the process-wide registry, so two clients on one key
    never issue the same or a smaller nonce.
    """

    __slots__ = ("_clock_ns", "_unit", "_divisor")

    def __init__(self, *, clock_ns: Callable[[], int] = time.time_ns, unit: str = "ns") -> None:
        if unit not in NONCE_UNITS:
            raise ValueError(f"nonce unit must be one of {sorted(NONCE_UNITS)}, not {unit!r}")
        self._clock_ns = clock_ns
        self._unit = unit
        self._divisor = NONCE_UNITS[unit]

    @property
    def unit(self) -> str:
        return self._unit

    def next(self, api_key: str) -> int:
        """The next nonce for ``api_key``; larger than every nonce issued for it in this process."""
        floor = int(self._clock_ns()) // self._divisor
        fingerprint = key_fingerprint(api_key)
        with _registry_lock:
            unit, last = _last_nonce.get(fingerprint, (self._unit, 0))
            if unit != self._unit:
                raise ValueError(f"this API key already uses {unit!r} nonces in this process, not {self._unit!r}")
            nonce = max(last + 1, floor)
            if nonce > _UINT64_MAX:
                raise OverflowError("nonce exceeds the unsigned 64-bit range")
            _last_nonce[fingerprint] = (self._unit, nonce)
        return nonce

    def last(self, api_key: str) -> int | None:
        """The last nonce issued for ``api_key`` in this process (to persist it), or None."""
        with _registry_lock:
            entry = _last_nonce.get(key_fingerprint(api_key))
        return None if entry is None else entry[1]

    def seed(self, api_key: str, last_nonce: int) -> None:
        """Raise the floor for ``api_key`` to a nonce persisted before a restart (guards against a clock
        that stepped back across the restart). Never lowers what this process already issued."""
        fingerprint = key_fingerprint(api_key)
        with _registry_lock:
            unit, last = _last_nonce.get(fingerprint, (self._unit, 0))
            if unit != self._unit:
                raise ValueError(f"this API key already uses {unit!r} nonces in this process, not {self._unit!r}")
            _last_nonce[fingerprint] = (self._unit, max(last, int(last_nonce)))

    def __repr__(self) -> str:
        return f"NonceSource(unit={self._unit!r})"
