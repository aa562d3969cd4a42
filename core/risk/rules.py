"""The risk rules, each a pure function of the proposal and what it needs, returning a `Decision`:
approve, resize (a smaller or rounded order, carried in the decision) or reject, always with a reason.

They run in this order (core/risk/envelope.py), the first reject ends the evaluation:

1. safety_mode      HALTED allows nothing new; REDUCE_ONLY only orders that reduce the position
2. state_guard      the intent's epoch is the symbol's current one, its state is fresh, the symbol ready
3. venue_status     cancel_only / maintenance allow nothing new; post_only only post-only orders
4. price_band       the limit price is within `price_band_bps` of the mid (the fat-finger guard)
5. instrument       price rounded to the tick (never to a worse price), size down to the lot; qty_min, cost_min
6. exposure         per-symbol and total caps counting open orders as well as positions; open-order counts
7. rate_counter     Kraken's per-pair trading rate counter keeps headroom
8. balance          funds reserved by open orders are counted; cost x trade buffer must be free
9. kill_ladder      daily loss and drawdown limits, error bursts (core/risk/ladder.py decides the level)

Exposure is measured in the quote currency at the mid (USD for the */USD pairs this runtime trades).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from kraken_runtime.core.risk.types import (
    BPS,
    ZERO,
    Decision,
    Funds,
    InstrumentRules,
    MarketView,
    Proposal,
    SymbolExposure,
    approve,
    reject,
    resize,
)

SAFETY_MODE = "safety_mode"
STATE_GUARD = "state_guard"
VENUE_STATUS = "venue_status"
PRICE_BAND = "price_band"
INSTRUMENT = "instrument"
EXPOSURE = "exposure"
RATE_COUNTER = "rate_counter"
BALANCE = "balance"
KILL_LADDER = "kill_ladder"

RULE_ORDER: tuple[str, ...] = (SAFETY_MODE, STATE_GUARD, VENUE_STATUS, PRICE_BAND, INSTRUMENT, EXPOSURE,
                               RATE_COUNTER, BALANCE, KILL_LADDER)

ACTIVE, REDUCE_ONLY, HALTED = "active", "reduce_only", "halted"


def reducing_qty(side: str, position_qty: Decimal) -> Decimal:
    """How much an order on `side` can trade while only reducing the position (0: it cannot reduce)."""
    if side == "sell" and position_qty > 0:
        return position_qty
    if side == "buy" and position_qty < 0:
        return -position_qty
    return ZERO


def _reduce_only(rule: str, p: Proposal, position_qty: Decimal, why: str) -> Decision:
    """Allow only the part of `p` that reduces the position."""
    room = reducing_qty(p.side, position_qty)
    if room <= 0:
        return reject(rule, p, f"{why}: a {p.side} does not reduce the position", position_qty=position_qty)
    if p.qty > room:
        return resize(rule, p.with_(qty=room), f"{why}: resized to the position it reduces", position_qty=position_qty,
                      requested_qty=p.qty)
    return approve(rule, p, f"{why}: reduces the position", position_qty=position_qty)


def check_safety_mode(p: Proposal, *, mode: str, position_qty: Decimal) -> Decision:
    if mode == HALTED:
        return reject(SAFETY_MODE, p, "safety mode is halted: no new orders", mode=mode)
    if mode == REDUCE_ONLY:
        return _reduce_only(SAFETY_MODE, p, position_qty, "safety mode is reduce_only")
    if mode != ACTIVE:
        return reject(SAFETY_MODE, p, f"unknown safety mode {mode!r}", mode=mode)
    return approve(SAFETY_MODE, p, mode=mode)


def check_state_guard(p: Proposal, *, view: MarketView | None, now_ns: int, max_state_age_ms: int) -> Decision:
    rule = STATE_GUARD
    if view is None:
        return reject(rule, p, "no state seen for the symbol yet")
    inputs = dict(status=view.status, intent_epoch=p.epoch, current_epoch=view.epoch, state_ts_ns=p.state_ts_ns,
                  now_ns=now_ns, max_state_age_ms=max_state_age_ms)
    if view.status != "ready":
        return reject(rule, p, f"symbol is {view.status}, not ready", **inputs)
    if p.epoch != view.epoch:
        return reject(rule, p, f"intent epoch {p.epoch} is not the current epoch {view.epoch}", **inputs)
    age_ms = (now_ns - p.state_ts_ns) / 1_000_000
    if age_ms > max_state_age_ms:
        return reject(rule, p, f"state is {age_ms:.0f} ms old, more than {max_state_age_ms} ms", **inputs)
    return approve(rule, p, **inputs)


def check_venue_status(p: Proposal, *, venue_status: str) -> Decision:
    rule = VENUE_STATUS
    if venue_status in ("online", "limit_only"):  # every order we send is a limit order
        return approve(rule, p, venue_status=venue_status)
    if venue_status == "post_only":
        if p.post_only:
            return approve(rule, p, "venue is post_only and the order is post-only", venue_status=venue_status)
        return reject(rule, p, "venue is post_only: only post-only orders", venue_status=venue_status)
    if venue_status in ("cancel_only", "maintenance"):
        return reject(rule, p, f"venue is {venue_status}: no new orders", venue_status=venue_status)
    return reject(rule, p, f"venue status {venue_status!r} is not known to allow orders", venue_status=venue_status)


def check_price_band(p: Proposal, *, mid: Decimal | None, band_bps: Decimal) -> Decision:
    rule = PRICE_BAND
    if mid is None or mid <= 0:
        return reject(rule, p, "no mid price to check the limit price against", band_bps=band_bps)
    distance_bps = abs(p.price - mid) / mid * BPS
    inputs = dict(price=p.price, mid=mid, distance_bps=distance_bps.quantize(Decimal("0.01")), band_bps=band_bps)
    if distance_bps > band_bps:
        return reject(rule, p, f"limit price {p.price} is {distance_bps:.2f} bps from the mid {mid}, "
                      f"more than {band_bps} bps", **inputs)
    return approve(rule, p, **inputs)


def band_edge(side: str, mid: Decimal, band_bps: Decimal, tick: Decimal) -> Decimal:
    """The most aggressive price inside the band, on the tick: the limit of a market intent's IOC order."""
    if side == "buy":
        return (mid * (1 + band_bps / BPS) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    return (mid * (1 - band_bps / BPS) / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def round_price(side: str, price: Decimal, tick: Decimal) -> Decimal:
    """To the tick, never to a worse price: a buy rounds down, a sell up."""
    rounding = ROUND_FLOOR if side == "buy" else ROUND_CEILING
    return (price / tick).to_integral_value(rounding=rounding) * tick


def round_qty(qty: Decimal, lot: Decimal) -> Decimal:
    return (qty / lot).to_integral_value(rounding=ROUND_FLOOR) * lot


def check_instrument(p: Proposal, *, rules: InstrumentRules | None) -> Decision:
    rule = INSTRUMENT
    if rules is None:
        return reject(rule, p, "no instrument rules for the symbol: not traded (outside KRAKEN_ENABLED_PAIRS, or not selected at start-up)")
    price = round_price(p.side, p.price, rules.price_increment)
    qty = round_qty(p.qty, rules.qty_increment)
    inputs = dict(price=p.price, qty=p.qty, tick=rules.price_increment, lot=rules.qty_increment,
                  qty_min=rules.qty_min, cost_min=rules.cost_min)
    if price <= 0:
        return reject(rule, p, f"price {p.price} rounds to {price}", **inputs)
    if qty < rules.qty_min:
        return reject(rule, p, f"size {qty} is below the pair's minimum {rules.qty_min}", **inputs)
    if qty * price < rules.cost_min:
        return reject(rule, p, f"cost {qty * price} is below the pair's minimum {rules.cost_min}", **inputs)
    if price != p.price or qty != p.qty:
        return resize(rule, p.with_(qty=qty, price=price), f"rounded to tick and lot: {qty} @ {price}", **inputs)
    return approve(rule, p, **inputs)


def check_exposure(p: Proposal, *, mid: Decimal | None, symbol: SymbolExposure, other_symbols_usd: Decimal,
                   open_orders_total: int, max_symbol_usd: Decimal, max_total_usd: Decimal, max_open_orders: int,
                   max_open_orders_per_symbol: int, lot: Decimal) -> Decision:
    """Worst case: every open order fills. The order may take the symbol's worst-case position up to the
    per-symbol cap and the sum over symbols up to the total cap; beyond that it is resized down to the lot,
    or rejected when nothing is left. An order that does not raise the worst case always passes the caps."""
    rule = EXPOSURE
    inputs = dict(position_qty=symbol.position_qty, open_buy_qty=symbol.open_buy_qty, open_sell_qty=symbol.open_sell_qty,
                  other_symbols_usd=other_symbols_usd, max_symbol_usd=max_symbol_usd, max_total_usd=max_total_usd,
                  open_orders=symbol.open_orders, open_orders_total=open_orders_total)
    if open_orders_total >= max_open_orders:
        return reject(rule, p, f"{open_orders_total} open orders, the maximum is {max_open_orders}", **inputs)
    if symbol.open_orders >= max_open_orders_per_symbol:
        return reject(rule, p, f"{symbol.open_orders} open orders on {p.symbol}, the maximum is "
                      f"{max_open_orders_per_symbol}", **inputs)
    if mid is None or mid <= 0:
        return reject(rule, p, "no mid price to value the exposure", **inputs)
    before = symbol.gross_qty()
    if p.side == "buy":
        after_long, after_short = symbol.worst_long() + p.qty, symbol.worst_short()
    else:
        after_long, after_short = symbol.worst_long(), symbol.worst_short() - p.qty
    after = max(abs(after_long), abs(after_short))
    if after <= before:
        return approve(rule, p, "does not raise the worst-case exposure", **inputs)
    symbol_room_qty = max_symbol_usd / mid - before
    total_room_qty = (max_total_usd - other_symbols_usd) / mid - before
    room = min(symbol_room_qty, total_room_qty)
    # Growth of the worst case is the order's size minus any part that first offsets the opposite side.
    growth = after - before
    if growth <= room:
        return approve(rule, p, **inputs)
    allowed = round_qty(p.qty - (growth - max(room, ZERO)), lot)
    if allowed <= 0:
        cap = "per-symbol" if symbol_room_qty <= total_room_qty else "total"
        return reject(rule, p, f"the {cap} exposure cap leaves no room (worst case {before * mid:.2f} of "
                      f"{max_symbol_usd if cap == 'per-symbol' else max_total_usd - other_symbols_usd:.2f})", **inputs)
    return resize(rule, p.with_(qty=allowed), f"resized from {p.qty} to {allowed} to stay within the exposure caps",
                  **inputs)


def check_rate_counter(p: Proposal, *, level: Decimal, cost: Decimal, threshold: Decimal, headroom: Decimal) -> Decision:
    """Kraken's per-pair counter must stay `headroom` below its threshold after this order's cost."""
    rule = RATE_COUNTER
    inputs = dict(level=level, cost=cost, threshold=threshold, headroom=headroom)
    if level + cost > threshold - headroom:
        return reject(rule, p, f"trading rate counter at {level:.2f} + {cost} would pass {threshold - headroom} "
                      f"(threshold {threshold} less headroom {headroom})", **inputs)
    return approve(rule, p, **inputs)


def check_balance(p: Proposal, *, quote: Funds | None, base: Funds | None, fee_rate: Decimal,
                  trade_buffer: Decimal) -> Decision:
    """A buy needs cost x (1 + fee) x trade_buffer free in the quote currency; a sell needs its size free
    in the base currency. Open orders' reservations are already subtracted (Funds.free)."""
    rule = BALANCE
    if p.side == "buy":
        need = p.notional * (1 + fee_rate) * trade_buffer
        if quote is None:
            return reject(rule, p, "no balance known for the quote currency", need=need)
        inputs = dict(need=need, available=quote.available, reserved=quote.reserved, trade_buffer=trade_buffer)
        if need > quote.free:
            return reject(rule, p, f"needs {need:.8f} of quote (cost x fee x buffer {trade_buffer}), "
                          f"{quote.free:.8f} free", **inputs)
        return approve(rule, p, **inputs)
    if base is None:
        return reject(rule, p, "no balance known for the base currency", need=p.qty)
    inputs = dict(need=p.qty, available=base.available, reserved=base.reserved)
    if p.qty > base.free:
        return reject(rule, p, f"sells {p.qty}, {base.free} of the base currency free", **inputs)
    return approve(rule, p, **inputs)


def check_kill_ladder(p: Proposal, *, level: str, reason: str, position_qty: Decimal) -> Decision:
    """`level` is what the kill ladder demands now (core/risk/ladder.py): active, reduce_only or halted."""
    if level == HALTED:
        return reject(KILL_LADDER, p, f"kill ladder: {reason}", level=level)
    if level == REDUCE_ONLY:
        return _reduce_only(KILL_LADDER, p, position_qty, f"kill ladder: {reason}")
    return approve(KILL_LADDER, p, level=level)
