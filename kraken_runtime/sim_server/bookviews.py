"""Per-depth book views and the update messages that move a subscriber from one view to the next.

The server keeps, per (symbol, depth), the top-`depth` levels it last sent. After the market moves it
diffs the new top-`depth` levels against them, the way Kraken's feed behaves:

- a level that is new or whose quantity changed is sent with its new quantity;
- a level that left the book is sent with qty 0, unless it is worse than the new view's worst level
  while the view is full: then the client's own truncation to `depth` removes it (Kraken sends no
  delete for levels that fall out of scope), and the next level comes in as a plain insert.

Applying the update and truncating to `depth` therefore gives the client exactly the new view, and the
checksum (top 10 of each side, at the pair's precisions) verifies.

level3 works the same way per order: add / modify / delete, with a level whose queue order the
client cannot reproduce sent as deletes followed by adds in queue order.
"""

from __future__ import annotations

import zlib
from decimal import Decimal

from kraken_runtime.core.kraken.checksum import crc32_l2, crc32_l3
from kraken_runtime.sim_server.jsontext import format_decimal

Level = tuple[Decimal, Decimal]


def l2_diff(old: list[Level], new: list[Level], depth: int, is_bid: bool) -> list[Level]:
    """Changes that turn `old` into `new` for a client that truncates to `depth` after each update."""
    old_map = dict(old)
    new_map = dict(new)
    changes: list[Level] = []
    full = len(new) >= depth
    worst = new[-1][0] if new else None
    for price, qty in old:
        if price in new_map:
            continue
        if full and worst is not None and ((price < worst) if is_bid else (price > worst)):
            continue  # fell out of scope: the client's truncation drops it
        changes.append((price, qty * 0))  # qty 0 in the view's own number type
    for price, qty in new:
        if old_map.get(price) != qty:
            changes.append((price, qty))
    return changes


def l2_checksum(bids: list[Level], asks: list[Level], price_places: int, qty_places: int) -> int:
    return crc32_l2(
        [(format_decimal(p, price_places), format_decimal(q, qty_places)) for p, q in bids[:10]],
        [(format_decimal(p, price_places), format_decimal(q, qty_places)) for p, q in asks[:10]],
    )


def fixed_text(units: int, places: int) -> str:
    """An integer count of 10**-places as fixed-point text with exactly `places` decimals (no Decimal)."""
    if places == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    digits = str(abs(units)).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def l2_checksum_ticks(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> int:
    """Kraken's book checksum from integer views at the pair's precisions: a number printed at its
    precision with the '.' and leading zeros removed is the integer itself."""
    text = "".join(f"{p}{q}" for p, q in asks[:10]) + "".join(f"{p}{q}" for p, q in bids[:10])
    return zlib.crc32(text.encode())


# level3: a side is a list of orders best level first, queue order inside a level:
# (order_id, price, qty, order_ts_ns)
Order = tuple[str, Decimal, Decimal, int]


def l3_levels(orders: list[Order], depth: int) -> list[Order]:
    """The orders of the first `depth` price levels."""
    out: list[Order] = []
    levels = 0
    last_price = None
    for order in orders:
        if order[1] != last_price:
            levels += 1
            if levels > depth:
                break
            last_price = order[1]
        out.append(order)
    return out


def l3_diff(old: list[Order], new: list[Order], depth: int, is_bid: bool) -> list[tuple[str, Order]]:
    """(event, order) changes that turn the client's `old` view into `new` (client truncates to depth)."""
    old_by_id = {o[0]: o for o in old}
    new_by_id = {o[0]: o for o in new}
    new_prices: list[Decimal] = []
    for o in new:
        if not new_prices or new_prices[-1] != o[1]:
            new_prices.append(o[1])
    full = len(new_prices) >= depth
    worst = new_prices[-1] if new_prices else None

    def out_of_scope(price: Decimal) -> bool:
        return full and worst is not None and ((price < worst) if is_bid else (price > worst))

    deletes: list[tuple[str, Order]] = []
    for o in old:
        n = new_by_id.get(o[0])
        if n is None or n[1] != o[1]:
            if not out_of_scope(o[1]):
                deletes.append(("delete", o))
    # Per level: the client keeps surviving orders in place and appends adds at the end.
    deleted = {d[1][0] for d in deletes}
    client_levels: dict[Decimal, list[str]] = {}
    for o in old:
        if o[0] not in deleted and not out_of_scope(o[1]):
            client_levels.setdefault(o[1], []).append(o[0])
    new_levels: dict[Decimal, list[Order]] = {}
    for o in new:
        new_levels.setdefault(o[1], []).append(o)
    extra_deletes: list[tuple[str, Order]] = []
    rest: list[tuple[str, Order]] = []
    for price in new_prices:
        queue = new_levels[price]
        kept = [o for o in queue if o[0] in old_by_id and old_by_id[o[0]][1] == price]
        kept_ids = [o[0] for o in kept]
        client = client_levels.get(price, [])
        # The client's order after this update: its surviving orders, then the adds in order.
        predicted = client + [o[0] for o in queue if o[0] not in set(client)]
        if client != kept_ids[: len(client)] or predicted != [o[0] for o in queue] or len(client) != len(kept_ids):
            # Queue order cannot be reproduced with modify/add: resend the whole level.
            for order_id in client:
                extra_deletes.append(("delete", old_by_id[order_id]))
            rest.extend(("add", o) for o in queue)
            continue
        for o in queue:
            previous = old_by_id.get(o[0])
            if previous is None or o[0] not in set(client):
                rest.append(("add", o))
            elif previous[2] != o[2] or previous[3] != o[3]:
                rest.append(("modify", o))
    return deletes + extra_deletes + rest


def l3_checksum(bids: list[Order], asks: list[Order], price_places: int, qty_places: int) -> int:
    return crc32_l3(
        [(format_decimal(o[1], price_places), format_decimal(o[2], qty_places)) for o in bids],
        [(format_decimal(o[1], price_places), format_decimal(o[2], qty_places)) for o in asks],
    )
