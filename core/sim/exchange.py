"""The local exchange's market and trading model: the facade the sim server uses.

`SimExchange` owns, per symbol, a price-time-priority order book fed by a seeded order-flow generator
(core/sim/symbol_market.py, matching.py, flow.py), plus the accounts of API users whose orders rest in
the same books (core/sim/orders.py). It is pure: no clock reads, no threads, no I/O. Time is passed in
as integer nanoseconds and the same seed plus the same sequence of calls gives the same events.

The parts: api.py (knobs, requests, results, Kraken's error strings), events.py (what a call reports),
accounts.py (account records and views), validation.py (order checks and funds), orders.py (placing,
fills, amend, cancel, dead man's switch), ticker_stats.py (rolling 24 h figures), faults.py (fault
knobs), ids.py (Kraken-looking ids).

Every price and size crossing this API is a Decimal at exactly the instrument's precision; internally
books hold integer ticks and lots. Each trading call returns its result and the events it caused, in
the order they happened.
"""

from __future__ import annotations

import heapq
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping, Sequence

from kraken_runtime.core.sim.accounts import Account, AccountTrade, OrderView, asset_name
from kraken_runtime.core.sim.api import (
    ERR_CANCEL_ONLY,
    ERR_INVALID_ARGUMENTS,
    ERR_UNAVAILABLE,
    ERR_UNKNOWN_ORDER,
    REASON_DEAD_MAN,
    REASON_USER,
    AddOrderRequest,
    AmendOrderRequest,
    AmendOrderResult,
    CancelAfterResult,
    CancelAllResult,
    EditOrderResult,
    EngineAddOrderResult,
    EngineCancelOrderResult,
    OHLC_INTERVALS_MIN,
    KrakenReject,
    OhlcBar,
    SimModelConfig,
)
from kraken_runtime.core.sim.events import BalanceChanged, EventLog, MarketEvent, TickerState, TradePrinted
from kraken_runtime.core.sim.faults import FaultKnobs
from kraken_runtime.core.sim.flow import REGIMES, SymbolFlow
from kraken_runtime.core.sim.script import MarketScript, parse_script
from kraken_runtime.core.sim.ids import IdGen
from kraken_runtime.core.sim.instruments import ASSETS, PROFILES, Asset, Instrument, instrument_for
from kraken_runtime.core.sim.matching import ASK, BID
from kraken_runtime.core.sim.orders import USD_LIKE, OrderEngine, with_symbol
from kraken_runtime.core.sim.symbol_market import SymbolMarket
from kraken_runtime.core.sim.ticker_stats import TickerStats
from kraken_runtime.core.sim.validation import CheckedOrder, available, check_funds, describe, holds, validate_add

__all__ = ["SimExchange"]

NS = 1_000_000_000


