"""Fault knobs of the engine: the venue's status, injected order rejects, and per-symbol market faults
(price shocks, spread blowouts) handed to each symbol's flow."""

from __future__ import annotations

from typing import Mapping

from kraken_runtime.core.sim.api import ERR_CANCEL_ONLY, ERR_POST_ONLY_MODE, ERR_UNAVAILABLE, VENUE_STATUSES
from kraken_runtime.core.sim.symbol_market import SymbolMarket

__all__ = ["FaultKnobs"]


class FaultKnobs:
    """What is in force now, and the gates new orders pass through."""

    __slots__ = ("_markets", "venue_status", "_reject_orders")

    def __init__(self, markets: Mapping[str, SymbolMarket]) -> None:
        self._markets = markets
        self.venue_status = "online"
        self._reject_orders: tuple[int, str] = (0, "")

    def refuse_new_order(self, post_only: bool, order_type: str) -> str | None:
        """Kraken's error when the venue's status refuses a new order of this kind, else None."""
        status = self.venue_status
        if status == "maintenance":
            return ERR_UNAVAILABLE
        if status == "cancel_only":
            return ERR_CANCEL_ONLY
        if status == "post_only" and not (post_only and order_type == "limit"):
            return ERR_POST_ONLY_MODE
        return None

    def take_injected_reject(self) -> str | None:
        count, error = self._reject_orders
        if count <= 0:
            return None
        self._reject_orders = (count - 1, error)
        return error

    def price_shock(self, market: SymbolMarket, pct: float, seconds: float) -> None:
        if not -95 < pct < 1000 or seconds <= 0:
            raise ValueError("price_shock needs -95 < pct < 1000 and seconds > 0")
        market.flow.request_price_shock(float(pct), float(seconds))

    def spread_blowout(self, market: SymbolMarket, factor: float, seconds: float) -> None:
        if factor < 1 or seconds <= 0:
            raise ValueError("spread_blowout needs factor >= 1 and seconds > 0")
        market.flow.request_spread_blowout(float(factor), float(seconds))

    def set_venue_status(self, status: str) -> None:
        if status not in VENUE_STATUSES:
            raise ValueError(f"unknown venue status {status!r}")
        self.venue_status = status
        for market in self._markets.values():
            market.flow.mode = status

    def reject_orders(self, count: int, error: str) -> None:
        if count < 0 or not error:
            raise ValueError("reject_orders needs count >= 0 and an error string")
        self._reject_orders = (count, error)

    def clear(self) -> None:
        self.set_venue_status("online")
        self._reject_orders = (0, "")
        for market in self._markets.values():
            market.flow.clear_faults()

    def active(self, now_ns: int) -> dict[str, object]:
        faults: dict[str, object] = {}
        if self.venue_status != "online":
            faults["venue_status"] = self.venue_status
        if self._reject_orders[0] > 0:
            faults["reject_orders"] = {"count": self._reject_orders[0], "error": self._reject_orders[1]}
        shocked = [s for s, m in self._markets.items() if m.flow.pending_shock or m.flow.shock_until_ns > now_ns]
        blown = [s for s, m in self._markets.items() if m.flow.pending_blowout or m.flow.blowout_until_ns > now_ns]
        if shocked:
            faults["price_shock"] = shocked
        if blown:
            faults["spread_blowout"] = blown
        return faults
