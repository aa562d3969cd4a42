"""The local exchange's market and trading model: the facade the sim server uses.

`SimExchange` owns, per symbol, a price-time-priority order book (core.sim.matching) fed by a seeded
order-flow generator (core.sim.flow), plus the accounts of API users whose orders rest in the same
books. It is pure: no clock reads, no threads, no I/O. Time is passed in as integer nanoseconds and the
same seed plus the same sequence of calls gives the same events.

Every price and size crossing this API is a Decimal at exactly the instrument's precision (prices at
`price_precision` decimals, base quantities at `qty_precision`); internally books hold integer ticks
and lots.

Events are returned in the order they happened. Public ones (`BookLevelChanged`, `L3OrderEvent`,
`TradePrinted`) describe the market everyone sees; account ones (`ExecutionEvent`, `BalanceChanged`)
belong to one API key. Optional `ExecutionEvent` fields that are None are absent on the wire: the
facade fills only the fields Kraken sends for that `exec_type` (e.g. `new` is sparse), PROTOCOL.md 4.2.

Errors are Kraken's strings (PROTOCOL.md 4.10, 5.5), returned as `KrakenReject(error=...)`.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping, Sequence, Union

from kraken_runtime.core.kraken.messages import Ticker
from kraken_runtime.core.sim.flow import SymbolFlow
from kraken_runtime.core.sim.instruments import ASSETS, PROFILES, Asset, Instrument, MarketProfile, instrument_for
from kraken_runtime.core.sim.matching import ASK, BID, BookOrder, MatchResult, OrderBook

__all__ = [
    "SimModelConfig",
    "BookLevelChanged",
    "L3OrderEvent",
    "TradePrinted",
    "ExecutionEvent",
    "BalanceChanged",
    "MarketEvent",
    "TickerState",
    "KrakenReject",
    "AddOrderRequest",
    "AddOrderResult",
    "AmendOrderRequest",
    "AmendOrderResult",
    "CancelOrderResult",
    "CancelAllResult",
    "CancelAfterResult",
    "OrderView",
    "AccountTrade",
    "SimExchange",
    "VENUE_STATUSES",
    "ERR_INSUFFICIENT_FUNDS",
    "ERR_ORDER_MINIMUM",
    "ERR_COST_MINIMUM",
    "ERR_TICK_SIZE",
    "ERR_INVALID_PRICE",
    "ERR_INVALID_ARGUMENTS",
    "ERR_UNKNOWN_ORDER",
    "ERR_UNKNOWN_PAIR",
    "ERR_UNAVAILABLE",
    "ERR_CANCEL_ONLY",
    "ERR_POST_ONLY_MODE",
]

# Kraken's error strings (PROTOCOL.md 4.10 and 5.5).
ERR_INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
ERR_ORDER_MINIMUM = "EOrder:Order minimum not met"
ERR_COST_MINIMUM = "EOrder:Cost minimum not met"
ERR_TICK_SIZE = "EOrder:Tick size check failed"
ERR_INVALID_PRICE = "EOrder:Invalid price"
ERR_INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
ERR_UNKNOWN_ORDER = "EOrder:Unknown order"
ERR_UNKNOWN_PAIR = "EQuery:Unknown asset pair"
ERR_UNAVAILABLE = "EService:Unavailable"
ERR_CANCEL_ONLY = "EService:Market in cancel_only mode"
ERR_POST_ONLY_MODE = "EService:Market in post_only mode"

# Reasons carried by execution reports (PROTOCOL.md 4.2 "Observed reason strings").
REASON_USER = "User requested"
REASON_POST_ONLY = "Post only order"
REASON_DEAD_MAN = "CancelAllOrdersAfter Timeout"
# Not found in Kraken's documents; chosen by this simulator (see docs/SIM.md).
REASON_IOC = "Immediate or cancel"
REASON_FOK = "Fill or kill"
REASON_NO_LIQUIDITY = "No liquidity"
REASON_SELF_TRADE = "Self trade prevention"
REASON_AMEND_BELOW_FILLED = "Order quantity amended below filled quantity"

VENUE_STATUSES = ("online", "cancel_only", "post_only", "maintenance")


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SimModelConfig:
    """Knobs of the market model. Defaults give a realistic, busy market.

    rate_scale multiplies every symbol's event rate (the default total over the 20 USD majors is
    roughly 700 flow events/s, about 1,000+ book level changes/s); volatility_scale multiplies every
    symbol's volatility. book_levels_target is the depth each side is kept at (>= 1000 so a depth-1000
    subscription is always full); book_levels_max is where far levels get trimmed. warmup_s seconds of
    flow are simulated before `now_ns` at construction (events discarded) so the book, the trade
    history and the ticker start in a lived-in state.
    """

    rate_scale: float = 1.0
    volatility_scale: float = 1.0
    regime_mean_duration_s: float = 300.0
    regimes_enabled: bool = True
    book_levels_target: int = 1100
    book_levels_max: int = 1400
    warmup_s: float = 10.0
    recent_trades_kept: int = 1000
    profiles: Mapping[str, MarketProfile] | None = None  # per-symbol overrides of core.sim.instruments.PROFILES


# --------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BookLevelChanged:
    """An L2 level's new total quantity (qty == 0: the level is gone). side is 'bid' or 'ask'."""

    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class L3OrderEvent:
    """A level3 order event: 'add' (new resting order), 'modify' (visible qty changed, queue place kept),
    'delete' (filled or cancelled; order_qty is the qty it had). side is 'bid' or 'ask'.
    order_ts_ns is the order's own L3 timestamp (insert or amend time); ts_ns is when this happened."""

    symbol: str
    event: str
    order_id: str
    side: str
    limit_price: Decimal
    order_qty: Decimal
    order_ts_ns: int
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TradePrinted:
    """A public trade. side is the taker's ('buy'|'sell'); ord_type the taker's ('limit'|'market');
    trade_id an integer sequence per book."""

    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    ord_type: str
    trade_id: int
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionEvent:
    """One execution report for `account` (PROTOCOL.md 4.2). Fields left None are not sent.

    exec_type: pending_new | new | trade | filled | canceled | expired | amended | restated.
    order_status: pending_new | new | partially_filled | filled | canceled | expired.
    time_in_force is uppercase here (GTC | IOC | FOK) as Kraken sends it on executions.
    fee is in the quote currency (fee_asset, WS name e.g. 'USD'); fee_usd_equiv likewise.
    """

    account: str
    exec_type: str
    order_status: str
    order_id: str
    ts_ns: int
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    cl_ord_id: str | None = None
    order_userref: int | None = None
    order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    limit_price_type: str | None = None
    time_in_force: str | None = None
    post_only: bool | None = None
    fee_ccy_pref: str | None = None
    cum_qty: Decimal | None = None
    cum_cost: Decimal | None = None
    avg_price: Decimal | None = None
    exec_id: str | None = None
    trade_id: int | None = None
    last_qty: Decimal | None = None
    last_price: Decimal | None = None
    cost: Decimal | None = None
    liquidity_ind: str | None = None
    fee: Decimal | None = None
    fee_asset: str | None = None
    fee_usd_equiv: Decimal | None = None
    amended: bool | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceChanged:
    """One ledger entry (PROTOCOL.md 4.3 balances update). asset is the WS name ('BTC', 'USD');
    amount is gross and signed, fee separate; balance is the new total. ref_id is the trade's exec id."""

    account: str
    asset: str
    amount: Decimal
    fee: Decimal
    balance: Decimal
    ledger_id: str
    ref_id: str
    ledger_type: str
    ts_ns: int


