"""Kraken spot REST client: a thin I/O adapter over one ``requests.Session`` (PROTOCOL.md §5, §6).

``KrakenRestClient``: public ``GET /0/public/<Method>`` and signed ``POST /0/private/<Method>`` calls, named
after the endpoints in snake_case. The typed results and their pure parsers are in ``responses.py``; the
process-wide nonces and per-key locks in ``rest_nonces.py``; the pure signature in ``signing.py``.

Behaviour worth knowing (each is tested against a local stub server):

- Signing: ``API-Key`` and ``API-Sign`` exactly per §5.2, over the exact form-encoded body (nonce first).
  Nonces come from ``rest_nonces.NonceSource`` (strictly increasing per key across instances and restarts);
  the process-wide per-key lock is held from taking the nonce until the response arrives, so requests on
  one key reach Kraken in nonce order.
- Errors: Kraken's ``error`` array becomes a typed exception (``core.kraken.errors``); warnings are logged.
  Transport failures become ``TransportError`` (``may_have_reached_exchange`` False only for failed
  connects). Exceptions, reprs and logs never contain the key, secret, signature, body or WS token.
- Retries: only calls that cannot duplicate an order are retried (every public call; Balance,
  GetWebSocketsToken, OpenOrders, ClosedOrders, QueryOrders, TradesHistory; CancelOrder, CancelAll,
  CancelAllOrdersAfter; AddOrder with ``validate=True``), on retryable errors (transport, 5xx,
  ``EService:Unavailable``/``Busy``/``Throttled``, ``EGeneral:Internal error``, ``EAPI:Invalid nonce``),
  at most ``max_attempts`` times, with capped, jittered exponential backoff.
- AddOrder is sent exactly once. If its outcome is unknown (timeout or connection lost after sending, a
  5xx, an unreadable reply, ``EService:Unavailable``/``Busy``, ``EGeneral:Internal error``), the client
  looks the order up by ``cl_ord_id`` in OpenOrders, then ClosedOrders, and returns what it finds
  (``resolved_by_lookup=True``) or raises ``OrderOutcomeUnknown``; it never sends the order again.
- Rate limits: before a private call the client consults its ``RestCallCounter``; if the call does not fit
  it waits (up to ``rate_limit_max_wait_s``) or raises ``LocalRateLimited`` without sending. AddOrder
  consults the optional ``TradingRateCounter`` for its pair the same way. Risk-reducing calls (CancelOrder,
  CancelAll, CancelAllOrdersAfter) are charged but never held back. ``EAPI:Rate limit exceeded`` /
  ``EOrder:Rate limit exceeded`` saturate the local counter so following calls wait for the real one.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from kraken_runtime.core.kraken import ratelimit
from kraken_runtime.core.kraken.errors import (
    ApiRateLimited,
    HttpStatusError,
    InternalError,
    InvalidResponse,
    KrakenError,
    LocalRateLimited,
    OrderOutcomeUnknown,
    OrderRateLimited,
    ServiceBusy,
    ServiceUnavailable,
    TransportError,
    raise_for_errors,
)
from kraken_runtime.core.kraken.responses import (
    AddOrderResult,
    AssetPair,
    CancelAllOrdersAfterResult,
    CancelOrderResult,
    ClosedOrders,
    Depth,
    OrderInfo,
    ServerTime,
    SystemStatus,
    TickerInfo,
    Trades,
    TradesHistory,
    WebSocketsToken,
    decode_json,
    parse_add_order,
    parse_asset_pairs,
    parse_balance,
    parse_cancel_all_orders_after,
    parse_cancel_order,
    parse_closed_orders,
    parse_depth,
    parse_open_orders,
    parse_query_orders,
    parse_server_time,
    parse_system_status,
    parse_ticker,
    parse_trades,
    parse_trades_history,
    parse_websockets_token,
)
from kraken_runtime.core.kraken.rest_nonces import NonceSource, key_lock
from kraken_runtime.core.kraken.signing import decode_secret, key_fingerprint, sign_with_key

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT_S", "KrakenRestClient", "validate_cl_ord_id"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.kraken.com"
DEFAULT_TIMEOUT_S: tuple[float, float] = (3.05, 10.0)

# =========================================================================================================
# Request parameters
# =========================================================================================================

_CL_ORD_ID_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CL_ORD_ID_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_CL_ORD_ID_TEXT = re.compile(r"[\x21-\x7e]{1,18}")


def validate_cl_ord_id(cl_ord_id: str) -> str:
    """A long UUID, a 32-hex-char short UUID, or printable ASCII of at most 18 characters (§4.4, §5.4)."""
    if not isinstance(cl_ord_id, str) or not (
        _CL_ORD_ID_UUID.fullmatch(cl_ord_id)
        or _CL_ORD_ID_HEX32.fullmatch(cl_ord_id)
        or _CL_ORD_ID_TEXT.fullmatch(cl_ord_id)
    ):
        raise ValueError(f"invalid cl_ord_id {cl_ord_id!r}: use a UUID, 32 hex chars, or <= 18 printable ASCII chars")
    return cl_ord_id


def _param(value: Any) -> str:
    """Wire text for a request parameter. Decimals never in exponent form; floats refused."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        raise TypeError("float parameter: pass prices and volumes as Decimal or str")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("parameter is not a finite number")
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ",".join(_param(v) for v in value)
    raise TypeError(f"unsupported parameter type {type(value).__name__}")


