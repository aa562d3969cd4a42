"""The reference venue's book-ticker stream (Binance US format) for the premium-gap signal.

Frames look like `{"u": 400900217, "s": "BTCUSD", "b": "25.35190000", "B": "31.21000000",
"a": "25.36520000", "A": "40.66000000"}` with prices and quantities as strings; they are read exactly.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Iterable

import orjson

from kraken_runtime.core.kraken.wire import DecodeError
from kraken_runtime.core.marketdata import RefQuote


def venue_symbol(symbol: str) -> str:
    """BTC/USD -> BTCUSD (the reference venue's name for the same market)."""
    return symbol.replace("/", "").upper()


def subscribe_frame(symbols: Iterable[str], request_id: int = 1) -> str:
    params = [f"{venue_symbol(symbol).lower()}@bookTicker" for symbol in symbols]
    return orjson.dumps({"method": "SUBSCRIBE", "params": params, "id": request_id}).decode()


def decode_book_ticker(payload: str | bytes, by_venue_symbol: dict[str, str], ts_recv_ns: int) -> RefQuote | None:
    """A RefQuote for a book-ticker frame of a watched symbol; None for acks and other symbols.

    Raises DecodeError for a frame that is not JSON or a book ticker with bad numbers."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"reference: not JSON ({exc})", str(payload)[:200]) from None
    if not isinstance(obj, dict) or "s" not in obj:
        return None  # {"result": null, "id": 1} and the like
    symbol = by_venue_symbol.get(str(obj["s"]).upper())
    if symbol is None:
        return None
    raw = [obj.get(key) for key in ("b", "B", "a", "A")]
    if not all(isinstance(value, str) for value in raw):
        # The venue sends decimal strings; a JSON number here has already been through float: refuse it.
        raise DecodeError("reference: book ticker b, B, a, A must be decimal strings", str(payload)[:200])
    try:
        values = {key: Decimal(obj[key]) for key in ("b", "B", "a", "A")}
        update_id = int(obj.get("u", 0))
    except (KeyError, InvalidOperation, ValueError, TypeError):
        raise DecodeError("reference: book ticker needs u, b, B, a, A as decimal strings", str(payload)[:200]) from None
    if not all(value.is_finite() for value in values.values()):
        raise DecodeError("reference: non-finite number in book ticker", str(payload)[:200])
    return RefQuote(symbol=symbol, bid=values["b"], bid_qty=values["B"], ask=values["a"], ask_qty=values["A"],
                    update_id=update_id, ts_recv_ns=ts_recv_ns)
