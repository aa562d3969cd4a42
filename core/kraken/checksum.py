"""Kraken order-book CRC32 checksums (PROTOCOL.md section 2 for ``book``, section 3.1 for ``level3``).

The checksum is the IEEE CRC-32 (``zlib.crc32``) of the asks string followed by the bids string, where:

- asks are the top 10 ask price levels, lowest price first; bids the top 10 bid levels, highest first;
- each number's text has its ``.`` removed and then its leading zeros stripped
  (``"0.00100000"`` -> ``"100000"``), and a level contributes ``price + qty``;
- only the top 10 levels of each side count, whatever the subscribed depth;
- for ``level3``, every order inside each of the top 10 price levels contributes ``price + qty``, in queue
  (time-priority) order; order ids and timestamps are not included.

The number texts must carry the pair's full precision (``price_precision`` / ``qty_precision``): the raw
wire text does (Kraken sends trailing zeros), and so does ``wire.format_decimal(value, precision)``.
Callers that hold Decimals format them with ``format_decimal`` first.

Stable API:

- ``crc32_l2(bids, asks) -> int``: bids best first (descending), asks best first (ascending); each an
  iterable of ``(price_text, qty_text)``; only the first 10 of each are read.
- ``crc32_l3(bids, asks) -> int``: per-order ``(price_text, qty_text)`` pairs in book order (best level
  first, queue order inside a level); orders are read until the 11th distinct price level starts.
- ``normalize(text) -> str``: the Kraken text normalisation of one number.
- ``level_fragment(price_text, qty_text) -> str``: ``normalize(price) + normalize(qty)``.
- ``crc32_fragments(ask_fragments, bid_fragments) -> int``: CRC of already normalised fragments (books
  cache one fragment per level and call this).
- ``checksum_input_l2(bids, asks) -> str`` / ``checksum_input_l3``: the string that is hashed (for tests
  and diagnostics).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from itertools import islice

__all__ = [
    "TOP_LEVELS",
    "normalize",
    "level_fragment",
    "crc32_fragments",
    "crc32_l2",
    "crc32_l3",
    "checksum_input_l2",
    "checksum_input_l3",
]

TOP_LEVELS = 10


def normalize(text: str) -> str:
    """Remove the decimal point, then the leading zeros: ``"0.05000"`` -> ``"5000"``."""
    return text.replace(".", "").lstrip("0")


def level_fragment(price_text: str, qty_text: str) -> str:
    """The checksum contribution of one level (L2) or one order (L3)."""
    return price_text.replace(".", "").lstrip("0") + qty_text.replace(".", "").lstrip("0")


def crc32_fragments(ask_fragments: Iterable[str], bid_fragments: Iterable[str]) -> int:
    """CRC32 of the concatenated, already normalised fragments: asks first, then bids."""
    text = "".join(ask_fragments) + "".join(bid_fragments)
    return zlib.crc32(text.encode("ascii")) & 0xFFFFFFFF


def _l2_side(levels: Iterable[tuple[str, str]]) -> str:
    return "".join(level_fragment(price, qty) for price, qty in islice(levels, TOP_LEVELS))


def checksum_input_l2(bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]]) -> str:
    """The string Kraken hashes for a level-2 book."""
    return _l2_side(asks) + _l2_side(bids)


def crc32_l2(bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]]) -> int:
    """Kraken's level-2 book checksum over the top 10 levels of each side (wire-text pairs)."""
    return zlib.crc32(checksum_input_l2(bids, asks).encode("ascii")) & 0xFFFFFFFF


def _l3_side(orders: Iterable[tuple[str, str]]) -> str:
    parts: list[str] = []
    levels = 0
    current: str | None = None
    for price, qty in orders:
        price_digits = normalize(price)
        if price_digits != current:
            levels += 1
            if levels > TOP_LEVELS:
                break
            current = price_digits
        parts.append(price_digits + normalize(qty))
    return "".join(parts)


def checksum_input_l3(bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]]) -> str:
    """The string Kraken hashes for a level-3 book."""
    return _l3_side(asks) + _l3_side(bids)


def crc32_l3(bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]]) -> int:
    """Kraken's level-3 checksum: every order, in queue order, inside the top 10 price levels per side."""
    return zlib.crc32(checksum_input_l3(bids, asks).encode("ascii")) & 0xFFFFFFFF
