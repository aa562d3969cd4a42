"""Start and stop the local Kraken-compatible exchange in-process.

    handle = start_sim(symbols=("BTC/USD", "ETH/USD"), seed=7)
    handle.endpoints   # {"rest": "http://127.0.0.1:P", "ws_public": "ws://127.0.0.1:P/v2", ...}
    handle.inject_fault({"fault": "stall_feed", "symbol": "BTC/USD", "seconds": 5})
    handle.stop()

The server runs its own asyncio event loop in a background thread: one listener (HTTP + WebSocket on
one port, routed by path) and one market task that steps the exchange model. Everything that touches
the exchange runs on that thread; use `handle.call(fn)` to run code there from another thread.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable

from kraken_runtime.core.sim.api import SimModelConfig
from kraken_runtime.core.sim.exchange import SimExchange
from kraken_runtime.core.sim.instruments import INSTRUMENTS
from kraken_runtime.sim_server.admin import ADMIN_PREFIX, AdminApi
from kraken_runtime.sim_server.faults import ActiveFault, FaultBoard
from kraken_runtime.sim_server.hub import Hub
from kraken_runtime.sim_server.market import MarketAdapter
from kraken_runtime.sim_server.replay import ReplayHandler, load_capture
from kraken_runtime.sim_server.rest import RestApi
from kraken_runtime.sim_server.trading import Trading
from kraken_runtime.sim_server.transport import HttpRequest, HttpResponse, Listener, Router
from kraken_runtime.sim_server.ws_auth import AuthHandler
from kraken_runtime.sim_server.ws_public import PublicHandler
from kraken_runtime.sim_server.ws_ref import RefFeed

log = logging.getLogger(__name__)

DEFAULT_SYMBOLS = ("BTC/USD", "ETH/USD", "XRP/USD", "SOL/USD")
DEFAULT_BALANCES = {"USD": Decimal("100000"), "BTC": Decimal("1"), "ETH": Decimal("10"), "XRP": Decimal("10000"),
                    "SOL": Decimal("100")}
STARTUP_DEADLINE_S = 30.0

PATH_PUBLIC = "/v2"
PATH_L3 = "/v2/l3"
PATH_AUTH = "/v2/auth"
PATH_REF = "/ref"
ALIAS_AUTH = "/auth/v2"
ALIAS_L3 = "/l3/v2"


def demo_credentials(seed: int) -> tuple[str, str]:
    """A demo API key/secret derived from the seed (stable across restarts with the same seed)."""
    digest = hashlib.sha512(f"kraken-runtime-sim-demo-{seed}".encode()).digest()
    key = base64.b64encode(hashlib.sha256(digest).digest() + digest[:10]).decode().rstrip("=")
    return key, base64.b64encode(digest).decode()


def build_exchange(symbols: tuple[str, ...], seed: int, now_ns: int, model: dict[str, Any] | None) -> SimExchange:
    """The market model: core.sim's SimExchange, configured by `model` (SimModelConfig fields)."""
    return SimExchange(symbols=symbols, seed=seed, now_ns=now_ns, config=SimModelConfig(**(model or {})))


