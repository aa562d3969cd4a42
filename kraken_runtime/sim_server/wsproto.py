"""Shared WS v2 request/response helpers: RFC 3339 times, acks, errors, request validation."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from kraken_runtime.sim_server.jsontext import dumps

BOOK_DEPTHS = (10, 25, 100, 500, 1000)
L3_DEPTHS = (10, 100, 1000)

# Kraken's error strings (PROTOCOL.md 1.2, 4.1); the ones Kraken does not document are marked.
ERR_BAD_CHANNEL = "Subscription name invalid"
ERR_NOT_FOUND = "Subscription Not Found"
ERR_ALREADY = "Already subscribed"  # not documented verbatim; the wording clients log
ERR_SYMBOL_NOT_FOUND = "Symbol(s) not found"
ERR_INVALID_TOKEN = "EAPI:Invalid token"
ERR_INVALID_SESSION = "ESession:Invalid session"
ERR_BAD_ARGS = "EGeneral:Invalid arguments"
ERR_METHOD = "Method not found"  # not documented; Kraken's live wording
ERR_MALFORMED = "Malformed request"  # not documented
ERR_DEPTH = "Invalid depth"  # not documented


def unsupported_pair(symbol: str) -> str:
    return f"Currency pair not supported {symbol}"


def unsupported_field(name: str) -> str:
    return f"Unsupported field: '{name}'"


def rfc3339_us(ns: int) -> str:
    seconds, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rem // 1000:06d}Z"


def rfc3339_ns(ns: int) -> str:
    seconds, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rem:09d}Z"


def rfc3339_s(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 1_000_000_000))


def parse_rfc3339(text: str) -> int:
    """RFC 3339 text -> epoch ns (accepts 'Z' or an offset, any fraction length)."""
    text = text.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    main, dot, rest = text.partition(".")
    frac_ns = 0
    if dot:
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        main = main + rest[i:]
        frac_ns = int((digits + "000000000")[:9]) if digits else 0
    parsed = datetime.fromisoformat(main)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp()) * 1_000_000_000 + frac_ns


def response(method: str, *, req_id=None, result=None, error: str | None = None, time_in: int,
             time_out: int, extra: dict | None = None) -> str:
    """A method response in Kraken's key order: method, req_id, result|error, success, times."""
    message: dict = {}
    if error is not None:
        message["error"] = error
    message["method"] = method
    if req_id is not None:
        message["req_id"] = req_id
    if result is not None:
        message["result"] = result
    if extra:
        message.update(extra)
    message["success"] = error is None
    message["time_in"] = rfc3339_us(time_in)
    message["time_out"] = rfc3339_us(time_out)
    return dumps(message)


def parse_request(text: str) -> tuple[dict | None, str | None]:
    """(message, None) or (None, error) for a text frame that is not a JSON object."""
    try:
        message = json.loads(text)
    except ValueError:
        return None, ERR_MALFORMED
    if not isinstance(message, dict):
        return None, ERR_MALFORMED
    return message, None


def valid_req_id(message: dict):
    req_id = message.get("req_id")
    if req_id is None or (isinstance(req_id, int) and not isinstance(req_id, bool)):
        return req_id
    return None


def clock_ns() -> int:
    """The wall clock in ns since the epoch: the time_in / time_out of replies (Kraken's own clock)."""
    return time.time_ns()
