"""Positions and PnL from fills, pure, fees included, with attribution to the strategies behind each order.

Average-cost accounting per ledger key: a fill that grows the position moves its average price; a fill
that reduces it realises (price - average) x closed size (sign by side); a fill through zero closes the
old position and opens the rest at the fill price. Fees (quote currency) are kept apart and subtracted in
`net`. Unrealised PnL is (mark - average) x position.

Every fill is booked twice: under its symbol (the risk envelope's exposure and the session's PnL) and,
split evenly over the order's strategies (the last one takes the remainder so the shares add up exactly),
under (strategy, symbol), which feeds the route engine's scorecard.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Iterable, Mapping

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    qty: Decimal = ZERO  # signed, base units
    avg_price: Decimal = ZERO
    realised: Decimal = ZERO  # quote currency, before fees
    fees: Decimal = ZERO
    volume: Decimal = ZERO  # traded notional
    fills: int = 0

    def unrealised(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.qty == 0:
            return ZERO
        return (mark - self.avg_price) * self.qty

    def net(self, mark: Decimal | None) -> Decimal:
        return self.realised - self.fees + self.unrealised(mark)


def apply_fill(position: Position, *, side: str, qty: Decimal, price: Decimal, fee: Decimal) -> Position:
    signed = qty if side == "buy" else -qty
    current = position.qty
    realised = position.realised
    avg = position.avg_price
    if current == 0 or (current > 0) == (signed > 0):
        new_qty = current + signed
        avg = (avg * abs(current) + price * qty) / abs(new_qty)
    else:
        closing = min(abs(signed), abs(current))
        direction = Decimal(1) if current > 0 else Decimal(-1)
        realised += (price - avg) * closing * direction
        new_qty = current + signed
        if new_qty == 0:
            avg = ZERO
        elif (new_qty > 0) != (current > 0):
            avg = price  # went through zero: the rest opens at the fill price
    return replace(position, qty=new_qty, avg_price=avg, realised=realised, fees=position.fees + fee,
                   volume=position.volume + qty * price, fills=position.fills + 1)


def split_among(strategies: tuple[str, ...], amount: Decimal) -> tuple[tuple[str, Decimal], ...]:
    """Evenly, the last share taking the remainder so the shares add up to `amount` exactly."""
    names = strategies or ("unattributed",)
    share = amount / len(names)
    shares = [(name, share) for name in names[:-1]]
    shares.append((names[-1], amount - share * (len(names) - 1)))
    return tuple(shares)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ledger:
    by_symbol: Mapping[str, Position]
    by_strategy: Mapping[tuple[str, str], Position]  # (strategy, symbol)


EMPTY_LEDGER = Ledger(by_symbol={}, by_strategy={})


def book_fill(ledger: Ledger, *, symbol: str, side: str, qty: Decimal, price: Decimal, fee: Decimal,
              strategies: tuple[str, ...]) -> Ledger:
    by_symbol = dict(ledger.by_symbol)
    by_symbol[symbol] = apply_fill(by_symbol.get(symbol, Position()), side=side, qty=qty, price=price, fee=fee)
    by_strategy = dict(ledger.by_strategy)
    fee_shares = dict(split_among(strategies, fee))
    for name, share in split_among(strategies, qty):
        key = (name, symbol)
        by_strategy[key] = apply_fill(by_strategy.get(key, Position()), side=side, qty=share, price=price, fee=fee_shares[name])
    return Ledger(by_symbol=by_symbol, by_strategy=by_strategy)


def ledger_from_fills(fills: Iterable[Mapping[str, object]]) -> Ledger:
    """Rebuild from stored fills (oldest first): keys symbol, side, qty, price, fee, strategies."""
    ledger = EMPTY_LEDGER
    for fill in fills:
        raw = fill.get("strategies") or ()
        names = tuple(str(name) for name in raw) if isinstance(raw, (list, tuple)) else ()
        ledger = book_fill(ledger, symbol=str(fill["symbol"]), side=str(fill["side"]), qty=_dec(fill["qty"]),
                           price=_dec(fill["price"]), fee=_dec(fill["fee"]), strategies=names)
    return ledger


def _dec(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def equity(ledger: Ledger, marks: Mapping[str, Decimal | None]) -> Decimal:
    """Realised + unrealised - fees over every symbol (the kill ladder's equity, relative to the start)."""
    return sum((p.net(marks.get(symbol)) for symbol, p in ledger.by_symbol.items()), ZERO)
