"""Kraken spot REST request signing (``API-Sign``).

``API-Sign = base64(HMAC-SHA512(key=base64decode(secret), msg=uri_path + SHA256(nonce + post_data)))``
exactly as docs.kraken.com/api/docs/guides/spot-rest-auth documents it (PROTOCOL.md §5.2):

- ``uri_path`` is the part of the URL starting with ``/0/private``;
- ``SHA256(...)`` is the raw 32-byte digest appended to the path bytes;
- ``post_data`` is the exact encoded body that is sent, which itself contains ``nonce=...``.

Pure: no clock, no locks. The strictly increasing per-key nonces and the per-key send locks are the REST
client adapter's process-wide state and live in ``rest_nonces.py``; ``key_fingerprint`` names a key there
without keeping the raw key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

__all__ = ["sign", "sign_with_key", "decode_secret", "key_fingerprint"]


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
