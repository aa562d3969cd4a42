"""Fault injection for the local exchange: validation, bookkeeping and queries.

`FaultBoard.inject(spec, now_ns)` validates a fault (`{"fault": NAME, ...parameters}`), records it with
an id and returns it; `FaultError` carries the reason for an unknown fault or bad parameters. The
server's parts ask the board what to do (`is_stalled`, `checksum_for`, `take_reject`, `ack_delay_s`,
`take_rate_limit`); faults that act on the market or the sockets (drop_connections, venue_status,
price_shock, spread_blowout) are carried out by `on_inject` / `on_clear` callbacks the app wires up.

Faults:
  drop_connections                      close every WebSocket now (clients must reconnect)
  stall_feed        symbol?, seconds    the symbol's feed (all symbols without `symbol`) goes silent,
                                        heartbeats included, on connections subscribed to it
  corrupt_checksum  symbol?, count      the next `count` book messages carry a wrong checksum
  venue_status      status              online | cancel_only | post_only | maintenance (until cleared)
  reject_orders     count, error        the next `count` order requests fail with `error`
  ack_latency       ms, seconds         trading requests are answered `ms` later, for `seconds`
  rate_limit        count               the next `count` private calls get Kraken's rate-limit error
  price_shock       symbol, pct, seconds
  spread_blowout    symbol, factor, seconds
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

VENUE_STATUSES = ("online", "cancel_only", "post_only", "maintenance")
NS = 1_000_000_000


class FaultError(ValueError):
    """A fault request that cannot be applied; str(error) is the reason."""


@dataclass
class ActiveFault:
    id: str
    name: str
    params: dict
    started_ns: int
    expires_ns: int | None = None  # None: until cleared or used up
    remaining: int | None = None  # counted faults

    def to_json(self) -> dict:
        out = {"id": self.id, "fault": self.name, **self.params}
        if self.remaining is not None:
            out["remaining"] = self.remaining
        if self.expires_ns is not None:
            out["expires_in_s"] = None  # filled by the board with the current time
        return out


def _number(spec: dict, name: str, *, positive: bool = True, integer: bool = False, required: bool = True,
            default=None):
    if name not in spec:
        if required:
            raise FaultError(f"missing parameter '{name}'")
        return default
    value = spec[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultError(f"parameter '{name}' must be a number")
    if integer and not isinstance(value, int):
        raise FaultError(f"parameter '{name}' must be an integer")
    if positive and value <= 0:
        raise FaultError(f"parameter '{name}' must be > 0")
    return value


_PARAMS = {
    "drop_connections": set(),
    "stall_feed": {"symbol", "seconds"},
    "corrupt_checksum": {"symbol", "count"},
    "venue_status": {"status"},
    "reject_orders": {"count", "error"},
    "ack_latency": {"ms", "seconds"},
    "rate_limit": {"count"},
    "price_shock": {"symbol", "pct", "seconds"},
    "spread_blowout": {"symbol", "factor", "seconds"},
}
FAULT_NAMES = tuple(_PARAMS)


@dataclass
class FaultBoard:
    symbols: tuple[str, ...] = ()
    on_inject: list[Callable[[ActiveFault], None]] = field(default_factory=list)
    on_clear: list[Callable[[ActiveFault], None]] = field(default_factory=list)
    faults: dict[str, ActiveFault] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    # ------------------------------------------------------------------ admin

    def inject(self, spec: dict, now_ns: int) -> ActiveFault:
        if not isinstance(spec, dict):
            raise FaultError("body must be a JSON object")
        name = spec.get("fault")
        if not isinstance(name, str):
            raise FaultError("missing 'fault' (one of: " + ", ".join(FAULT_NAMES) + ")")
        if name not in _PARAMS:
            raise FaultError(f"unknown fault '{name}' (one of: " + ", ".join(FAULT_NAMES) + ")")
        unknown = set(spec) - _PARAMS[name] - {"fault"}
        if unknown:
            raise FaultError(f"unknown parameter(s) for {name}: " + ", ".join(sorted(unknown)))
        params: dict = {}
        expires = None
        remaining = None
        symbol = spec.get("symbol")
        if "symbol" in _PARAMS[name] and symbol is not None:
            if not isinstance(symbol, str) or symbol not in self.symbols:
                raise FaultError(f"unknown symbol {symbol!r}")
            params["symbol"] = symbol
        if name in ("price_shock", "spread_blowout") and symbol is None:
            raise FaultError("missing parameter 'symbol'")
        if name in ("stall_feed", "ack_latency", "price_shock", "spread_blowout"):
            seconds = _number(spec, "seconds")
            params["seconds"] = seconds
            expires = now_ns + int(seconds * NS)
        if name in ("corrupt_checksum", "reject_orders", "rate_limit"):
            remaining = _number(spec, "count", integer=True)
            params["count"] = remaining
        if name == "venue_status":
            status = spec.get("status")
            if status not in VENUE_STATUSES:
                raise FaultError("parameter 'status' must be one of: " + ", ".join(VENUE_STATUSES))
            params["status"] = status
            for other in [f for f in self.faults.values() if f.name == "venue_status"]:
                del self.faults[other.id]
        if name == "reject_orders":
            error = spec.get("error", "EOrder:Rejected")
            if not isinstance(error, str) or not error.startswith(("E", "W")) or ":" not in error:
                raise FaultError("parameter 'error' must be a Kraken error string like 'EOrder:Insufficient funds'")
            params["error"] = error
        if name == "ack_latency":
            params["ms"] = _number(spec, "ms", positive=False)
            if params["ms"] < 0:
                raise FaultError("parameter 'ms' must be >= 0")
        if name == "price_shock":
            pct = _number(spec, "pct", positive=False)
            if pct <= -100 or pct == 0:
                raise FaultError("parameter 'pct' must be non-zero and > -100")
            params["pct"] = pct
        if name == "spread_blowout":
            params["factor"] = _number(spec, "factor")
            if params["factor"] < 1:
                raise FaultError("parameter 'factor' must be >= 1")
        fault = ActiveFault(id=f"F{next(self._ids)}", name=name, params=params, started_ns=now_ns,
                            expires_ns=expires, remaining=remaining)
        if name != "drop_connections":
            self.faults[fault.id] = fault
        for callback in self.on_inject:
            callback(fault)
        return fault

    def clear(self) -> int:
        cleared = list(self.faults.values())
        self.faults.clear()
        for fault in cleared:
            for callback in self.on_clear:
                callback(fault)
        return len(cleared)

    def listing(self, now_ns: int) -> list[dict]:
        self.expire(now_ns)
        out = []
        for fault in self.faults.values():
            item = fault.to_json()
            if fault.expires_ns is not None:
                item["expires_in_s"] = round(max(0, fault.expires_ns - now_ns) / NS, 3)
            out.append(item)
        return out

    def expire(self, now_ns: int) -> None:
        for fault in list(self.faults.values()):
            if (fault.expires_ns is not None and now_ns >= fault.expires_ns) or fault.remaining == 0:
                del self.faults[fault.id]
                for callback in self.on_clear:
                    callback(fault)

    # ------------------------------------------------------------------ queries

    def _active(self, name: str):
        return [f for f in self.faults.values() if f.name == name]

    def is_stalled(self, symbol: str | None, now_ns: int) -> bool:
        for fault in self._active("stall_feed"):
            if fault.expires_ns is not None and now_ns >= fault.expires_ns:
                continue
            target = fault.params.get("symbol")
            if target is None or symbol is None or target == symbol:
                return True
        return False

    def checksum_for(self, symbol: str, checksum: int) -> int:
        for fault in self._active("corrupt_checksum"):
            target = fault.params.get("symbol")
            if (target is None or target == symbol) and fault.remaining:
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self.faults[fault.id]
                return (checksum + 1) & 0xFFFFFFFF
        return checksum

    def take_reject(self) -> str | None:
        for fault in self._active("reject_orders"):
            if fault.remaining:
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self.faults[fault.id]
                return fault.params["error"]
        return None

    def take_rate_limit(self) -> bool:
        for fault in self._active("rate_limit"):
            if fault.remaining:
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self.faults[fault.id]
                return True
        return False

    def ack_delay_s(self, now_ns: int) -> float:
        delay = 0.0
        for fault in self._active("ack_latency"):
            if fault.expires_ns is None or now_ns < fault.expires_ns:
                delay = max(delay, fault.params["ms"] / 1000.0)
        return delay

    def venue_status(self) -> str:
        for fault in self._active("venue_status"):
            return fault.params["status"]
        return "online"
