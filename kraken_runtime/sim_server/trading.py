"""The trading side shared by REST and authenticated WS: accounts, tokens, limits and faults in front
of the exchange model's order methods.

Kraken's limits are modelled with core.kraken.ratelimit: the REST call counter per API key
(`EAPI:Rate limit exceeded`) and the per-pair trading rate counter per account
(`EOrder:Rate limit exceeded`). Faults: reject_orders, rate_limit, venue_status.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

from kraken_runtime.core.kraken import ratelimit
from kraken_runtime.core.kraken.signing import sign
from kraken_runtime.core.sim.api import (
    AddOrderRequest,
    AmendOrderRequest,
    KrakenReject,
)
from kraken_runtime.core.sim.exchange import SimExchange
from kraken_runtime.sim_server.faults import FaultBoard

NS = 1_000_000_000
ERR_INVALID_KEY = "EAPI:Invalid key"
ERR_INVALID_SIGNATURE = "EAPI:Invalid signature"
ERR_INVALID_NONCE = "EAPI:Invalid nonce"
ERR_REST_RATE = "EAPI:Rate limit exceeded"
ERR_TRADE_RATE = "EOrder:Rate limit exceeded"
ERR_ORDERS_LIMIT = "EOrder:Orders limit exceeded"
ERR_UNAVAILABLE = "EService:Unavailable"
ERR_CANCEL_ONLY = "EService:Market in cancel_only mode"
ERR_POST_ONLY = "EService:Market in post_only mode"
ERR_INVALID_TOKEN = "EAPI:Invalid token"
ERR_UNKNOWN_PAIR = "EQuery:Unknown asset pair"
ERR_UNKNOWN_ORDER = "EOrder:Unknown order"
ERR_INVALID_ARGS = "EGeneral:Invalid arguments"
TRADING_ENDPOINTS = ("AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder", "CancelOrder", "CancelOrderBatch")


def new_api_secret() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode()


@dataclass
class Credentials:
    api_key: str
    api_secret: str  # base64, as Kraken hands it out
    rest_counter: ratelimit.RestCallCounter
    last_nonce: int = 0


@dataclass
class TokenRegistry:
    """WebSocket tokens: valid for `ttl_s` after issue unless used (then they do not expire)."""

    ttl_s: float = 900.0
    tokens: dict[str, tuple[str, int, bool]] = field(default_factory=dict)  # token -> (key, issued, used)

    def issue(self, api_key: str, now_ns: int) -> str:
        token = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        self.tokens[token] = (api_key, now_ns, False)
        if len(self.tokens) > 10_000:  # bounded: forget the oldest
            for old in list(self.tokens)[:1000]:
                del self.tokens[old]
        return token

    def account(self, token: str, now_ns: int) -> str | None:
        entry = self.tokens.get(token)
        if entry is None:
            return None
        key, issued, used = entry
        if not used and now_ns - issued > self.ttl_s * NS:
            return None
        return key

    def use(self, token: str, now_ns: int) -> bool:
        key = self.account(token, now_ns)
        if key is None:
            return False
        self.tokens[token] = (key, self.tokens[token][1], True)
        return True


Outcome = tuple  # (result | KrakenReject, events): what every order method returns


class Trading:
    """Accounts, credentials, tokens and Kraken's limits in front of the exchange model.

    Every order method returns `(result or KrakenReject, events)` like core.sim.exchange.SimExchange does;
    the caller answers the request, then hands the events to the hub (`Hub.absorb`) so executions,
    balances and the public book go out at once.
    """

    def __init__(self, exchange: SimExchange, faults: FaultBoard, credentials: dict[str, str], *,
                 rest_tier: "str | ratelimit.RestTier" = "intermediate", trading_tier: str = "intermediate",
                 token_ttl_s: float = 900.0, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.exchange = exchange
        self.faults = faults
        self.clock_ns = clock_ns
        self.credentials = {key: Credentials(key, secret, ratelimit.RestCallCounter(rest_tier))
                            for key, secret in credentials.items()}
        self.trading_tier = trading_tier
        self.trade_counters: dict[str, ratelimit.TradingRateCounter] = {}
        self.tokens = TokenRegistry(token_ttl_s)

    @property
    def max_rate_count(self) -> int:
        return int(ratelimit.TRADING_TIERS[self.trading_tier].threshold)

    # ------------------------------------------------------------------ authentication

    def authenticate_rest(self, path: str, headers: dict[str, str], body: bytes,
                          form: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(api_key, None) or (None, Kraken error) for a private REST request.

        API-Sign = base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body))) over the exact
        body bytes (form-encoded, or JSON with the nonce inside); the nonce must grow per key."""
        api_key = headers.get("api-key", "")
        creds = self.credentials.get(api_key)
        if creds is None:
            return None, ERR_INVALID_KEY
        signature = headers.get("api-sign", "")
        nonce_text = str(form.get("nonce", ""))
        if not nonce_text.isdigit():
            return None, ERR_INVALID_NONCE
        body_text = body.decode("utf-8", "replace")
        try:
            expected = sign(path, body_text, nonce_text, creds.api_secret)
        except Exception:  # noqa: BLE001
            return None, ERR_INVALID_SIGNATURE
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return None, ERR_INVALID_SIGNATURE
        nonce = int(nonce_text)
        if nonce <= creds.last_nonce:
            return None, ERR_INVALID_NONCE
        creds.last_nonce = nonce
        return api_key, None

    def account_for_token(self, token, now_ns: int) -> str | None:
        """The account a WS token belongs to (marks it used: it no longer expires), or None."""
        if not isinstance(token, str) or not self.tokens.use(token, now_ns):
            return None
        return self.tokens.account(token, now_ns)

    def charge_rest(self, api_key: str, endpoint: str, now_ns: int) -> str | None:
        """Kraken's REST call counter; an error string when exceeded (or when the rate_limit fault fires)."""
        if self.faults.take_rate_limit():
            return ERR_TRADE_RATE if endpoint in TRADING_ENDPOINTS else ERR_REST_RATE
        cost = ratelimit.rest_call_cost(endpoint)
        if cost and not self.credentials[api_key].rest_counter.try_acquire(cost, now_ns / NS):
            return ERR_REST_RATE
        return None

    def _trade_counter(self, account: str) -> ratelimit.TradingRateCounter:
        counter = self.trade_counters.get(account)
        if counter is None:
            counter = self.trade_counters[account] = ratelimit.TradingRateCounter(self.trading_tier)
        return counter

    def rate_count(self, account: str, symbol: str, now_ns: int) -> float:
        return self._trade_counter(account).level(symbol, now_ns / NS)

    def _charge_trade(self, account: str, symbol: str, cost: float, now_ns: int, fixed: float = 0.0) -> str | None:
        """Charge the per-pair trading counter; over the threshold -> EOrder:Rate limit exceeded (the
        fixed part is charged even then, as Kraken does)."""
        counter = self._trade_counter(account)
        now = now_ns / NS
        if counter.level(symbol, now) + cost > counter.limit + 1e-9:
            if fixed:
                counter.charge(symbol, fixed, now)
            return ERR_TRADE_RATE
        counter.charge(symbol, cost, now)
        return None

    def _venue_gate(self, order_type: str, post_only: bool) -> str | None:
        status = self.faults.venue_status()
        if status == "maintenance":
            return ERR_UNAVAILABLE
        if status == "cancel_only":
            return ERR_CANCEL_ONLY
        if status == "post_only" and not (order_type == "limit" and post_only):
            return ERR_POST_ONLY
        return None

    # ------------------------------------------------------------------ orders

    def add_order(self, account: str, request: AddOrderRequest, now_ns: int) -> Outcome:
        symbol = self._served(request.symbol)
        if symbol is None:
            return KrakenReject(error=ERR_UNKNOWN_PAIR), []
        if self.faults.take_rate_limit():
            return KrakenReject(error=ERR_TRADE_RATE), []
        cost = ratelimit.add_order_cost()
        error = self._charge_trade(account, symbol, cost, now_ns, fixed=cost)
        if error is None:
            error = self.faults.take_reject() or self._venue_gate(request.order_type, request.post_only)
        if error is None and not request.validate:
            limit = ratelimit.TRADING_TIERS[self.trading_tier].max_open_orders_per_pair
            open_on_pair = sum(1 for o in self.exchange.open_orders(account) if o.symbol == symbol)
            if open_on_pair >= limit:
                error = ERR_ORDERS_LIMIT
        if error is not None:
            return KrakenReject(error=error), []
        return self.exchange.add_order(account, request, now_ns)

    def batch_add(self, account: str, symbol: str, requests: list[AddOrderRequest], validate: bool,
                  now_ns: int) -> Outcome:
        """All validated first; one failure rejects the batch. Result: a tuple of per-order results
        (EngineAddOrderResult or KrakenReject for a funding failure), or one KrakenReject."""
        served = self._served(symbol)
        if served is None:
            return KrakenReject(error=ERR_UNKNOWN_PAIR), []
        if self.faults.take_rate_limit():
            return KrakenReject(error=ERR_TRADE_RATE), []
        cost = ratelimit.batch_add_cost(len(requests))
        error = self._charge_trade(account, served, cost, now_ns, fixed=cost)
        if error is None:
            error = self.faults.take_reject()
        if error is None:
            for request in requests:
                error = self._venue_gate(request.order_type, request.post_only)
                if error:
                    break
        if error is None and not validate:
            limit = ratelimit.TRADING_TIERS[self.trading_tier].max_open_orders_per_pair
            open_on_pair = sum(1 for o in self.exchange.open_orders(account) if o.symbol == served)
            if open_on_pair + len(requests) > limit:
                error = ERR_ORDERS_LIMIT
        if error is not None:
            return KrakenReject(error=error), []
        return self.exchange.batch_add(account, served, requests, now_ns, validate=validate)

    def amend_order(self, account: str, request: AmendOrderRequest, now_ns: int) -> Outcome:
        if self.faults.take_rate_limit():
            return KrakenReject(error=ERR_TRADE_RATE), []
        status = self.faults.venue_status()
        if status == "maintenance":
            return KrakenReject(error=ERR_UNAVAILABLE), []
        if status == "cancel_only":
            return KrakenReject(error=ERR_CANCEL_ONLY), []
        order = self.find_open(account, request.order_id, request.cl_ord_id)
        if order is not None:
            age = max(0.0, (now_ns - order.opened_ns) / NS)
            error = self._charge_trade(account, order.symbol, ratelimit.amend_order_cost(age), now_ns, fixed=1.0)
            if error:
                return KrakenReject(error=error), []
        rejected = self.faults.take_reject()
        if rejected:
            return KrakenReject(error=rejected), []
        return self.exchange.amend_order(account, request, now_ns)

    def edit_order(self, account: str, now_ns: int, *, order_id: str | None, cl_ord_id: str | None = None,
                   order_qty: Decimal | None = None, limit_price: Decimal | None = None,
                   post_only: bool | None = None, order_userref: int | None = None,
                   validate: bool = False) -> Outcome:
        """Cancel-and-replace (REST EditOrder, WS edit_order), charged as Kraken charges an edit."""
        if self.faults.take_rate_limit():
            return KrakenReject(error=ERR_TRADE_RATE), []
        order = self.find_open(account, order_id, cl_ord_id)
        if order is not None and not validate:
            age = max(0.0, (now_ns - order.opened_ns) / NS)
            error = self._charge_trade(account, order.symbol, ratelimit.edit_order_cost(age), now_ns, fixed=1.0)
            if error:
                return KrakenReject(error=error), []
        rejected = self.faults.take_reject()
        if rejected:
            return KrakenReject(error=rejected), []
        return self.exchange.edit_order(account, now_ns, order_id=order_id, cl_ord_id=cl_ord_id, order_qty=order_qty,
                                        limit_price=limit_price, post_only=post_only, order_userref=order_userref,
                                        validate=validate)

    def find_open(self, account: str, order_id: str | None, cl_ord_id: str | None):
        for order in self.exchange.open_orders(account):
            if (order_id and order.order_id == order_id) or (cl_ord_id and order.cl_ord_id == cl_ord_id):
                return order
        return None

    def cancel_order(self, account: str, now_ns: int, *, order_id: str | None = None,
                     cl_ord_id: str | None = None, order_userref: int | None = None) -> tuple[list, list]:
        """Cancel the matching open orders: ([EngineCancelOrderResult | KrakenReject, ...], events).
        A userref may match several orders; an id that matches none gives one EOrder:Unknown order."""
        if self.faults.take_rate_limit():
            return [KrakenReject(error=ERR_TRADE_RATE)], []
        if self.faults.venue_status() == "maintenance":
            return [KrakenReject(error=ERR_UNAVAILABLE)], []
        if order_userref is not None:
            targets = [o for o in self.exchange.open_orders(account) if o.order_userref == order_userref]
        else:
            found = self.find_open(account, order_id, cl_ord_id)
            targets = [found] if found is not None else []
        if not targets:
            return [KrakenReject(error=ERR_UNKNOWN_ORDER)], []
        results: list = []
        events: list = []
        for order in targets:
            age = max(0.0, (now_ns - order.opened_ns) / NS)
            error = self._charge_trade(account, order.symbol, ratelimit.cancel_order_cost(age), now_ns)
            if error:
                results.append(KrakenReject(error=error))
                continue
            result, caused = self.exchange.cancel_order(account, now_ns, order_id=order.order_id)
            results.append(result)
            events.extend(caused)
        return results, events

    def cancel_all(self, account: str, now_ns: int) -> Outcome:
        if self.faults.venue_status() == "maintenance":
            return KrakenReject(error=ERR_UNAVAILABLE), []
        return self.exchange.cancel_all(account, now_ns)

    def cancel_after(self, account: str, timeout_s: int, now_ns: int) -> Outcome:
        return self.exchange.cancel_all_orders_after(account, timeout_s, now_ns)

    def _served(self, symbol: str) -> str | None:
        inst = self.exchange.instrument(symbol) if isinstance(symbol, str) else None
        return inst.symbol if inst is not None else None


def digest_sign_check(path: str, nonce: str, body: str, secret_b64: str) -> str:
    """Kept for diagnostics: the API-Sign the server expects."""
    message = path.encode() + hashlib.sha256((nonce + body).encode()).digest()
    return base64.b64encode(hmac.new(base64.b64decode(secret_b64), message, hashlib.sha512).digest()).decode()


def parse_decimal(text) -> Decimal | None:
    try:
        value = Decimal(str(text))
    except Exception:  # noqa: BLE001
        return None
    return value if value.is_finite() else None
