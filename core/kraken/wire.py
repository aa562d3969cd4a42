"""Exact decoding of Kraken WebSocket v2 frames.

Kraken sends prices and quantities as JSON *numbers* (``63005.0``, ``0.00005100``). They must never pass
through binary floating point: this module turns every non-integer JSON number into a ``Decimal`` exactly
as written on the wire (trailing zeros kept: ``Decimal("0.00005100")``), and every integer into a Python
``int`` (arbitrary size: ``connection_id`` exceeds int64).

Stable API (other modules code against these names):

- ``DecodeError(ValueError)``: ``reason`` (what is wrong, e.g. ``"book update: 'price' missing in bids[0]"``)
  and ``excerpt`` (the first 200 characters of the offending frame).
- ``loads(frame: str | bytes) -> Any``: parse one JSON frame exactly; raises ``DecodeError``.
- ``format_decimal(value: Decimal, places: int) -> str``: fixed-point text with exactly ``places``
  decimals and never an exponent (``format_decimal(Decimal("4"), 8) == "4.00000000"``); a value with more
  decimals than ``places`` is rounded half-even.
- ``excerpt_of(frame)``: the 200-character excerpt used in ``DecodeError``.
- ``fast_number_guard(frame_bytes) -> bool``: True when no number-like run in the frame is longer than
  15 characters, so that every JSON number in it has at most 15 significant digits and is therefore
  uniquely and exactly recoverable from its IEEE double (``repr``). The book fast path relies on it.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["DecodeError", "loads", "format_decimal", "excerpt_of", "fast_number_guard", "EXCERPT_CHARS"]

EXCERPT_CHARS = 200


class DecodeError(ValueError):
    """A frame that cannot be decoded: invalid JSON, or a message missing or mistyping a field."""

    def __init__(self, reason: str, excerpt: str = "") -> None:
        super().__init__(reason if not excerpt else f"{reason} (frame: {excerpt})")
        self.reason = reason
        self.excerpt = excerpt


def excerpt_of(frame: Any) -> str:
    """The first 200 characters of a frame (str, bytes or an already parsed value), for error reports."""
    if isinstance(frame, (bytes, bytearray, memoryview)):
        text = bytes(frame[: EXCERPT_CHARS * 4]).decode("utf-8", "replace")
    elif isinstance(frame, str):
        text = frame
    else:
        try:
            text = json.dumps(frame, default=str, separators=(",", ":"))
        except (TypeError, ValueError):
            text = repr(frame)
    return text[:EXCERPT_CHARS]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


_decoder = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def loads(frame: str | bytes) -> Any:
    """Parse one JSON frame; non-integer numbers become exact ``Decimal``s, integers stay ``int``."""
    try:
        if isinstance(frame, (bytes, bytearray, memoryview)):
            text = bytes(frame).decode("utf-8")
        else:
            text = frame
        return _decoder.decode(text)
    except (ValueError, UnicodeDecodeError, TypeError) as error:
        # json.JSONDecodeError is a ValueError; a NaN/Infinity constant raises ValueError above.
        raise DecodeError(f"invalid JSON: {error}", excerpt_of(frame)) from None


def format_decimal(value: Decimal, places: int) -> str:
    """Fixed-point text of ``value`` with exactly ``places`` decimals and no exponent."""
    if places < 0:
        raise ValueError(f"places must be >= 0, got {places}")
    try:
        return f"{value:.{places}f}"
    except (InvalidOperation, ValueError, TypeError) as error:
        raise ValueError(f"cannot format {value!r} with {places} places: {error}") from None


# bytes.translate table: digits and '.' -> '9', everything else -> ' '. A run of 16 '9's means a number
# text (or some other digit run, e.g. a 19-digit connection_id) with 16+ characters of digits and dot.
_NUMBER_RUN_TABLE = bytes(0x39 if (0x30 <= i <= 0x39 or i == 0x2E) else 0x20 for i in range(256))
_LONG_RUN = b"9" * 16


def fast_number_guard(frame: bytes) -> bool:
    """True when every run of digits and dots in ``frame`` is at most 15 characters long.

    Then every JSON number in the frame has at most 15 significant digits, and two distinct such decimals
    never round to the same IEEE double: the exact value is ``Decimal(repr(float_value))``.
    """
    return _LONG_RUN not in frame.translate(_NUMBER_RUN_TABLE)