MarketEvent = Union[BookLevelChanged, L3OrderEvent, TradePrinted, ExecutionEvent, BalanceChanged]


# Level-1 state as the ticker channel sends it: the protocol's own Ticker message (timestamps left unset).
# 24 h figures over a rolling window (seeded with a plausible history at construction); change is in quote
# currency, change_pct in percent (2 dp).
TickerState = Ticker


# --------------------------------------------------------------------------------------------------
# Requests and results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class KrakenReject:
    """A refused request, with Kraken's error string (e.g. 'EOrder:Insufficient funds')."""

    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AddOrderRequest:
    """A new order as the WS add_order / REST AddOrder carry it, already parsed.

    order_type 'limit' | 'market'; side 'buy' | 'sell'; time_in_force lowercase 'gtc' | 'ioc' | 'fok';
    limit_price required for limit orders; symbol in WS form ('BTC/USD'). The server maps REST names
    (pair=XBTUSD, oflags=post, timeinforce=IOC) onto this.
    """

    symbol: str
    side: str
    order_type: str
    order_qty: Decimal
    limit_price: Decimal | None = None
    time_in_force: str = "gtc"
    post_only: bool = False
    cl_ord_id: str | None = None
    order_userref: int | None = None
    validate: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AddOrderResult:
    """order_id is '' when the request only validated."""

    order_id: str
    cl_ord_id: str | None = None
    order_userref: int | None = None
    symbol: str = ""
    description: str = ""  # REST descr.order, e.g. "buy 1.25000000 XBTUSD @ limit 27500.0"


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendOrderRequest:
    """In-place amend (PROTOCOL.md 4.5): one of order_id / cl_ord_id; order_qty required."""

    order_qty: Decimal
    order_id: str | None = None
    cl_ord_id: str | None = None
    limit_price: Decimal | None = None
    post_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendOrderResult:
    amend_id: str
    order_id: str | None = None
    cl_ord_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrderResult:
    order_id: str
    cl_ord_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAllResult:
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAfterResult:
    """current_ns / trigger_ns for the camelCase currentTime / triggerTime (trigger_ns == 0: disabled)."""

    current_ns: int
    trigger_ns: int


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
        return self.status in ("pending_new", "new", "partially_filled")


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


# --------------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------------

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_MINUTE_NS = 60 * _NS
_ID_SPACE = 36**16
_ID_MULT = 0x9E3779B97F4A7C15 % _ID_SPACE  # odd and not a multiple of 3: a bijection of the id space
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SIDE_BOOK = ("bid", "ask")
_SIDE_TRADE = ("buy", "sell")
_OPEN_STATUSES = ("pending_new", "new", "partially_filled")
_USD_LIKE = ("USD", "USDT", "USDC")


class _IdGen:
    """Kraken-looking unique ids (e.g. OK4GJX-KSTLS-7DZZO5), deterministic per seed."""

    __slots__ = ("_n", "_offset")

    def __init__(self, seed: int) -> None:
        self._n = 0
        self._offset = (seed * 0x2545F4914F6CDD1D + 0x1234567) % _ID_SPACE

    def next(self, prefix: str) -> str:
        self._n += 1
        x = (self._n * _ID_MULT + self._offset) % _ID_SPACE
        chars = []
        for _ in range(16):
            x, r = divmod(x, 36)
            chars.append(_ALPHABET[r])
        s = "".join(chars)
        return f"{prefix}{s[:5]}-{s[5:10]}-{s[10:]}"


class _AccountOrder:
    __slots__ = (
        "order_id", "account", "symbol", "side", "order_type", "qty", "limit", "tif", "post_only",
        "cl_ord_id", "userref", "status", "cum_qty", "cum_cost", "fee", "opened_ns", "closed_ns",
        "reason", "amended", "trade_ids", "book_order",
    )

    def __init__(self, **kw) -> None:
        self.status = "pending_new"
        self.cum_qty = 0
        self.cum_cost = Decimal(0)
        self.fee = Decimal(0)
        self.closed_ns = None
        self.reason = None
        self.amended = False
        self.trade_ids: list[str] = []
        self.book_order: BookOrder | None = None
        for key, value in kw.items():
            setattr(self, key, value)


class _Account:
    __slots__ = ("api_key", "balances", "orders", "open", "closed", "trades", "dead_man_ns")

    def __init__(self, api_key: str, balances: dict[str, Decimal]) -> None:
        self.api_key = api_key
        self.balances = balances
        self.orders: dict[str, _AccountOrder] = {}
        self.open: dict[str, _AccountOrder] = {}
        self.closed: list[_AccountOrder] = []
        self.trades: list[AccountTrade] = []
        self.dead_man_ns = 0


class _TickerStats:
    """Rolling 24 h statistics in one-minute buckets, seeded with a synthetic prior day."""

    __slots__ = ("baseline", "baseline_until", "buckets", "volume", "notional", "low", "high", "last", "dirty")

    def __init__(self, *, start_ns: int, last: int, open_: int, low: int, high: int, volume: int, notional: int):
        self.baseline = (open_, low, high, volume, notional)
        self.baseline_until = start_ns + _DAY_NS
        self.buckets: deque[list[int]] = deque()  # [minute, volume, notional, low, high, open]
        self.volume = 0
        self.notional = 0
        self.low: int | None = None
        self.high: int | None = None
        self.last = last
        self.dirty = False

    def on_trade(self, ts_ns: int, price: int, lots: int) -> None:
        minute = ts_ns // _MINUTE_NS
        buckets = self.buckets
        if buckets and buckets[-1][0] == minute:
            b = buckets[-1]
            b[1] += lots
            b[2] += price * lots
            if price < b[3]:
                b[3] = price
            if price > b[4]:
                b[4] = price
        else:
            buckets.append([minute, lots, price * lots, price, price, price])
        self.volume += lots
        self.notional += price * lots
        if self.low is None or price < self.low:
            self.low = price
        if self.high is None or price > self.high:
            self.high = price
        self.last = price

    def evict(self, now_ns: int) -> None:
        horizon = (now_ns - _DAY_NS) // _MINUTE_NS
        buckets = self.buckets
        evicted = False
        while buckets and buckets[0][0] <= horizon:
            b = buckets.popleft()
            self.volume -= b[1]
            self.notional -= b[2]
            evicted = True
        if evicted:
            self.low = min((b[3] for b in buckets), default=None)
            self.high = max((b[4] for b in buckets), default=None)

    def summary(self, now_ns: int) -> tuple[int, int, int, int, int, int, int]:
        """(last, volume lots, notional, low, high, open) with the prior day while it lasts."""
        self.evict(now_ns)
        volume, notional, low, high = self.volume, self.notional, self.low, self.high
        if now_ns < self.baseline_until:
            open_, b_low, b_high, b_volume, b_notional = self.baseline
            volume += b_volume
            notional += b_notional
            low = b_low if low is None else min(low, b_low)
            high = b_high if high is None else max(high, b_high)
        else:
            open_ = self.buckets[0][5] if self.buckets else self.last
        if low is None:
            low = high = self.last
        return self.last, volume, notional, low, high, open_