class SimServer:
    """Everything that lives on the server's event loop."""

    def __init__(self, *, symbols: tuple[str, ...], seed: int, accounts: dict[str, str],
                 balances: dict[str, Decimal], replay: str | None, speed: float, tick_s: float,
                 token_ttl_s: float, rest_tier: Any, trading_tier: str, model: dict | None,
                 ref_basis_bps: float, ref_lag_ms: float, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.clock_ns = clock_ns
        self.symbols = symbols
        self.seed = seed
        self.accounts = accounts
        self.exchange = build_exchange(symbols, seed, clock_ns(), model)
        self.market = MarketAdapter(self.exchange)
        self.faults = FaultBoard(symbols=symbols)
        self.faults.on_inject.append(self._apply_fault)
        self.faults.on_clear.append(self._clear_fault)
        self.hub = Hub(self.market, self.faults, tick_s=tick_s, clock_ns=clock_ns)
        for api_key in accounts:
            self.exchange.create_account(api_key, balances)
        self.trading = Trading(self.exchange, self.faults, accounts, rest_tier=rest_tier,
                               trading_tier=trading_tier, token_ttl_s=token_ttl_s, clock_ns=clock_ns)
        self.auth = AuthHandler(self)
        self.ref = RefFeed(self, basis_bps=ref_basis_bps, lag_ms=ref_lag_ms, seed=seed)
        self.rest = RestApi(self)
        self.admin = AdminApi(self)
        self.replay = None
        public: Any = PublicHandler(self.hub)
        if replay is not None:
            self.replay = ReplayHandler(load_capture(replay), speed=speed)
            public = self.replay
        level3 = PublicHandler(self.hub, level3=True, tokens=self.trading.tokens)
        routes = {PATH_PUBLIC: public, PATH_L3: level3, PATH_AUTH: self.auth, PATH_REF: self.ref,
                  # Clients that append "/v2" to a per-endpoint base URL (Kraken's hosts ws-auth / ws-l3):
                  # base ws://HOST:P/auth or ws://HOST:P/l3.
                  ALIAS_AUTH: self.auth, ALIAS_L3: level3}
        self.listener = Listener(Router(http=self._http, websockets=routes))
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self.port = await self.listener.start(host, port)
        self.hub.start()

    async def stop(self) -> None:
        await self.hub.stop()
        await self.listener.stop()

    async def _http(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await self.admin.handle(request)
        if request.path.startswith("/0/"):
            return await self.rest.handle(request)
        return HttpResponse(404, b'{"error":["EGeneral:Unknown method"]}')

    # ------------------------------------------------------------------ faults

    def inject_fault(self, spec: dict) -> ActiveFault:
        return self.faults.inject(spec, self.clock_ns())

    def _apply_fault(self, fault: ActiveFault) -> None:
        if fault.name == "drop_connections":
            self.listener.drop_websockets()
        elif fault.name == "venue_status":
            self._set_venue_status(fault.params["status"])
        elif fault.name in ("price_shock", "spread_blowout"):
            setter = getattr(self.exchange, f"set_fault_{fault.name}", None)
            if setter is not None:
                setter(**fault.params)

    def _clear_fault(self, fault: ActiveFault) -> None:
        if fault.name == "venue_status":
            self._set_venue_status(self.faults.venue_status())
        elif fault.name in ("price_shock", "spread_blowout") and not self.faults.faults:
            clearer = getattr(self.exchange, "clear_faults", None)
            if clearer is not None:
                clearer()

    def _set_venue_status(self, status: str) -> None:
        setter = getattr(self.exchange, "set_fault_venue_status", None)
        if setter is not None:
            setter(status)
        self.hub.broadcast_status(status)

    def stats(self) -> dict:
        return {"ticks": self.hub.ticks, "book_messages": self.hub.book_messages,
                "behind_ticks": self.hub.behind_ticks, "connections": len(self.listener.connections),
                "symbols": list(self.symbols), "trading": True}


@dataclass
class SimHandle:
    """A running local exchange. `endpoints` has rest, ws_public, ws_l3, ws_auth, ref, admin, api_key, api_secret."""

    endpoints: dict[str, str]
    server: SimServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    _stopped: bool = field(default=False)

    @property
    def exchange(self):
        return self.server.exchange

    @property
    def faults(self) -> FaultBoard:
        return self.server.faults

    def call(self, fn: Callable[..., Any], *args, timeout: float = 10.0, **kwargs) -> Any:
        """Run `fn(*args, **kwargs)` on the server's loop thread and return its result."""

        async def run():
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def inject_fault(self, spec: dict) -> str:
        return self.call(self.server.inject_fault, spec).id

    def clear_faults(self) -> int:
        return self.call(self.server.faults.clear)

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout)
        except Exception:  # noqa: BLE001 - stopping must not raise
            log.exception("sim stop failed")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)

    def __enter__(self) -> "SimHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def parse_balances(items: Iterable[str]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for item in items:
        asset, sep, amount = item.partition("=")
        if not sep or not asset:
            raise ValueError(f"bad balance {item!r} (use ASSET=AMOUNT)")
        value = Decimal(amount)
        if not value.is_finite() or value < 0:
            raise ValueError(f"bad balance amount in {item!r}")
        out[asset.strip().upper()] = value
    return out


def start_sim(host: str = "127.0.0.1", port: int = 0, symbols: Iterable[str] | None = None, seed: int = 1,
              replay: str | None = None, speed: float = 1.0, accounts: dict[str, str] | None = None,
              balances: dict[str, Decimal] | None = None, *, tick_s: float = 0.05, token_ttl_s: float = 900.0,
              rest_tier: Any = "intermediate", trading_tier: str = "intermediate", model: dict | None = None,
              ref_basis_bps: float = 2.0, ref_lag_ms: float = 150.0,
              startup_deadline_s: float = STARTUP_DEADLINE_S,
              clock_ns: Callable[[], int] = time.time_ns) -> SimHandle:
    """Start the local exchange in a background thread; returns once it accepts connections.

    `model` holds core.sim.exchange.SimModelConfig fields (e.g. {"rate_scale": 2.0}). `clock_ns` is the
    market's time in epoch ns (the wall clock by default; a test may pass one it advances by hand: the
    market only moves when it does, so two servers with the same seed serve the same data)."""
    chosen = tuple(symbols) if symbols else DEFAULT_SYMBOLS
    for symbol in chosen:
        if symbol not in INSTRUMENTS:
            raise ValueError(f"unknown symbol {symbol!r}")
    if accounts is None:
        key, secret = demo_credentials(seed)
        accounts = {key: secret}
    if not accounts:
        raise ValueError("at least one account is needed")
    all_balances = dict(DEFAULT_BALANCES)
    all_balances.update(balances or {})
    ready = threading.Event()
    box: dict[str, Any] = {}
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            server = SimServer(symbols=chosen, seed=seed, accounts=dict(accounts), balances=all_balances,
                               replay=replay, speed=speed, tick_s=tick_s, token_ttl_s=token_ttl_s,
                               rest_tier=rest_tier, trading_tier=trading_tier, model=model,
                               ref_basis_bps=ref_basis_bps, ref_lag_ms=ref_lag_ms, clock_ns=clock_ns)
            await server.start(host, port)
            box["server"] = server

        try:
            loop.run_until_complete(boot())
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            box["error"] = exc
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name="kraken-sim", daemon=True)
    thread.start()
    if not ready.wait(startup_deadline_s):
        raise TimeoutError(f"the local exchange did not start within {startup_deadline_s} s")
    if "error" in box:
        raise box["error"]
    server: SimServer = box["server"]
    base_http = f"http://{host}:{server.port}"
    base_ws = f"ws://{host}:{server.port}"
    api_key, api_secret = next(iter(accounts.items()))
    endpoints = {"rest": base_http, "ws_public": base_ws + PATH_PUBLIC, "ws_l3": base_ws + PATH_L3,
                 "ws_auth": base_ws + PATH_AUTH, "ref": base_ws + PATH_REF, "admin": base_http + ADMIN_PREFIX,
                 "api_key": api_key, "api_secret": api_secret}
    return SimHandle(endpoints=endpoints, server=server, loop=loop, thread=thread)
