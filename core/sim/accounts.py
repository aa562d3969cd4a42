"""API users of the local exchange: their orders, fills, ledger and balances (records only; the order
engine in core/sim/orders.py changes them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kraken_runtime.core.sim.events import BalanceChanged
from kraken_runtime.core.sim.instruments import ASSETS
from kraken_runtime.core.sim.matching import BookOrder

__all__ = ["AccountOrder", "Account", "AccountTrade", "OrderView", "OPEN_STATUSES", "asset_name"]

OPEN_STATUSES = ("pending_new", "new", "partially_filled")


@dataclass(slots=True, kw_only=True)
class AccountOrder:
    """An account's order as the engine tracks it: quantities in lots, prices in ticks of its symbol.
    side is matching.BID | ASK; status the WS order_status; book_order is set while it rests."""

    order_id: str
    account: str
    symbol: str
    side: int
    order_type: str
    qty: int
    limit: int | None
    tif: str
    post_only: bool
    cl_ord_id: str | None
    userref: int | None
    opened_ns: int
    status: str = "pending_new"
    cum_qty: int = 0
    cum_cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    closed_ns: int | None = None
    reason: str | None = None
    amended: bool = False
    trade_ids: list[str] = field(default_factory=list)
    book_order: BookOrder | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountTrade:
    """One of an account's fills, for TradesHistory and the executions trades snapshot."""

    exec_id: str
    trade_id: int
    order_id: str
    cl_ord_id: str | None
    symbol: str
    rest_pair: str
    side: str
    order_type: str
    price: Decimal
    qty: Decimal
    cost: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    ts_ns: int
    ledger_ids: tuple[str, ...] = ()


class Account:
    """One API key's balances (by WS asset name), orders, fills and ledger, plus its dead man's switch."""

    __slots__ = ("api_key", "balances", "orders", "open", "closed", "trades", "ledger", "dead_man_ns")

    def __init__(self, api_key: str, balances: dict[str, Decimal]) -> None:
        self.api_key = api_key
        self.balances = balances
        self.orders: dict[str, AccountOrder] = {}
        self.open: dict[str, AccountOrder] = {}
        self.closed: list[AccountOrder] = []
        self.trades: list[AccountTrade] = []
        self.ledger: list[BalanceChanged] = []
        self.dead_man_ns = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderView:
    """An account's order as Open/Closed/QueryOrders show it. status is the WS order_status
    (pending_new | new | partially_filled | filled | canceled | expired); rest_status maps it to REST's
    (pending | open | closed | canceled | expired)."""

    order_id: str
    symbol: str
    rest_pair: str
    side: str
    order_type: str
    order_qty: Decimal
    limit_price: Decimal | None
    time_in_force: str
    post_only: bool
    cl_ord_id: str | None
    order_userref: int | None
    status: str
    cum_qty: Decimal
    cum_cost: Decimal
    fee: Decimal
    avg_price: Decimal
    opened_ns: int
    closed_ns: int | None
    reason: str | None
    amended: bool
    trade_ids: tuple[str, ...]

    @property
    def rest_status(self) -> str:
        return {
            "pending_new": "pending",
            "new": "open",
            "partially_filled": "open",
            "filled": "closed",
            "canceled": "canceled",
            "expired": "expired",
        }[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def asset_name(name: str) -> str:
    """An asset's WS name (BTC) from its WS, REST (XXBT) or alt (XBT) name; unknown names unchanged."""
    from_alias = _ASSET_ALIASES.get(name)
    return from_alias if from_alias is not None else name


def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for asset in ASSETS.values():
        for alias in (asset.altname, asset.rest_name, asset.name):
            out[alias] = asset.name
    return out


_ASSET_ALIASES = _aliases()