class SimExchange:
    """Markets, accounts and faults of the local Kraken-compatible exchange. Not thread-safe: the
    server serialises calls (one lock or one actor)."""

    def __init__(self, *, symbols: Sequence[str], seed: int, now_ns: int, config: SimModelConfig | None = None) -> None:
        self._config = config or SimModelConfig()
        cfg = self._config
        if not symbols:
            raise ValueError("at least one symbol")
        self._log = EventLog()
        self._ids = IdGen(seed)
        self._seed = seed
        self._markets: dict[str, SymbolMarket] = {}
        self._orders = OrderEngine(markets=self._markets, ids=self._ids, log=self._log)
        self._faults = FaultKnobs(self._markets)
        profiles = dict(PROFILES)
        if cfg.profiles:
            profiles.update(cfg.profiles)
        start_ns = now_ns - int(cfg.warmup_s * NS)
        for name in symbols:
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
            market = SymbolMarket(instrument=inst, profile=profile, flow=flow, log=self._log, ids=self._ids,
                                  on_fill=self._orders.on_fill, recent_trades_kept=cfg.recent_trades_kept)
            market.stats = _seed_stats(market, start_ns)
            flow.seed_book(market, start_ns)
            self._markets[inst.symbol] = market
        self._log.clear()
        self._heap = [(m.flow.next_ns, i, m) for i, m in enumerate(self._markets.values())]
        heapq.heapify(self._heap)
        self._now = start_ns
        self._log.public = False
        self.step(now_ns)
        self._log.public = True
        self._log.clear()

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
        return self._faults.venue_status

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
        orders = self._orders
        while True:
            flow_ns = heap[0][0]
            dms_ns, dms_account = (0, None) if self._faults.venue_status == "maintenance" else orders.next_dead_man()
            if dms_account is not None and dms_ns <= flow_ns and dms_ns <= now_ns:
                dms_account.dead_man_ns = 0
                orders.cancel_account_orders(dms_account, dms_ns, REASON_DEAD_MAN)
                continue
            if flow_ns > now_ns:
                break
            _, index, market = heap[0]
            market.flow.run_next(market)
            heapq.heapreplace(heap, (market.flow.next_ns, index, market))
        self._now = now_ns
        return self._log.drain()

    def _market(self, symbol: str) -> SymbolMarket:
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
        sides: list[tuple[tuple[str, Decimal, Decimal, int], ...]] = []
        for side in (BID, ASK):
            rows: list[tuple[str, Decimal, Decimal, int]] = []
            for n, level in enumerate(m.book.iter_levels(side)):
                if n >= depth:
                    break
                price = m.px(level.price)
                rows.extend((o.order_id, price, m.qx(o.qty), o.ts_ns) for o in level.orders.values())
            sides.append(tuple(rows))
        return sides[0], sides[1]

    def ticker(self, symbol: str) -> TickerState:
        m = self._market(symbol)
        stats = _stats(m)
        bid, ask = m.book.best(BID), m.book.best(ASK)
        last, volume, notional, low, high, open_ = stats.summary(self._now)
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

    def ohlc(self, symbol: str, interval_min: int) -> tuple[OhlcBar, ...]:
        """Candles of `interval_min` minutes over the last 24 h of trading this model has seen (intervals
        without trades are left out), oldest first; the last one is still forming."""
        if interval_min not in OHLC_INTERVALS_MIN:
            raise ValueError(f"interval must be one of {OHLC_INTERVALS_MIN}")
        m = self._market(symbol)
        span_ns = interval_min * 60 * NS
        grouped: dict[int, list[tuple[int, int, int, int, int, int, int, int]]] = {}
        for bar in _stats(m).minute_bars(self._now):
            grouped.setdefault(bar[0] - bar[0] % span_ns, []).append(bar)
        out = []
        for begin, bars in grouped.items():
            volume = sum(b[5] for b in bars)
            notional = sum(b[6] for b in bars)
            vwap = (Decimal(notional) / Decimal(volume)).scaleb(m.pexp).quantize(Decimal(1).scaleb(m.pexp), ROUND_HALF_UP) \
                if volume else Decimal(0)
            out.append(OhlcBar(begin_ns=begin, interval_min=interval_min, open=m.px(bars[0][1]),
                               high=m.px(max(b[2] for b in bars)), low=m.px(min(b[3] for b in bars)),
                               close=m.px(bars[-1][4]), vwap=vwap, volume=m.qx(volume),
                               count=sum(b[7] for b in bars)))
        return tuple(out)

    def spread(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """(best bid, best ask) now, or None while a side is empty."""
        m = self._market(symbol)
        bid, ask = m.book.best(BID), m.book.best(ASK)
        if bid is None or ask is None:
            return None
        return m.px(bid), m.px(ask)

    def regime(self, symbol: str) -> str:
        """The volatility regime the symbol's price process is in (calm | normal | volatile)."""
        return REGIMES[self._market(symbol).flow.regime][0]

    # ---- accounts -----------------------------------------------------------------------------

    def create_account(self, api_key: str, balances: Mapping[str, Decimal]) -> None:
        """Create (or reset the balances of) an account. Asset names may be WS (BTC), REST (XXBT) or
        altname (XBT); they are stored under the WS name."""
        normalised: dict[str, Decimal] = {}
        for name, amount in balances.items():
            normalised[asset_name(name)] = normalised.get(asset_name(name), Decimal(0)) + Decimal(amount)
        account = self._orders.accounts.get(api_key)
        if account is None:
            self._orders.accounts[api_key] = Account(api_key, normalised)
        else:
            account.balances = normalised

    def has_account(self, api_key: str) -> bool:
        return api_key in self._orders.accounts

    def balances(self, api_key: str) -> dict[str, Decimal]:
        """Total balances by WS asset name (open-order holds not deducted)."""
        return dict(self._orders.account(api_key).balances)

    def holds(self, api_key: str) -> dict[str, Decimal]:
        """What open orders hold, by WS asset name (a buy: its cost plus the taker fee; a sell: its quantity)."""
        return holds(self._markets, self._orders.account(api_key))

    def volume_usd(self, api_key: str, since_ns: int) -> Decimal:
        """The account's traded value since since_ns in USD-like quote currencies (USD, USDT, USDC)."""
        return sum((t.cost for t in self._orders.account(api_key).trades
                    if t.ts_ns >= since_ns and t.fee_asset in USD_LIKE), Decimal(0))

    def available_balances(self, api_key: str) -> dict[str, Decimal]:
        """Balances minus what open orders hold."""
        account = self._orders.account(api_key)
        return {a: available(self._markets, account, a) for a in account.balances}

    # ---- trading ------------------------------------------------------------------------------

    def add_order(self, api_key: str, request: AddOrderRequest,
                  now_ns: int) -> tuple[EngineAddOrderResult | KrakenReject, list[MarketEvent]]:
        """Place one order. Returns the result (or Kraken's error) and every event it caused:
        executions (pending_new, new, trade..., filled | canceled), balances, and the public book,
        level3 and trade events of its matching."""
        account = self._orders.account(api_key)
        refused = self._faults.refuse_new_order(request.post_only, request.order_type)
        if refused is None:
            refused = self._faults.take_injected_reject()
        if refused is not None:
            return KrakenReject(error=refused), []
        checked = validate_add(self._markets, account, request)
        if isinstance(checked, KrakenReject):
            return checked, []
        if request.validate:
            return self._validated(request, checked), []
        result = self._orders.place(account, request, checked, now_ns)
        return result, self._log.drain()

    def batch_add(self, api_key: str, symbol: str, orders: Sequence[AddOrderRequest], now_ns: int,
                  validate: bool = False) -> tuple[tuple[EngineAddOrderResult | KrakenReject, ...] | KrakenReject, list[MarketEvent]]:
        """2 to 15 orders on one symbol. The batch is validated as a whole first (one invalid order
        rejects all); funding failures reject only that order (its slot holds a KrakenReject)."""
        account = self._orders.account(api_key)
        if not 2 <= len(orders) <= 15:
            return KrakenReject(error=ERR_INVALID_ARGUMENTS), []
        requests = with_symbol(orders, symbol)
        for request in requests:
            refused = self._faults.refuse_new_order(request.post_only, request.order_type)
            if refused is not None:
                return KrakenReject(error=refused), []
        refused = self._faults.take_injected_reject()
        if refused is not None:
            return KrakenReject(error=refused), []
        checked_all: list[CheckedOrder] = []
        for request in requests:
            checked = validate_add(self._markets, account, request, check_funds_now=False)
            if isinstance(checked, KrakenReject):
                return checked, []
            checked_all.append(checked)
        if validate:
            return tuple(self._validated(r, c) for r, c in zip(requests, checked_all)), []
        results: list[EngineAddOrderResult | KrakenReject] = []
        for request, checked in zip(requests, checked_all):
            funds = check_funds(self._markets, account, *checked)
            if funds is not None:
                results.append(funds)
                continue
            results.append(self._orders.place(account, request, checked, now_ns))
        return tuple(results), self._log.drain()

    @staticmethod
    def _validated(request: AddOrderRequest, checked: CheckedOrder) -> EngineAddOrderResult:
        return EngineAddOrderResult(order_id="", cl_ord_id=request.cl_ord_id, order_userref=request.order_userref,
                                    symbol=checked.market.symbol, description=describe(request, checked.market))

    def amend_order(self, api_key: str, request: AmendOrderRequest,
                    now_ns: int) -> tuple[AmendOrderResult | KrakenReject, list[MarketEvent]]:
        """Amend qty and/or price in place (PROTOCOL.md 4.5); see OrderEngine.amend."""
        account = self._orders.account(api_key)
        if self.venue_status == "maintenance":
            return KrakenReject(error=ERR_UNAVAILABLE), []
        if self.venue_status == "cancel_only":
            return KrakenReject(error=ERR_CANCEL_ONLY), []
        result = self._orders.amend(account, request, now_ns)
        return result, self._log.drain()

    def edit_order(self, api_key: str, now_ns: int, *, order_id: str | None = None, cl_ord_id: str | None = None,
                   order_qty: Decimal | None = None, limit_price: Decimal | None = None,
                   post_only: bool | None = None, order_userref: int | None = None,
                   validate: bool = False) -> tuple[EditOrderResult | KrakenReject, list[MarketEvent]]:
        """Cancel-and-replace an open limit order (REST EditOrder, WS edit_order): a new order id, the
        back of the queue. Omitted fields keep the original's values (quantity: its remainder)."""
        account = self._orders.account(api_key)
        if self.venue_status == "maintenance":
            return KrakenReject(error=ERR_UNAVAILABLE), []
        if self.venue_status == "cancel_only":
            return KrakenReject(error=ERR_CANCEL_ONLY), []
        order = self._orders.find_open(account, order_id, cl_ord_id)
        if order is None:
            return KrakenReject(error=ERR_UNKNOWN_ORDER), []
        refused = self._faults.refuse_new_order(order.post_only if post_only is None else post_only, order.order_type)
        if refused is not None:
            return KrakenReject(error=refused), []
        result = self._orders.edit(account, order, order_qty=order_qty, limit_price=limit_price, post_only=post_only,
                                   order_userref=order_userref, validate=validate, now_ns=now_ns)
        return result, self._log.drain()

    def cancel_order(self, api_key: str, now_ns: int, *, order_id: str | None = None,
                     cl_ord_id: str | None = None) -> tuple[EngineCancelOrderResult | KrakenReject, list[MarketEvent]]:
        """Cancel one open order by order_id or cl_ord_id; unknown or already closed -> EOrder:Unknown order."""
        account = self._orders.account(api_key)
        if self.venue_status == "maintenance":
            return KrakenReject(error=ERR_UNAVAILABLE), []
        order = self._orders.find_open(account, order_id, cl_ord_id)
        if order is None:
            return KrakenReject(error=ERR_UNKNOWN_ORDER), []
        self._orders.close(order, "canceled", now_ns, REASON_USER)
        return EngineCancelOrderResult(order_id=order.order_id, cl_ord_id=order.cl_ord_id), self._log.drain()

    def cancel_all(self, api_key: str, now_ns: int) -> tuple[CancelAllResult | KrakenReject, list[MarketEvent]]:
        account = self._orders.account(api_key)
        if self.venue_status == "maintenance":
            return KrakenReject(error=ERR_UNAVAILABLE), []
        count = self._orders.cancel_account_orders(account, now_ns, REASON_USER)
        return CancelAllResult(count=count), self._log.drain()

    def cancel_all_orders_after(self, api_key: str, timeout_s: int,
                                now_ns: int) -> tuple[CancelAfterResult | KrakenReject, list[MarketEvent]]:
        """Dead man's switch: cancel all of the account's orders timeout_s seconds from now unless
        called again; 0 disables. The cancel happens in the step() that passes the trigger time."""
        account = self._orders.account(api_key)
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int) or not 0 <= timeout_s < 86400:
            return KrakenReject(error=ERR_INVALID_ARGUMENTS), []
        account.dead_man_ns = 0 if timeout_s == 0 else now_ns + timeout_s * NS
        return CancelAfterResult(current_ns=now_ns, trigger_ns=account.dead_man_ns), []

    def dead_man_trigger_ns(self, api_key: str) -> int:
        """0 when the account's dead man's switch is off."""
        return self._orders.account(api_key).dead_man_ns

    # ---- account queries ----------------------------------------------------------------------

    def open_orders(self, api_key: str) -> tuple[OrderView, ...]:
        """Open orders, oldest first."""
        return tuple(self._orders.view(o) for o in self._orders.account(api_key).open.values())

    def closed_orders(self, api_key: str) -> tuple[OrderView, ...]:
        """Closed orders (filled, canceled, expired), most recently closed first."""
        return tuple(self._orders.view(o) for o in reversed(self._orders.account(api_key).closed))

    def query_orders(self, api_key: str, order_ids: Sequence[str]) -> tuple[OrderView, ...]:
        """The named orders that exist (open or closed), in the order asked."""
        orders = self._orders.account(api_key).orders
        return tuple(self._orders.view(orders[i]) for i in order_ids if i in orders)

    def trades_history(self, api_key: str) -> tuple[AccountTrade, ...]:
        """The account's fills, most recent first."""
        return tuple(reversed(self._orders.account(api_key).trades))

    def ledger(self, api_key: str) -> tuple[BalanceChanged, ...]:
        """The account's ledger entries, most recent first."""
        return tuple(reversed(self._orders.account(api_key).ledger))

    # ---- faults -------------------------------------------------------------------------------

    def set_fault_price_shock(self, symbol: str, pct: float, seconds: float) -> None:
        """Move symbol's price by pct percent at its next flow event (the book is swept to the new
        level), hold it there for `seconds`, then sweep back."""
        self._faults.price_shock(self._market(symbol), pct, seconds)

    def set_fault_spread_blowout(self, symbol: str, factor: float, seconds: float) -> None:
        """Widen symbol's spread about `factor` times for `seconds`: quotes near the touch are pulled
        at the next flow event and new quotes stay outside the band until it ends."""
        self._faults.spread_blowout(self._market(symbol), factor, seconds)

    def set_fault_venue_status(self, status: str) -> None:
        """online | cancel_only | post_only | maintenance. Orders are refused with Kraken's strings;
        the flow freezes in maintenance and cancel_only and stops taking in post_only."""
        self._faults.set_venue_status(status)

    def set_fault_reject_orders(self, count: int, error: str) -> None:
        """Refuse the next `count` add_order / batch_add calls with `error` (a Kraken error string)."""
        self._faults.reject_orders(count, error)

    def clear_faults(self) -> None:
        """End every market fault, set the venue back online and drop pending injected rejects."""
        self._faults.clear()

    def active_faults(self) -> dict[str, object]:
        """What is in force now (for GET /faults and tests)."""
        return self._faults.active(self._now)

    # ---- scripted market (core/sim/script.py) ------------------------------------------------------

    def set_market_script(self, spec: object) -> tuple[str, MarketScript]:
        """Drive a symbol through scripted phases from now (ScriptError, or KeyError for an unknown
        symbol); replaces the symbol's previous script."""
        symbol, script = parse_script(spec, start_ns=self._now)
        self._market(symbol).flow.script = script
        return symbol, script

    def clear_market_scripts(self) -> list[str]:
        cleared = [s for s, m in self._markets.items() if m.flow.script is not None]
        for symbol in cleared:
            self._markets[symbol].flow.script = None
        return cleared

    def market_scripts(self) -> dict[str, object]:
        """The scripts still running, by symbol (for GET /admin/script)."""
        return {s: m.flow.script.listing(self._now) for s, m in self._markets.items()
                if m.flow.script is not None and not m.flow.script.finished(self._now)}