class _SymbolMarket:
    """One symbol: its book, its flow, and the public events its changes produce."""

    def __init__(self, exchange: "SimExchange", instrument: Instrument, profile: MarketProfile, flow: SymbolFlow):
        self.x = exchange
        self.inst = instrument
        self.profile = profile
        self.flow = flow
        self.book = OrderBook()
        self.symbol = instrument.symbol
        self.pexp = -instrument.price_precision
        self.qexp = -instrument.qty_precision
        self.trade_seq = 0
        self.recent: deque[TradePrinted] = deque(maxlen=exchange._config.recent_trades_kept)
        self.stats: _TickerStats | None = None
        self.out: list = exchange._out
        self.emit_public = True

    # conversions
    def px(self, ticks: int) -> Decimal:
        return Decimal(ticks).scaleb(self.pexp)

    def qx(self, lots: int) -> Decimal:
        return Decimal(lots).scaleb(self.qexp)

    def _level_event(self, side: int, price: int, ts: int) -> None:
        if self.emit_public:
            self.out.append(
                BookLevelChanged(
                    symbol=self.symbol, side=_SIDE_BOOK[side], price=self.px(price),
                    qty=self.qx(self.book.level_qty(side, price)), ts_ns=ts,
                )
            )

    def _l3_event(self, event: str, order: BookOrder, qty: int, ts: int) -> None:
        if self.emit_public:
            self.out.append(
                L3OrderEvent(
                    symbol=self.symbol, event=event, order_id=order.order_id, side=_SIDE_BOOK[order.side],
                    limit_price=self.px(order.price), order_qty=self.qx(qty), order_ts_ns=order.ts_ns, ts_ns=ts,
                )
            )

    # book changes -----------------------------------------------------------------------------
    def rest(self, order: BookOrder, ts: int) -> None:
        self.book.add(order)
        self._l3_event("add", order, order.qty, ts)
        self._level_event(order.side, order.price, ts)

    def remove(self, order_id: str, ts: int) -> BookOrder | None:
        order = self.book.remove(order_id)
        if order is not None:
            self._l3_event("delete", order, order.qty, ts)
            self._level_event(order.side, order.price, ts)
        return order

    def take(self, side: int, qty: int, limit: int | None, ts: int, ord_type: str, taker: _AccountOrder | None) -> MatchResult:
        owner = taker.account if taker is not None else None
        result = self.book.match(side, qty, limit, owner)
        out = self.out
        stats = self.stats
        for fill in result.fills:
            self.trade_seq += 1
            trade_id = self.trade_seq
            trade = TradePrinted(
                symbol=self.symbol, side=_SIDE_TRADE[side], price=self.px(fill.price), qty=self.qx(fill.qty),
                ord_type=ord_type, trade_id=trade_id, ts_ns=ts,
            )
            self.recent.append(trade)
            if stats is not None:
                stats.on_trade(ts, fill.price, fill.qty)
            maker = fill.maker
            if self.emit_public:
                out.append(trade)
                if maker.qty == 0:
                    self._l3_event("delete", maker, fill.qty, ts)
                else:
                    self._l3_event("modify", maker, maker.qty, ts)
            if maker.ref is not None:
                self.x._account_fill(self, maker.ref, fill.price, fill.qty, trade_id, ts, maker=True)
            if taker is not None:
                self.x._account_fill(self, taker, fill.price, fill.qty, trade_id, ts, maker=False)
        for price in result.touched_prices:
            self._level_event(1 - side, price, ts)
        return result

    # MarketOps for the flow -------------------------------------------------------------------
    def flow_rest(self, side: int, price: int, qty: int, ts_ns: int, order_ts_ns: int | None = None) -> None:
        order = BookOrder(self.x._ids.next("O"), side, price, qty, ts_ns if order_ts_ns is None else order_ts_ns)
        self.rest(order, ts_ns)

    def flow_cancel(self, order_id: str, ts_ns: int) -> None:
        self.remove(order_id, ts_ns)

    def flow_take(self, side: int, qty: int, limit: int | None, ts_ns: int, rest_remainder: bool) -> None:
        result = self.take(side, qty, limit, ts_ns, "market" if limit is None else "limit", None)
        if rest_remainder and limit is not None and result.remaining > 0:
            self.flow_rest(side, limit, result.remaining, ts_ns)


def _parse_side(side: str) -> int | None:
    return {"buy": BID, "sell": ASK}.get(side)


# --------------------------------------------------------------------------------------------------
# The facade
# --------------------------------------------------------------------------------------------------