def _params(pairs: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(k, _param(v)) for k, v in pairs if v is not None]


# =========================================================================================================
# Client
# =========================================================================================================

# Guards every counter model touched by any client (counters may be shared between clients).
_COUNTERS_LOCK = threading.Lock()

# Calls that reduce risk: charged to the local counters but never held back by them.
_NEVER_HELD_BACK = frozenset({"CancelOrder", "CancelAll", "CancelAllOrdersAfter"})


def _connect_failed(exc: BaseException) -> bool:
    """True when ``exc`` (a requests ConnectionError) certainly happened before any byte was sent."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (NewConnectionError, ConnectTimeoutError)):
            return True
        stack.extend(
            [getattr(item, "reason", None), getattr(item, "__cause__", None), getattr(item, "__context__", None)]
        )
        stack.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
    return False


class KrakenRestClient:
    """Kraken spot REST over one ``requests.Session``. See the module docstring for the guarantees.

    ``base_url`` is the scheme and host (``https://api.kraken.com``; a trailing ``/0`` is accepted).
    ``version`` goes into the ``User-Agent: kraken-runtime/<version>``. ``timeout_s`` is ``(connect, read)``.
    ``monotonic_s`` is a monotonic clock in seconds, ``sleep`` waits, ``rng`` jitters backoff: inject fakes in
    tests. Without ``api_key``/``api_secret`` only public calls work.
    """

    def __init__(
        self,
        *,
        version: str,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        api_secret: str | None = None,
        otp: str | None = None,
        timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S,
        max_attempts: int = 4,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 4.0,
        rest_counter: ratelimit.RestCallCounter | None = None,
        trading_counter: ratelimit.TradingRateCounter | None = None,
        rate_limit_max_wait_s: float = 5.0,
        order_lookup_attempts: int = 3,
        nonce_source: NonceSource | None = None,
        session: requests.Session | None = None,
        monotonic_s: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if (api_key is None) != (api_secret is None):
            raise ValueError("api_key and api_secret go together")
        connect_s, read_s = timeout_s
        if connect_s <= 0 or read_s <= 0:
            raise ValueError("timeouts must be positive")
        if max_attempts < 1 or order_lookup_attempts < 1:
            raise ValueError("attempt counts must be at least 1")
        base = base_url.rstrip("/")
        if base.endswith("/0"):
            base = base[:-2]
        self._base_url = base
        self._api_key = api_key
        self._secret = decode_secret(api_secret) if api_secret is not None else None
        self._otp = otp
        self._key_label = key_fingerprint(api_key) if api_key else None
        self._key_lock = key_lock(api_key) if api_key else None
        self._timeout = (float(connect_s), float(read_s))
        self._max_attempts = max_attempts
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._rest_counter = rest_counter
        self._trading_counter = trading_counter
        self._counter_lock = _COUNTERS_LOCK
        self._rate_limit_max_wait_s = rate_limit_max_wait_s
        self._order_lookup_attempts = order_lookup_attempts
        self._nonces = nonce_source or NonceSource()
        self._monotonic_s = monotonic_s
        self._sleep = sleep
        self._rng = rng or random.Random()
        # Waiting for the key lock is bounded: one in-flight call plus its rate-limit wait, with margin.
        self._lock_timeout_s = connect_s + read_s + rate_limit_max_wait_s + 5.0
        if session is None:
            session = requests.Session()
            # The environment (proxies, NO_PROXY, a CA bundle) is read once, here, for this base URL, instead
            # of by requests on every call (`merge_environment_settings`: ~0.2 ms a request, on an order's path).
            session.trust_env = False
            session.proxies.update(requests.utils.get_environ_proxies(base_url))
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                session.verify = bundle
        self._session = session
        # No transport-level retries: a POST must never be re-sent behind our back.
        adapter = HTTPAdapter(max_retries=Retry(total=0, read=False, redirect=0, status=0))
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = f"kraken-runtime/{version}"

    def __repr__(self) -> str:
        key = f"key:{self._key_label}" if self._key_label else "public"
        return f"KrakenRestClient(base_url={self._base_url!r}, {key})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> KrakenRestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- public endpoints -------------------------------------------------------------------------------

    def time(self) -> ServerTime:
        return parse_server_time(self._public("Time"))

    def system_status(self) -> SystemStatus:
        return parse_system_status(self._public("SystemStatus"))

    def asset_pairs(self, pairs: Sequence[str] | None = None) -> dict[str, AssetPair]:
        return parse_asset_pairs(self._public("AssetPairs", _params([("pair", list(pairs) if pairs else None)])))

    def ticker(self, pairs: Sequence[str] | None = None) -> dict[str, TickerInfo]:
        return parse_ticker(self._public("Ticker", _params([("pair", list(pairs) if pairs else None)])))

    def depth(self, pair: str, count: int | None = None) -> Depth:
        return parse_depth(self._public("Depth", _params([("pair", pair), ("count", count)])))

    def trades(self, pair: str, since: str | int | None = None, count: int | None = None) -> Trades:
        return parse_trades(self._public("Trades", _params([("pair", pair), ("since", since), ("count", count)])))

    # ---- private endpoints ------------------------------------------------------------------------------

    def balance(self) -> dict[str, Decimal]:
        return parse_balance(self._private("Balance", [], retry=True))

    def get_websockets_token(self) -> WebSocketsToken:
        return parse_websockets_token(self._private("GetWebSocketsToken", [], retry=True))

    def open_orders(
        self, *, cl_ord_id: str | None = None, userref: int | None = None, trades: bool = False
    ) -> tuple[OrderInfo, ...]:
        params = _params([("trades", trades or None), ("userref", userref), ("cl_ord_id", cl_ord_id)])
        return parse_open_orders(self._private("OpenOrders", params, retry=True))

    def closed_orders(
        self,
        *,
        cl_ord_id: str | None = None,
        userref: int | None = None,
        start: int | str | None = None,
        end: int | str | None = None,
        ofs: int | None = None,
        closetime: str | None = None,
        trades: bool = False,
    ) -> ClosedOrders:
        params = _params(
            [
                ("trades", trades or None),
                ("userref", userref),
                ("cl_ord_id", cl_ord_id),
                ("start", start),
                ("end", end),
                ("ofs", ofs),
                ("closetime", closetime),
            ]
        )
        return parse_closed_orders(self._private("ClosedOrders", params, retry=True))

    def query_orders(
        self, txids: Sequence[str], *, trades: bool = False, userref: int | None = None
    ) -> tuple[OrderInfo, ...]:
        if not txids or len(txids) > 50:
            raise ValueError("QueryOrders takes 1 to 50 txids")
        params = _params([("txid", list(txids)), ("trades", trades or None), ("userref", userref)])
        return parse_query_orders(self._private("QueryOrders", params, retry=True))

    def trades_history(
        self,
        *,
        type: str | None = None,  # noqa: A002 - Kraken's parameter name
        start: int | str | None = None,
        end: int | str | None = None,
        ofs: int | None = None,
        trades: bool = False,
    ) -> TradesHistory:
        params = _params([("type", type), ("trades", trades or None), ("start", start), ("end", end), ("ofs", ofs)])
        return parse_trades_history(self._private("TradesHistory", params, retry=True))

    def cancel_order(
        self,
        *,
        txid: str | None = None,
        cl_ord_id: str | None = None,
        pair: str | None = None,
        order_age_s: float | None = None,
    ) -> CancelOrderResult:
        """Cancel one order by ``txid`` or ``cl_ord_id``. Retried on transient errors (a cancel cannot duplicate
        an order). With ``pair`` and ``order_age_s`` the trading counter is charged the cancel penalty."""
        if (txid is None) == (cl_ord_id is None):
            raise ValueError("pass exactly one of txid and cl_ord_id")
        if self._trading_counter is not None and pair is not None and order_age_s is not None:
            with self._counter_lock:
                self._trading_counter.charge(pair, ratelimit.cancel_order_cost(order_age_s), self._monotonic_s())
        params = _params([("txid", txid), ("cl_ord_id", cl_ord_id)])
        return parse_cancel_order(self._private("CancelOrder", params, retry=True))

    def cancel_all(self) -> CancelOrderResult:
        return parse_cancel_order(self._private("CancelAll", [], retry=True))

    def cancel_all_orders_after(self, timeout_s: int) -> CancelAllOrdersAfterResult:
        """Dead man's switch: cancel everything in ``timeout_s`` seconds unless called again (0 disables)."""
        if not isinstance(timeout_s, int) or timeout_s < 0:
            raise ValueError("timeout_s must be a non-negative integer")
        return parse_cancel_all_orders_after(
            self._private("CancelAllOrdersAfter", [("timeout", str(timeout_s))], retry=True)
        )

    def add_order(
        self,
        *,
        pair: str,
        side: str,
        ordertype: str,
        volume: Decimal | str,
        cl_ord_id: str,
        price: Decimal | str | None = None,
        price2: Decimal | str | None = None,
        oflags: Sequence[str] = (),
        timeinforce: str | None = None,
        starttm: str | int | None = None,
        expiretm: str | int | None = None,
        deadline: str | None = None,
        reduce_only: bool = False,
        stptype: str | None = None,
        displayvol: Decimal | str | None = None,
        validate: bool = False,
    ) -> AddOrderResult:
        """Place one order (or only validate it). Sent at most once; see the module docstring for what happens
        when its outcome is unknown."""
        if side not in ("buy", "sell"):
            raise ValueError("side must be 'buy' or 'sell'")
        validate_cl_ord_id(cl_ord_id)
        params = _params(
            [
                ("ordertype", ordertype),
                ("type", side),
                ("volume", volume),
                ("pair", pair),
                ("price", price),
                ("price2", price2),
                ("displayvol", displayvol),
                ("oflags", list(oflags) if oflags else None),
                ("timeinforce", timeinforce),
                ("starttm", starttm),
                ("expiretm", expiretm),
                ("deadline", deadline),
                ("reduce_only", True if reduce_only else None),
                ("stptype", stptype),
                ("cl_ord_id", cl_ord_id),
                ("validate", True if validate else None),
            ]
        )
        self._admit_trading(pair, ratelimit.add_order_cost())
        if validate:
            # Nothing can be placed: safe to retry like any idempotent call.
            return parse_add_order(
                self._private("AddOrder", params, retry=True), cl_ord_id=cl_ord_id, validated_only=True
            )
        try:
            return parse_add_order(self._private("AddOrder", params, retry=False, pair=pair), cl_ord_id=cl_ord_id)
        except (TransportError, InvalidResponse, ServiceUnavailable, ServiceBusy, InternalError) as exc:
            if isinstance(exc, TransportError) and not exc.may_have_reached_exchange:
                raise
            log.warning("AddOrder outcome unknown (%s); looking up cl_ord_id %s", type(exc).__name__, cl_ord_id)
            return self._resolve_add_order(cl_ord_id, exc)

    def _resolve_add_order(self, cl_ord_id: str, cause: KrakenError) -> AddOrderResult:
        """Find an AddOrder whose reply was lost, by cl_ord_id; never re-send it."""
        last_error: KrakenError | None = None
        for attempt in range(1, self._order_lookup_attempts + 1):
            if attempt > 1:
                self._sleep(self._backoff_s(attempt - 1))
            try:
                found = [o for o in self.open_orders(cl_ord_id=cl_ord_id) if o.cl_ord_id == cl_ord_id]
                if not found:
                    closed = self.closed_orders(cl_ord_id=cl_ord_id)
                    found = [o for o in closed.orders if o.cl_ord_id == cl_ord_id]
            except KrakenError as exc:
                last_error = exc
                log.warning("AddOrder lookup %d for cl_ord_id %s failed: %s", attempt, cl_ord_id, type(exc).__name__)
                continue
            if found:
                order = found[0]
                log.info("AddOrder with cl_ord_id %s found as %s after a lost reply", cl_ord_id, order.txid)
                return AddOrderResult(
                    txids=(order.txid,),
                    description=order.descr.order,
                    close_description=order.descr.close,
                    cl_ord_id=cl_ord_id,
                    validated_only=False,
                    resolved_by_lookup=True,
                    order=order,
                )
        detail = f"last lookup failed: {type(last_error).__name__}" if last_error else "not found"
        raise OrderOutcomeUnknown(
            f"AddOrder reply lost ({type(cause).__name__}) and cl_ord_id {cl_ord_id} {detail} after "
            f"{self._order_lookup_attempts} lookups; not re-sent",
            cl_ord_id=cl_ord_id,
            errors=cause.errors,
            endpoint="AddOrder",
        ) from cause

    # ---- machinery --------------------------------------------------------------------------------------

    def _backoff_s(self, attempt: int) -> float:
        """Capped exponential backoff with equal jitter: in [d/2, d], d = min(max, initial * 2**(attempt-1))."""
        ceiling = min(self._backoff_max_s, self._backoff_initial_s * (2 ** (attempt - 1)))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def _with_retries(self, endpoint: str, retry: bool, once: Callable[[], Any]) -> Any:
        attempts = self._max_attempts if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                return once()
            except KrakenError as exc:
                if attempt >= attempts or not exc.retryable:
                    raise
                delay = self._backoff_s(attempt)
                log.warning(
                    "%s attempt %d/%d failed (%s: %s); retrying in %.3fs",
                    endpoint,
                    attempt,
                    attempts,
                    type(exc).__name__,
                    "; ".join(exc.errors) or "-",
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _public(self, endpoint: str, params: list[tuple[str, str]] | None = None) -> Any:
        url = f"{self._base_url}/0/public/{endpoint}"

        def once() -> Any:
            response = self._send("GET", url, endpoint, params=params or None)
            return self._decode(response, endpoint)

        return self._with_retries(endpoint, True, once)

    def _private(self, endpoint: str, params: list[tuple[str, str]], *, retry: bool, pair: str | None = None) -> Any:
        if self._api_key is None or self._secret is None:
            raise ValueError(f"{endpoint} needs api_key and api_secret")
        api_key: str = self._api_key
        secret: bytes = self._secret
        path = f"/0/private/{endpoint}"
        url = self._base_url + path

        def once() -> Any:
            lock = self._key_lock
            assert lock is not None
            if not lock.acquire(timeout=self._lock_timeout_s):
                raise TransportError(
                    f"timed out after {self._lock_timeout_s:.1f}s waiting for this API key's in-flight call",
                    may_have_reached_exchange=False,
                    endpoint=endpoint,
                )
            try:
                self._admit_rest(endpoint)
                nonce = self._nonces.next(api_key)
                fields = [("nonce", str(nonce)), *params]
                if self._otp is not None:
                    fields.append(("otp", self._otp))
                body = urlencode(fields)
                headers = {
                    "API-Key": api_key,
                    "API-Sign": sign_with_key(path, body, nonce, secret),
                    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                }
                response = self._send("POST", url, endpoint, data=body.encode(), headers=headers)
            finally:
                lock.release()
            try:
                return self._decode(response, endpoint)
            except ApiRateLimited:
                if self._rest_counter is not None:
                    with self._counter_lock:
                        self._rest_counter.saturate(self._monotonic_s())
                raise
            except OrderRateLimited:
                if self._trading_counter is not None and pair is not None:
                    with self._counter_lock:
                        self._trading_counter.saturate(pair, self._monotonic_s())
                raise

        return self._with_retries(endpoint, retry, once)

    def _admit(
        self,
        endpoint: str,
        wait_time: Callable[[float], float],
        acquire: Callable[[float], bool],
        charge: Callable[[float], None],
    ) -> None:
        """Wait until the counter admits the call (up to the configured wait) or raise LocalRateLimited."""
        now = self._monotonic_s()
        if endpoint in _NEVER_HELD_BACK:
            with self._counter_lock:
                charge(now)
            return
        deadline = now + self._rate_limit_max_wait_s
        while True:
            with self._counter_lock:
                if acquire(now):
                    return
                wait = wait_time(now)
            if now + wait > deadline:
                log.warning(
                    "%s held back locally: rate limit needs %.3fs, limit is %.3fs", endpoint, wait, deadline - now
                )
                raise LocalRateLimited(
                    f"the local rate-limit model needs {wait:.3f}s before this call "
                    f"(max wait {self._rate_limit_max_wait_s}s)",
                    retry_after_s=wait,
                    endpoint=endpoint,
                )
            self._sleep(wait)
            now = self._monotonic_s()

    def _admit_rest(self, endpoint: str) -> None:
        counter = self._rest_counter
        cost = ratelimit.rest_call_cost(endpoint)
        if counter is None or cost == 0:
            return
        self._admit(
            endpoint,
            lambda now: counter.wait_time(cost, now),
            lambda now: counter.try_acquire(cost, now),
            lambda now: counter.charge(cost, now),
        )

    def _admit_trading(self, pair: str, cost: float) -> None:
        counter = self._trading_counter
        if counter is None:
            return
        self._admit(
            "AddOrder",
            lambda now: counter.wait_time(pair, cost, now),
            lambda now: counter.try_acquire(pair, cost, now),
            lambda now: counter.charge(pair, cost, now),
        )

    def _send(self, method: str, url: str, endpoint: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(method, url, timeout=self._timeout, allow_redirects=False, **kwargs)
        except requests.exceptions.ConnectTimeout:
            raise TransportError(
                f"connect timed out after {self._timeout[0]}s", may_have_reached_exchange=False, endpoint=endpoint
            ) from None
        except requests.exceptions.ReadTimeout:
            raise TransportError(f"no response within {self._timeout[1]}s", endpoint=endpoint) from None
        except requests.exceptions.ConnectionError as exc:
            refused = _connect_failed(exc)
            raise TransportError(
                f"connection {'failed' if refused else 'lost'}: {type(exc).__name__}",
                may_have_reached_exchange=not refused,
                endpoint=endpoint,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"request failed: {type(exc).__name__}", endpoint=endpoint) from None

    def _decode(self, response: requests.Response, endpoint: str) -> Any:
        status = response.status_code
        try:
            payload = decode_json(response.content)
        except (ValueError, UnicodeDecodeError):
            if status >= 400:
                raise HttpStatusError(f"HTTP {status} without a JSON body", status=status, endpoint=endpoint) from None
            raise InvalidResponse(f"HTTP {status}: body is not JSON", endpoint=endpoint) from None
        if not isinstance(payload, Mapping):
            if status >= 400:
                raise HttpStatusError(f"HTTP {status}", status=status, endpoint=endpoint)
            raise InvalidResponse("response is not a JSON object", endpoint=endpoint)
        warnings = raise_for_errors(payload.get("error"), endpoint=endpoint)
        if warnings:
            log.warning("%s returned warnings: %s", endpoint, "; ".join(warnings))
        if status >= 400:
            raise HttpStatusError(f"HTTP {status}", status=status, endpoint=endpoint)
        if "result" not in payload:
            raise InvalidResponse("response has neither errors nor a result", endpoint=endpoint)
        return payload["result"]