def _stats(m: SymbolMarket) -> TickerStats:
    stats = m.stats
    if stats is None:  # set at construction, before any query can reach the market
        raise RuntimeError(f"{m.symbol} has no ticker statistics")
    return stats


def _seed_stats(market: SymbolMarket, start_ns: int) -> TickerStats:
    rng = market.flow.rng
    fair = market.flow.fair
    vol = market.profile.daily_volatility_pct / 100.0
    open_ = max(1, int(fair * (1.0 - rng.gauss(0.0, vol))))
    low = max(1, int(min(open_, fair) * (1.0 - abs(rng.gauss(0.0, vol / 2)))))
    high = int(max(open_, fair) * (1.0 + abs(rng.gauss(0.0, vol / 2)))) + 1
    volume_lots = int(market.profile.volume_24h_quote * rng.uniform(0.6, 1.4) / (fair * market.flow.tick) * market.flow.lots_per_unit)
    vwap = (low + high + open_ + int(fair)) // 4
    return TickerStats(start_ns=start_ns, last=int(fair), open_=open_, low=low, high=high, volume=volume_lots,
                       notional=volume_lots * vwap)


def _symbol_seed(seed: int, symbol: str) -> int:
    h = 1469598103934665603
    for ch in f"{seed}:{symbol}".encode():
        h = ((h ^ ch) * 1099511628211) % (1 << 64)
    return h
