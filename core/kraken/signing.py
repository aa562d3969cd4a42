"""Kraken spot REST request signing (``API-Sign``) and API nonces.

``API-Sign = base64(HMAC-SHA512(key=base64decode(secret), msg=uri_path + SHA256(nonce + post_data)))``
exactly as docs.kraken.com/api/docs/guides/spot-rest-auth documents it (PROTOCOL.md §5.2):

- ``uri_path`` is the part of the URL starting with ``/0/private``;
- ``SHA256(...)`` is the raw 32-byte digest appended to the path bytes;
- ``post_data`` is the exact encoded body that is sent, which itself contains ``nonce=...``.

Nonces must be strictly increasing per API key ("an always increasing, unsigned 64-bit integer"), also
across several client instances in one process and across restarts. ``NonceSource`` gives
``max(last + 1, now)`` in one fixed unit (nanoseconds by default): the per-key ``last`` lives in a
process-wide registry guarded by a lock (this module is one of core/kraken's thin I/O adapters, so a
lock is allowed here), and the time floor carries monotonicity across restarts as long as the wall clock
does not step back past the last nonce issued before the restart. Clients on one key that run in
*different* processes at the same time cannot be ordered by this module: give each process its own key,
or set a nonce window on the key.

The registry is keyed by a SHA-256 fingerprint of the API key, so the raw key is not kept in module state.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections.abc import Callable

__all__ = [
    "sign",
    "decode_secret",
    "key_fingerprint",
    "NonceSource",
    "NONCE_UNITS",
    "key_lock",
]

# Nonce units: how many nonce ticks per nanosecond of wall clock is expressed as a divisor of ns.
NONCE_UNITS: dict[str, int] = {"ms": 1_000_000, "us": 1_000, "ns": 1}
_UINT64_MAX = 2**64 - 1


def decode_secret(secret_b64: str) -> bytes:
    """The raw HMAC key from Kraken's base64 private key. The message of the error never includes the secret."""
    try:
        raw = base64.b64decode(secret_b64, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("API secret is not valid base64") from None
    if not raw:
        raise ValueError("API secret is empty")
    return raw


def sign_with_key(url_path: str, post_data: str, nonce: str | int, secret: bytes) -> str:
    """``API-Sign`` with an already decoded secret (the client decodes once at construction)."""
    message = url_path.encode() + hashlib.sha256((str(nonce) + post_data).encode()).digest()
    return base64.b64encode(hmac.new(secret, message, hashlib.sha512).digest()).decode()


def sign(url_path: str, post_data: str, nonce: str | int, secret_b64: str) -> str:
    """Kraken ``API-Sign`` header value for one request.

    >>> sign("/0/private/AddOrder",
    ...      "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
    ...      "1616492376594",
    ...      "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==")
    '4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=='
    """
    return sign_with_key(url_path, post_data, nonce, decode_secret(secret_b64))


def key_fingerprint(api_key: str) -> str:
    """A stable, non-reversible name for an API key (registry key, log label)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


# --- process-wide per-key state -------------------------------------------------------------------------

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