class SimExchange:
    """Markets, accounts and faults of the local Kraken-compatible exchange. Not thread-safe: the
    server serialises calls (one lock or one actor)."""

    def __init__(self, *, symbols: Sequence[str], seed: int, now_ns: int, config: SimModelConfig | None = None) -> None:
        self._config = config or SimModelConfig()
        cfg = self._config
        if not symbols:
            raise ValueError("at least one symbol")
        self._out: list = []
        self._ids = _IdGen(seed)
        self._seed = seed
        self._venue_status = "online"
        self._reject_orders: tuple[int, str] = (0, "")
        self._accounts: dict[str, _Account] = {}
        self._markets: dict[str, _SymbolMarket] = {}
        profiles = dict(PROFILES)
        if cfg.profiles:
            profiles.update(cfg.profiles)
        start_ns = now_ns - int(cfg.warmup_s * _NS)
        for index, name in enumerate(symbols):
            inst = instrument_for(name)
            if inst is None:
                raise ValueError(f"unknown symbol {name!r}")
            if inst.symbol in self._markets:
                continue
            profile = profiles[inst.symbol]
            flow = SymbolFlow(
                instrument=inst,
                profile=profile,
                seed=_symbol_seed(seed, inst.symbol),
                start_ns=start_ns,
                rate_scale=cfg.rate_scale,
                volatility_scale=cfg.volatility_scale,
                regime_mean_duration_s=cfg.regime_mean_duration_s,
                regimes_enabled=cfg.regimes_enabled,
                levels_target=cfg.book_levels_target,
                levels_max=cfg.book_levels_max,
            )
            market = _SymbolMarket(self, inst, profile, flow)
            market.stats = self._seed_stats(market, start_ns)
            flow.seed_book(market, start_ns)
            self._markets[inst.symbol] = market
        self._out.clear()
        self._heap = [(m.flow.next_ns, i, m) for i, m in enumerate(self._markets.values())]
        heapq.heapify(self._heap)
        self._now = start_ns
        for market in self._markets.values():
            market.emit_public = False
        self.step(now_ns)
        for market in self._markets.values():
            market.emit_public = True
        self._out.clear()

    def _seed_stats(self, market: _SymbolMarket, start_ns: int) -> _TickerStats:
        rng = market.flow.rng
        fair = market.flow.fair
        vol = market.profile.daily_volatility_pct / 100.0
        open_ = max(1, int(fair * (1.0 - rng.gauss(0.0, vol))))
        low = max(1, int(min(open_, fair) * (1.0 - abs(rng.gauss(0.0, vol / 2)))))
        high = int(max(open_, fair) * (1.0 + abs(rng.gauss(0.0, vol / 2)))) + 1
        volume_lots = int(market.profile.volume_24h_quote * rng.uniform(0.6, 1.4) / (fair * market.flow.tick) * market.flow.lots_per_unit)
        vwap = (low + high + open_ + int(fair)) // 4
        return _TickerStats(start_ns=start_ns, last=int(fair), open_=open_, low=low, high=high, volume=volume_lots, notional=volume_lots * vwap)

    # ---- reference data -----------------------------------------------------------------------

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        """The served instruments by WS symbol, in the order given."""
        return {s: m.inst for s, m in self._markets.items()}

    @property
    def assets(self) -> Mapping[str, Asset]:
        """Assets of the served instruments by WS name (BTC, USD)."""
        names = []
        for m in self._markets.values():
            names += [m.inst.base, m.inst.quote]
        return {n: ASSETS[n] for n in dict.fromkeys(names)}

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._markets)

    @property
    def now_ns(self) -> int:
        """The time the model has been advanced to."""
        return self._now

    @property
    def venue_status(self) -> str:
        """online | cancel_only | post_only | maintenance (SystemStatus / WS status / instrument)."""
        return self._venue_status

    def instrument(self, name: str) -> Instrument | None:
        """A served instrument by WS symbol, REST name, altname or REST wsname."""
        inst = instrument_for(name)
        return inst if inst is not None and inst.symbol in self._markets else None

    # ---- market ---------------------------------------------------------------------------------

    def step(self, now_ns: int) -> list[MarketEvent]:
        """Advance every symbol's flow to now_ns; return what happened, in time order (including
        dead man's switch cancels whose trigger time has passed). Calling with a time not after the
        last one returns []."""
        if now_ns <= self._now:
            return []
        heap = self._heap
        out = self._out
        while True:
            flow_ns = heap[0][0]
            dms_ns, dms_account = self._next_dead_man()
            if dms_account is not None and dms_ns <= flow_ns and dms_ns <= now_ns:
                dms_account.dead_man_ns = 0
                self._cancel_account_orders(dms_account, dms_ns, REASON_DEAD_MAN)
                continue
            if flow_ns > now_ns:
                break
            _, index, market = heap[0]
            market.flow.run_next(market)
            heapq.heapreplace(heap, (market.flow.next_ns, index, market))
        self._now = now_ns
        events = list(out)
        out.clear()
        return events

    def _next_dead_man(self) -> tuple[int, _Account | None]:
        if self._venue_status == "maintenance":
            return 0, None
        best: tuple[int, _Account | None] = (0, None)
        for account in self._accounts.values():
            if account.dead_man_ns and (best[1] is None or account.dead_man_ns < best[0]):
                best = (account.dead_man_ns, account)
        return best

    def _market(self, symbol: str) -> _SymbolMarket:
        market = self._markets.get(symbol)
        if market is None:
            inst = instrument_for(symbol)
            market = self._markets.get(inst.symbol) if inst is not None else None
        if market is None:
            raise KeyError(symbol)
        return market

    def book(self, symbol: str, depth: int) -> tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]:
        """(bids, asks), each best first, as (price, qty) at the pair's precision."""
        m = self._market(symbol)
        return tuple((m.px(p), m.qx(q)) for p, q in m.book.depth(BID, depth)), tuple(
            (m.px(p), m.qx(q)) for p, q in m.book.depth(ASK, depth)
        )

    def book_ticks(self, symbol: str, depth: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids, asks) best first as integers (price ticks, qty lots): price = ticks * 10**-price_precision,
        qty = lots * 10**-qty_precision. The cheap form of `book` for servers that diff views every tick."""
        m = self._market(symbol)
        return m.book.depth(BID, depth), m.book.depth(ASK, depth)

    def l3_book(self, symbol: str, depth: int) -> tuple[tuple[tuple[str, Decimal, Decimal, int], ...], tuple[tuple[str, Decimal, Decimal, int], ...]]:
        """(bids, asks): the orders of the best `depth` price levels, each as (order_id, limit_price,
        order_qty, timestamp_ns), in queue order within a level, best level first."""
        m = self._market(symbol)
        sides = []
        for side in (BID, ASK):
            rows = []
            for n, level in enumerate(m.book.iter_levels(side)):
                if n >= depth:
                    break
                price = m.px(level.price)
                rows.extend((o.order_id, price, m.qx(o.qty), o.ts_ns) for o in level.orders.values())
            sides.append(tuple(rows))
        return sides[0], sides[1]

    def ticker(self, symbol: str) -> TickerState:
        m = self._market(symbol)
        bid, ask = m.book.best(BID), m.book.best(ASK)
        last, volume, notional, low, high, open_ = m.stats.summary(self._now)
        pq = Decimal(1).scaleb(m.pexp)
        vwap = (Decimal(notional) / Decimal(volume)).scaleb(m.pexp).quantize(pq, ROUND_HALF_UP) if volume else m.px(last)
        change = last - open_
        change_pct = (Decimal(change) * 100 / Decimal(open_)).quantize(Decimal("0.01"), ROUND_HALF_UP) if open_ else Decimal("0.00")
        return TickerState(
            symbol=m.symbol,
            bid=m.px(bid or 0), bid_qty=m.qx(m.book.level_qty(BID, bid) if bid else 0),
            ask=m.px(ask or 0), ask_qty=m.qx(m.book.level_qty(ASK, ask) if ask else 0),
            last=m.px(last), volume=m.qx(volume), vwap=vwap, low=m.px(low), high=m.px(high),
            change=m.px(change), change_pct=change_pct,
        )

    def recent_trades(self, symbol: str, n: int) -> tuple[TradePrinted, ...]:
        """The last n public trades, oldest first."""
        recent = self._market(symbol).recent
        if n <= 0:
            return ()
        return tuple(recent)[-n:]

    # ---- accounts -----------------------------------------------------------------------------

    def create_account(self, api_key: str, balances: Mapping[str, Decimal]) -> None:
        """Create (or reset the balances of) an account. Asset names may be WS (BTC), REST (XXBT) or
        altname (XBT); they are stored under the WS name."""
        normalised: dict[str, Decimal] = {}
        for name, amount in balances.items():
            normalised[_asset_name(name)] = normalised.get(_asset_name(name), Decimal(0)) + Decimal(amount)
        account = self._accounts.get(api_key)
        if account is None:
            self._accounts[api_key] = _Account(api_key, normalised)
        else:
            account.balances = normalised

    def has_account(self, api_key: str) -> bool:
        return api_key in self._accounts

    def balances(self, api_key: str) -> dict[str, Decimal]:
        """Total balances by WS asset name (open-order holds not deducted)."""
        return dict(self._account(api_key).balances)

    def available_balances(self, api_key: str) -> dict[str, Decimal]:
        """Balances minus what open orders hold."""
        account = self._account(api_key)
        holds = self._holds(account)
        return {a: b - holds.get(a, Decimal(0)) for a, b in account.balances.items()}

    def _account(self, api_key: str) -> _Account:
        account = self._accounts.get(api_key)
        if account is None:
            raise KeyError(f"no account {api_key!r}")
        return account

    def _holds(self, account: _Account, exclude: _AccountOrder | None = None) -> dict[str, Decimal]:
        holds: dict[str, Decimal] = {}
        for order in account.open.values():
            if order is exclude or order.book_order is None:
                continue
            m = self._markets[order.symbol]
            remaining = order.qty - order.cum_qty
            if order.side == BID:
                amount = m.px(order.limit) * m.qx(remaining) * (1 + m.inst.taker_fee_pct / 100)
                holds[m.inst.quote] = holds.get(m.inst.quote, Decimal(0)) + amount
            else:
                holds[m.inst.base] = holds.get(m.inst.base, Decimal(0)) + m.qx(remaining)
        return holds

    def _available(self, account: _Account, asset: str, exclude: _AccountOrder | None = None) -> Decimal:
        return account.balances.get(asset, Decimal(0)) - self._holds(account, exclude).get(asset, Decimal(0))

    # ---- trading ------------------------------------------------------------------------------

    def add_order(self, api_key: str, request: AddOrderRequest, now_ns: int) -> tuple[AddOrderResult | KrakenReject, list[MarketEvent]]:
        """Place one order. Returns the result (or Kraken's error) and every event it caused:
        executions (pending_new, new, trade..., filled | canceled), balances, and the public book,
        level3 and trade events of its matching."""
        account = self._account(api_key)
        refused = self._refuse_new_order(request.post_only, request.order_type)
        if refused is None:
            refused = self._take_injected_reject()
        if refused is not None:
            return KrakenReject(error=refused), []
        checked = self._validate_add(account, request)
        if isinstance(checked, KrakenReject):
            return checked, []
        if request.validate:
            return AddOrderResult(order_id="", cl_ord_id=request.cl_ord_id, order_userref=request.order_userref,
                                  symbol=checked[0].symbol, description=self._describe(request, checked[0])), []
        result = self._place(account, request, checked, now_ns)
        events = list(self._out)
        self._out.clear()
        return result, events

    def batch_add(self, api_key: str, symbol: str, orders: Sequence[AddOrderRequest], now_ns: int, validate: bool = False) -> tuple[tuple[AddOrderResult | KrakenReject, ...] | KrakenReject, list[MarketEvent]]:
        """2 to 15 orders on one symbol. The batch is validated as a whole first (one invalid order
        rejects all); funding failures reject only that order (its slot holds a KrakenReject)."""
        account = self._account(api_key)
        if not 2 <= len(orders) <= 15:
            return KrakenReject(error=ERR_INVALID_ARGUMENTS), []
        requests = [_replace_symbol(o, symbol) for o in orders]
        for request in requests:
            refused = self._refuse_new_order(request.post_only, request.order_type)
            if refused is not None:
                return KrakenReject(error=refused), []
        refused = self._take_injected_reject()
        if refused is not None:
            return KrakenReject(error=refused), []
        checked_all = []
        for request in requests:
            checked = self._validate_add(account, request, check_funds=False)
            if isinstance(checked, KrakenReject):
                return checked, []
            checked_all.append(checked)
        if validate:
            return tuple(AddOrderResult(order_id="", cl_ord_id=r.cl_ord_id, order_userref=r.order_userref, symbol=c[0].symbol,
                                        description=self._describe(r, c[0])) for r, c in zip(requests, checked_all)), []
        results: list[AddOrderResult | KrakenReject] = []
        for request, checked in zip(requests, checked_all):
            funds = self._check_funds(account, checked[0], checked[1], checked[2], checked[3])
            if funds is not None:
                results.append(funds)
                continue
            results.append(self._place(account, request, checked, now_ns))
        events = list(self._out)
        self._out.clear()
        return tuple(results), events

    def _refuse_new_order(self, post_only: bool, order_type: str) -> str | None:
        status = self._venue_status
        if status == "maintenance":
            return ERR_UNAVAILABLE
        if status == "cancel_only":
            return ERR_CANCEL_ONLY
        if status == "post_only" and not (post_only and order_type == "limit"):
            return ERR_POST_ONLY_MODE
        return None

    def _take_injected_reject(self) -> str | None:
        count, error = self._reject_orders
        if count <= 0:
            return None
        self._reject_orders = (count - 1, error)
        return error

    def _validate_add(self, account: _Account, request: AddOrderRequest, check_funds: bool = True):
        """-> KrakenReject or (market, side, qty_lots, limit_ticks | None)."""
        inst = self.instrument(request.symbol)
        if inst is None:
            return KrakenReject(error=ERR_UNKNOWN_PAIR)
        m = self._markets[inst.symbol]
        side = _parse_side(request.side)
        if side is None or request.order_type not in ("limit", "market") or request.time_in_force not in ("gtc", "ioc", "fok"):
            return KrakenReject(error=ERR_INVALID_ARGUMENTS)
        if request.order_type == "limit":
            if request.limit_price is None:
                return KrakenReject(error=ERR_INVALID_ARGUMENTS)
        elif request.post_only or request.time_in_force == "fok" or request.limit_price is not None:
            return KrakenReject(error=ERR_INVALID_ARGUMENTS)
        if request.cl_ord_id is not None:
            if request.order_userref is not None or not (0 < len(request.cl_ord_id) <= 36):
                return KrakenReject(error=ERR_INVALID_ARGUMENTS)
            if any(o.cl_ord_id == request.cl_ord_id for o in account.open.values()):
                return KrakenReject(error=ERR_INVALID_ARGUMENTS)
        qty = request.order_qty
        if not isinstance(qty, Decimal) or not qty.is_finite() or qty <= 0 or qty % inst.qty_increment != 0:
            return KrakenReject(error=ERR_INVALID_ARGUMENTS)
        limit = None
        if request.limit_price is not None:
            price = request.limit_price
            if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
                return KrakenReject(error=ERR_INVALID_PRICE)
            if price % inst.price_increment != 0:
                return KrakenReject(error=ERR_TICK_SIZE)
            limit = int(price.scaleb(inst.price_precision))
        if qty < inst.qty_min:
            return KrakenReject(error=ERR_ORDER_MINIMUM)
        lots = int(qty.scaleb(inst.qty_precision))
        if limit is not None:
            cost = m.px(limit) * qty
        else:
            touch = m.book.best(ASK if side == BID else BID)
            cost = m.px(touch) * qty if touch is not None else None
        if cost is not None and cost < inst.cost_min:
            return KrakenReject(error=ERR_COST_MINIMUM)
        if check_funds:
            funds = self._check_funds(account, m, side, lots, limit)
            if funds is not None:
                return funds
        return m, side, lots, limit

    def _check_funds(self, account: _Account, m: _SymbolMarket, side: int, lots: int, limit: int | None,
                     exclude: _AccountOrder | None = None) -> KrakenReject | None:
        inst = m.inst
        if side == BID:
            if limit is not None:
                need = m.px(limit) * m.qx(lots)
            else:
                _, cost_units = m.book.cost_to_fill(BID, lots)
                need = Decimal(cost_units).scaleb(m.pexp + m.qexp)
            need *= 1 + inst.taker_fee_pct / 100
            if need > self._available(account, inst.quote, exclude):
                return KrakenReject(error=ERR_INSUFFICIENT_FUNDS)
        elif m.qx(lots) > self._available(account, inst.base, exclude):
            return KrakenReject(error=ERR_INSUFFICIENT_FUNDS)
        return None

    def _describe(self, request: AddOrderRequest, m: _SymbolMarket) -> str:
        qty = format(request.order_qty.quantize(m.inst.qty_increment), "f")
        if request.order_type == "limit":
            return f"{request.side} {qty} {m.inst.altname} @ limit {format(request.limit_price.quantize(m.inst.price_increment), 'f')}"
        return f"{request.side} {qty} {m.inst.altname} @ market"

    def _place(self, account: _Account, request: AddOrderRequest, checked, now_ns: int) -> AddOrderResult:
        m, side, lots, limit = checked
        order = _AccountOrder(
            order_id=self._ids.next("O"), account=account.api_key, symbol=m.symbol, side=side,
            order_type=request.order_type, qty=lots, limit=limit, tif=request.time_in_force,
            post_only=request.post_only, cl_ord_id=request.cl_ord_id, userref=request.order_userref, opened_ns=now_ns,
        )
        account.orders[order.order_id] = order
        account.open[order.order_id] = order
        result = AddOrderResult(order_id=order.order_id, cl_ord_id=request.cl_ord_id, order_userref=request.order_userref,
                                symbol=m.symbol, description=self._describe(request, m))
        out = self._out
        out.append(self._exec(order, "pending_new", now_ns, full=True))
        book = m.book
        crosses = limit is None or book.crosses(side, limit)
        if order.post_only and crosses:
            self._close(order, "canceled", now_ns, REASON_POST_ONLY)
            return result
        if order.tif == "fok" and book.fillable_qty(side, limit, lots, owner=account.api_key) < lots:
            self._close(order, "canceled", now_ns, REASON_FOK)
            return result
        order.status = "new"
        out.append(ExecutionEvent(account=account.api_key, exec_type="new", order_status="new", order_id=order.order_id,
                                  cl_ord_id=order.cl_ord_id, order_userref=order.userref, ts_ns=now_ns))
        self._execute(m, order, now_ns)
        return result

    def _execute(self, m: _SymbolMarket, order: _AccountOrder, now_ns: int) -> None:
        """Match an order's remainder as a taker, then rest it, or cancel what cannot rest."""
        remaining = order.qty - order.cum_qty
        self_trade = False
        if order.limit is None or m.book.crosses(order.side, order.limit):
            result = m.take(order.side, remaining, order.limit, now_ns, order.order_type, order)
            remaining = result.remaining
            self_trade = result.self_trade
        if remaining == 0 or order.status not in _OPEN_STATUSES:
            return
        if self_trade:
            self._close(order, "canceled", now_ns, REASON_SELF_TRADE)
        elif order.limit is None:
            self._close(order, "canceled", now_ns, REASON_NO_LIQUIDITY)
        elif order.tif in ("ioc", "fok"):
            self._close(order, "canceled", now_ns, REASON_IOC if order.tif == "ioc" else REASON_FOK)
        else:
            book_order = BookOrder(order.order_id, order.side, order.limit, remaining, now_ns, owner=order.account, ref=order)
            order.book_order = book_order
            m.rest(book_order, now_ns)

    def _account_fill(self, m: _SymbolMarket, order: _AccountOrder, price: int, lots: int, trade_id: int, ts: int, *, maker: bool) -> None:
        """Book one fill of an account's order: balances, fees, executions, ledger entries."""
        account = self._accounts[order.account]
        inst = m.inst
        qty = m.qx(lots)
        last_price = m.px(price)
        cost = last_price * qty
        pct = inst.maker_fee_pct if maker else inst.taker_fee_pct
        fee = (cost * pct / 100).quantize(Decimal(1).scaleb(-inst.cost_precision), ROUND_HALF_UP)
        exec_id = self._ids.next("T")
        balances = account.balances
        if order.side == BID:
            base_amount, quote_amount = qty, -cost
        else:
            base_amount, quote_amount = -qty, cost
        balances[inst.base] = balances.get(inst.base, Decimal(0)) + base_amount
        balances[inst.quote] = balances.get(inst.quote, Decimal(0)) + quote_amount - fee
        order.cum_qty += lots
        order.cum_cost += cost
        order.fee += fee
        order.trade_ids.append(exec_id)
        filled = order.cum_qty >= order.qty
        order.status = "filled" if filled else "partially_filled"
        account.trades.append(AccountTrade(
            exec_id=exec_id, trade_id=trade_id, order_id=order.order_id, cl_ord_id=order.cl_ord_id, symbol=m.symbol,
            rest_pair=inst.rest_name, side=_SIDE_TRADE[order.side], order_type=order.order_type, price=last_price,
            qty=qty, cost=cost, fee=fee, fee_asset=inst.quote, maker=maker, ts_ns=ts,
        ))
        usd_fee = fee if inst.quote in _USD_LIKE else None
        out = self._out
        out.append(ExecutionEvent(
            account=account.api_key, exec_type="trade", order_status=order.status, order_id=order.order_id, ts_ns=ts,
            symbol=m.symbol, side=_SIDE_TRADE[order.side], order_type=order.order_type, cl_ord_id=order.cl_ord_id,
            order_userref=order.userref, exec_id=exec_id, trade_id=trade_id, last_qty=qty, last_price=last_price,
            cost=cost, liquidity_ind="m" if maker else "t", fee=fee, fee_asset=inst.quote, fee_usd_equiv=usd_fee,
            cum_qty=m.qx(order.cum_qty), cum_cost=order.cum_cost, avg_price=self._avg_price(m, order),
        ))
        ledger_ref = exec_id
        out.append(BalanceChanged(account=account.api_key, asset=inst.base, amount=base_amount, fee=Decimal(0),
                                  balance=balances[inst.base], ledger_id=self._ids.next("L"), ref_id=ledger_ref,
                                  ledger_type="trade", ts_ns=ts))
        out.append(BalanceChanged(account=account.api_key, asset=inst.quote, amount=quote_amount, fee=fee,
                                  balance=balances[inst.quote], ledger_id=self._ids.next("L"), ref_id=ledger_ref,
                                  ledger_type="trade", ts_ns=ts))
        if filled:
            order.book_order = None
            self._finish(account, order, ts)
            out.append(self._exec(order, "filled", ts))

    def _avg_price(self, m: _SymbolMarket, order: _AccountOrder) -> Decimal:
        if order.cum_qty == 0:
            return Decimal(0)
        return (order.cum_cost / m.qx(order.cum_qty)).quantize(Decimal(1).scaleb(m.pexp), ROUND_HALF_UP)

    def _finish(self, account: _Account, order: _AccountOrder, ts: int) -> None:
        order.closed_ns = ts
        if account.open.pop(order.order_id, None) is not None:
            account.closed.append(order)

    def _close(self, order: _AccountOrder, status: str, ts: int, reason: str) -> None:
        """Cancel (or expire) an open order: out of the book, closed, and reported."""
        account = self._accounts[order.account]
        m = self._markets[order.symbol]
        if order.book_order is not None:
            m.remove(order.order_id, ts)
            order.book_order = None
        order.status = status
        order.reason = reason
        self._finish(account, order, ts)
        self._out.append(self._exec(order, status, ts))

    def _exec(self, order: _AccountOrder, exec_type: str, ts: int, *, full: bool = False) -> ExecutionEvent:
        m = self._markets[order.symbol]
        common = dict(account=order.account, exec_type=exec_type, order_status=order.status, order_id=order.order_id,
                      ts_ns=ts, cl_ord_id=order.cl_ord_id, order_userref=order.userref)
        if full:
            return ExecutionEvent(
                **common, symbol=m.symbol, side=_SIDE_TRADE[order.side], order_type=order.order_type,
                order_qty=m.qx(order.qty), limit_price=m.px(order.limit) if order.limit is not None else None,
                limit_price_type="static" if order.limit is not None else None,
                time_in_force=order.tif.upper(), post_only=order.post_only,
                fee_ccy_pref="fciq", cum_cost=order.cum_cost, fee_usd_equiv=Decimal(0),
            )
        usd_fee = order.fee if m.inst.quote in _USD_LIKE else None
        if exec_type == "amended":
            return ExecutionEvent(
                **common, order_qty=m.qx(order.qty), limit_price=m.px(order.limit) if order.limit is not None else None,
                limit_price_type="static", cum_qty=m.qx(order.cum_qty), amended=True, reason=REASON_USER,
                post_only=order.post_only,
            )
        return ExecutionEvent(
            **common, symbol=m.symbol, side=_SIDE_TRADE[order.side], cum_qty=m.qx(order.cum_qty),
            cum_cost=order.cum_cost, avg_price=self._avg_price(m, order), fee_usd_equiv=usd_fee, reason=order.reason,
        )

    def amend_order(self, api_key: str, request: AmendOrderRequest, now_ns: int) -> tuple[AmendOrderResult | KrakenReject, list[MarketEvent]]:
        """Amend qty and/or price in place (PROTOCOL.md 4.5). The order keeps its id; it keeps its queue
        place when only its quantity goes down; a price change or a larger quantity sends it to the back
        of its (new) level, matching first if the new price crosses (or rejecting the amend when
        post_only is set). A new quantity at or below the filled quantity cancels the remainder."""
        account = self._account(api_key)
        if self._venue_status == "maintenance":
            return KrakenReject(error=ERR_UNAVAILABLE), []
        if self._venue_status == "cancel_only":
            return KrakenReject(error=ERR_CANCEL_ONLY), []
        order = self._find_open(account, request.order_id, request.cl_ord_id)
        if order is None:
            return KrakenReject(error=ERR_UNKNOWN_ORDER), []
        m = self._markets[order.symbol]
        inst = m.inst
        qty = request.order_qty
        if not isinstance(qty, Decimal) or not qty.is_finite() or qty <= 0 or qty % inst.qty_increment != 0:
            return KrakenReject(error=ERR_INVALID_ARGUMENTS), []
        if qty < inst.qty_min:
            return KrakenReject(error=ERR_ORDER_MINIMUM), []
        new_lots = int(qty.scaleb(inst.qty_precision))
        new_limit = order.limit
        if request.limit_price is not None:
            if order.limit is None:
                return KrakenReject(error=ERR_INVALID_ARGUMENTS), []
            price = request.limit_price
            if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
                return KrakenReject(error=ERR_INVALID_PRICE), []
            if price % inst.price_increment != 0:
                return KrakenReject(error=ERR_TICK_SIZE), []
            new_limit = int(price.scaleb(inst.price_precision))
        if order.book_order is None:  # only resting limit orders can be amended
            return KrakenReject(error=ERR_UNKNOWN_ORDER), []
        price_changed = new_limit != order.limit
        if price_changed and (request.post_only or order.post_only) and m.book.crosses(order.side, new_limit):
            return KrakenReject(error=ERR_POST_ONLY_AMEND), []
        if new_lots > order.cum_qty:
            funds = self._check_funds(account, m, order.side, new_lots - order.cum_qty, new_limit, exclude=order)
            if funds is not None:
                return funds, []
        amend_id = self._ids.next("T")
        result = AmendOrderResult(amend_id=amend_id, order_id=order.order_id if request.order_id else None,
                                  cl_ord_id=order.cl_ord_id if request.cl_ord_id else None)
        out = self._out
        if new_lots <= order.cum_qty:
            order.qty = max(new_lots, order.cum_qty)
            order.amended = True
            self._close(order, "canceled", now_ns, REASON_AMEND_BELOW_FILLED)
        else:
            book_order = order.book_order
            new_remaining = new_lots - order.cum_qty
            order.qty = new_lots
            order.amended = True
            if request.post_only:
                order.post_only = True
            if not price_changed and new_remaining <= book_order.qty:
                if new_remaining < book_order.qty:
                    m.book.reduce(order.order_id, new_remaining)
                    book_order.ts_ns = now_ns
                    m._l3_event("modify", book_order, new_remaining, now_ns)
                    m._level_event(book_order.side, book_order.price, now_ns)
                out.append(self._exec(order, "amended", now_ns))
            else:
                m.remove(order.order_id, now_ns)
                order.book_order = None
                order.limit = new_limit
                out.append(self._exec(order, "amended", now_ns))
                self._execute(m, order, now_ns)
        events = list(out)
        out.clear()
        return result, events

    def _find_open(self, account: _Account, order_id: str | None, cl_ord_id: str | None) -> _AccountOrder | None:
        if order_id:
            return account.open.get(order_id)
        if cl_ord_id:
            for order in account.open.values():
                if order.cl_ord_id == cl_ord_id:
                    return order
        return None

    def cancel_order(self, api_key: str, now_ns: int, *, order_id: str | None = None, cl_ord_id: str | None = None) -> tuple[CancelOrderResult | KrakenReject, list[MarketEvent]]:
        """Cancel one open order by order_id or cl_ord_id; unknown or already closed -> EOrder:Unknown order."""
        account = self._account(api_key)
        if self._venue_status == "maintenance":
            return KrakenReject(error=ERR_UNAVAILABLE), []
        order = self._find_open(account, order_id, cl_ord_id)
        if order is None:
            return KrakenReject(error=ERR_UNKNOWN_ORDER), []
        self._close(order, "canceled", now_ns, REASON_USER)
        events = list(self._out)
        self._out.clear()
        return CancelOrderResult(order_id=order.order_id, cl_ord_id=order.cl_ord_id), events

    def cancel_all(self, api_key: str, now_ns: int) -> tuple[CancelAllResult | KrakenReject, list[MarketEvent]]:
        account = self._account(api_key)
        if self._venue_status == "maintenance":
            return KrakenReject(error=ERR_UNAVAILABLE), []
        count = self._cancel_account_orders(account, now_ns, REASON_USER)
        events = list(self._out)
        self._out.clear()
        return CancelAllResult(count=count), events

    def _cancel_account_orders(self, account: _Account, ts: int, reason: str) -> int:
        orders = list(account.open.values())
        for order in orders:
            self._close(order, "canceled", ts, reason)
        return len(orders)

    def cancel_all_orders_after(self, api_key: str, timeout_s: int, now_ns: int) -> tuple[CancelAfterResult | KrakenReject, list[MarketEvent]]:
        """Dead man's switch: cancel all of the account's orders timeout_s seconds from now unless
        called again; 0 disables. The cancel happens in the step() that passes the trigger time."""
        account = self._account(api_key)
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int) or not 0 <= timeout_s < 86400:
            return KrakenReject(error=ERR_INVALID_ARGUMENTS), []
        account.dead_man_ns = 0 if timeout_s == 0 else now_ns + timeout_s * _NS
        return CancelAfterResult(current_ns=now_ns, trigger_ns=account.dead_man_ns), []

    def dead_man_trigger_ns(self, api_key: str) -> int:
        """0 when the account's dead man's switch is off."""
        return self._account(api_key).dead_man_ns

    # ---- account queries ----------------------------------------------------------------------

    def _view(self, order: _AccountOrder) -> OrderView:
        m = self._markets[order.symbol]
        return OrderView(
            order_id=order.order_id, symbol=order.symbol, rest_pair=m.inst.rest_name, side=_SIDE_TRADE[order.side],
            order_type=order.order_type, order_qty=m.qx(order.qty),
            limit_price=m.px(order.limit) if order.limit is not None else None, time_in_force=order.tif,
            post_only=order.post_only, cl_ord_id=order.cl_ord_id, order_userref=order.userref, status=order.status,
            cum_qty=m.qx(order.cum_qty), cum_cost=order.cum_cost, fee=order.fee, avg_price=self._avg_price(m, order),
            opened_ns=order.opened_ns, closed_ns=order.closed_ns, reason=order.reason, amended=order.amended,
            trade_ids=tuple(order.trade_ids),
        )

    def open_orders(self, api_key: str) -> tuple[OrderView, ...]:
        """Open orders, oldest first."""
        return tuple(self._view(o) for o in self._account(api_key).open.values())

    def closed_orders(self, api_key: str) -> tuple[OrderView, ...]:
        """Closed orders (filled, canceled, expired), most recently closed first."""
        return tuple(self._view(o) for o in reversed(self._account(api_key).closed))

    def query_orders(self, api_key: str, order_ids: Sequence[str]) -> tuple[OrderView, ...]:
        """The named orders that exist (open or closed), in the order asked."""
        orders = self._account(api_key).orders
        return tuple(self._view(orders[i]) for i in order_ids if i in orders)

    def trades_history(self, api_key: str) -> tuple[AccountTrade, ...]:
        """The account's fills, most recent first."""
        return tuple(reversed(self._account(api_key).trades))

    # ---- faults -------------------------------------------------------------------------------

    def set_fault_price_shock(self, symbol: str, pct: float, seconds: float) -> None:
        """Move symbol's price by pct percent at its next flow event (the book is swept to the new
        level), hold it there for `seconds`, then sweep back."""
        if not -95 < pct < 1000 or seconds <= 0:
            raise ValueError("price_shock needs -95 < pct < 1000 and seconds > 0")
        self._market(symbol).flow.request_price_shock(float(pct), float(seconds))

    def set_fault_spread_blowout(self, symbol: str, factor: float, seconds: float) -> None:
        """Widen symbol's spread about `factor` times for `seconds`: quotes near the touch are pulled
        at the next flow event and new quotes stay outside the band until it ends."""
        if factor < 1 or seconds <= 0:
            raise ValueError("spread_blowout needs factor >= 1 and seconds > 0")
        self._market(symbol).flow.request_spread_blowout(float(factor), float(seconds))

    def set_fault_venue_status(self, status: str) -> None:
        """online | cancel_only | post_only | maintenance. Orders are refused with Kraken's strings;
        the flow freezes in maintenance and cancel_only and stops taking in post_only."""
        if status not in VENUE_STATUSES:
            raise ValueError(f"unknown venue status {status!r}")
        self._venue_status = status
        for market in self._markets.values():
            market.flow.mode = status

    def set_fault_reject_orders(self, count: int, error: str) -> None:
        """Refuse the next `count` add_order / batch_add calls with `error` (a Kraken error string)."""
        if count < 0 or not error:
            raise ValueError("reject_orders needs count >= 0 and an error string")
        self._reject_orders = (count, error)

    def clear_faults(self) -> None:
        """End every market fault, set the venue back online and drop pending injected rejects."""
        self.set_fault_venue_status("online")
        self._reject_orders = (0, "")
        for market in self._markets.values():
            market.flow.clear_faults()

    def active_faults(self) -> dict[str, object]:
        """What is in force now (for GET /faults and tests)."""
        faults: dict[str, object] = {}
        if self._venue_status != "online":
            faults["venue_status"] = self._venue_status
        if self._reject_orders[0] > 0:
            faults["reject_orders"] = {"count": self._reject_orders[0], "error": self._reject_orders[1]}
        for symbol, market in self._markets.items():
            flow = market.flow
            if flow.pending_shock or flow.shock_until_ns > self._now:
                faults.setdefault("price_shock", []).append(symbol)
            if flow.pending_blowout or flow.blowout_until_ns > self._now:
                faults.setdefault("spread_blowout", []).append(symbol)
        return faults

    def regime(self, symbol: str) -> str:
        """The volatility regime the symbol's price process is in (calm | normal | volatile)."""
        from kraken_runtime.core.sim.flow import REGIMES

        return REGIMES[self._market(symbol).flow.regime][0]


ERR_POST_ONLY_AMEND = "EOrder:Post only order"  # not documented by Kraken; see docs/SIM.md


def _symbol_seed(seed: int, symbol: str) -> int:
    h = 1469598103934665603
    for ch in f"{seed}:{symbol}".encode():
        h = ((h ^ ch) * 1099511628211) % (1 << 64)
    return h


def _asset_name(name: str) -> str:
    if name in ASSETS:
        return name
    for asset in ASSETS.values():
        if name in (asset.rest_name, asset.altname):
            return asset.name
    return name


def _replace_symbol(request: AddOrderRequest, symbol: str) -> AddOrderRequest:
    from dataclasses import replace

    return replace(request, symbol=symbol)
