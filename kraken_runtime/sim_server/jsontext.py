"""Compact JSON text the way Kraken writes it, with numbers printed at an exact number of decimals.

Kraken's WS v2 sends prices and quantities as JSON numbers carrying the pair's full precision
(`63005.0`, `0.00005100`); Python's json module cannot print a Decimal that way, so `Num` holds the
already formatted text and `dumps` emits it verbatim.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Callable

from kraken_runtime.core.kraken.wire import format_decimal as _format_decimal


def format_decimal(value: Decimal | int | str, places: int) -> str:
    """`value` printed with exactly `places` decimals (no exponent, no rounding surprises)."""
    return _format_decimal(Decimal(value), places)


class Num(str):
    """A JSON number whose exact text is already decided."""

    __slots__ = ()


def num(value: Decimal | int | str, places: int) -> Num:
    return Num(format_decimal(value, places))


_encode_string: Callable[[str], str] = json.encoder.encode_basestring_ascii


def dumps(obj: Any) -> str:
    parts: list[str] = []
    _write(obj, parts.append)
    return "".join(parts)


def _write(obj: Any, out: Callable[[str], Any]) -> None:
    if isinstance(obj, Num):
        out(str.__str__(obj))
    elif isinstance(obj, str):
        out(_encode_string(obj))
    elif isinstance(obj, dict):
        out("{")
        first = True
        for key, value in obj.items():
            if not first:
                out(",")
            first = False
            out(_encode_string(str(key)))
            out(":")
            _write(value, out)
        out("}")
    elif isinstance(obj, (list, tuple)):
        out("[")
        first = True
        for value in obj:
            if not first:
                out(",")
            first = False
            _write(value, out)
        out("]")
    elif obj is True:
        out("true")
    elif obj is False:
        out("false")
    elif obj is None:
        out("null")
    elif isinstance(obj, int):
        out(str(obj))
    elif isinstance(obj, Decimal):
        out(f"{obj:f}")
    elif isinstance(obj, float):
        out(repr(obj))
    else:
        raise TypeError(f"cannot encode {type(obj).__name__}")
