"""Execution wiring: the instrument rules the risk envelope and executor need, the child specs of `risk` and
`executor` (critical children: a disabled one puts the system in HALTED), and the fan-out that gives them the
state holders' snapshots.

Start order: risk before executor (the executor's start-up reconciliation reports to the risk envelope), both
after the route engine; they stop in reverse, so the executor stops placing orders (and cancels its resting
paper orders) before anything it depends on goes away.
"""

from __future__ import annotations

import logging
import time
import uuid
from decimal import Decimal
from typing import Any, Callable, Mapping

from kraken_runtime.actors.execution_metrics import ExecutionMetrics
from kraken_runtime.actors.executor import ExecutorActor, Venue
from kraken_runtime.actors.ingest import MarketSource
from kraken_runtime.actors.kraken_venue import KrakenVenue
from kraken_runtime.actors.kraken_ws_session import KrakenWsSession
from kraken_runtime.actors.risk import RiskEnvelopeActor
from kraken_runtime.core.config import Settings
from kraken_runtime.core.execution.paper_venue import FeeRates, PaperVenue
from kraken_runtime.core.kraken.ratelimit import RestCallCounter
from kraken_runtime.core.kraken.errors import KrakenError, PermissionDenied, RateLimited, UnknownOrder
from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.risk.types import InstrumentRules
from kraken_runtime.core.sim.instruments import INSTRUMENTS
from kraken_runtime.core.supervision import Backoff, ChildSpec, RestartBudget, RestartPolicy

log = logging.getLogger(__name__)

RISK_NAME = "risk"
EXECUTOR_NAME = "executor"
SAFETY_LISTENERS = (RISK_NAME, EXECUTOR_NAME)
HUNDRED = Decimal(100)
PREFLIGHT_RATE_LIMIT_WAIT_S = 60.0  # a REST counter spent by a restart storm recovers within this (20 points at 0.33/s)
EXECUTOR_STOP_MARGIN_S = 1.0  # a live executor's stop retries end this long before the supervisor would abandon it


def sim_instrument_rules(symbols: tuple[str, ...]) -> dict[str, InstrumentRules]:
    """The local exchange's pairs (the same table its matching engine enforces)."""
    rules = {}
    for symbol in symbols:
        i = INSTRUMENTS.get(symbol)
        if i is None:
            continue
        rules[symbol] = InstrumentRules(symbol=symbol, base=i.base, quote=i.quote, price_increment=i.price_increment,
                                        qty_increment=i.qty_increment, qty_min=i.qty_min, cost_min=i.cost_min,
                                        maker_fee_rate=i.maker_fee_pct / HUNDRED, taker_fee_rate=i.taker_fee_pct / HUNDRED)
    return rules


def sim_rest_pairs(symbols: tuple[str, ...]) -> dict[str, str]:
    return {symbol: INSTRUMENTS[symbol].altname for symbol in symbols if symbol in INSTRUMENTS}


def kraken_instrument_rules(rest_url: str, symbols: tuple[str, ...], *, version: str,
                            timeout_s: float) -> tuple[dict[str, InstrumentRules], dict[str, str]]:
    """Kraken's AssetPairs (public): tick, lot, minimums and the tier-0 fees, keyed by the WS v2 symbol; and
    each symbol's REST pair name (altname, e.g. XBTUSD)."""
    client = KrakenRestClient(version=version, base_url=rest_url, timeout_s=(timeout_s, timeout_s))
    try:
        pairs = client.asset_pairs()
    finally:
        client.close()
    wanted = set(symbols)
    rules: dict[str, InstrumentRules] = {}
    names: dict[str, str] = {}
    for pair in pairs.values():
        if not pair.wsname:
            continue
        base, _, quote = pair.wsname.partition("/")
        symbol = f"{_ws_asset(base)}/{_ws_asset(quote)}"
        if symbol not in wanted:
            continue
        taker = pair.fees[0].percent if pair.fees else Decimal("0.40")
        maker = pair.fees_maker[0].percent if pair.fees_maker else taker
        rules[symbol] = InstrumentRules(
            symbol=symbol, base=_ws_asset(base), quote=_ws_asset(quote), price_increment=pair.tick_size,
            qty_increment=Decimal(1).scaleb(-pair.lot_decimals), qty_min=pair.ordermin or Decimal(0),
            cost_min=pair.costmin or Decimal(0), maker_fee_rate=maker / HUNDRED, taker_fee_rate=taker / HUNDRED)
        names[symbol] = pair.altname
    return rules, names


_V1_NAMES = {"XBT": "BTC", "XDG": "DOGE"}


def _ws_asset(name: str) -> str:
    return _V1_NAMES.get(name, name)


def fan_out_snapshots(send_latest: Callable[[str, Any, Any], bool], listeners: tuple[str, ...]) -> Callable[[str, Any, Any], bool]:
    """Wrap the directory's send_latest: a StateSnapshot for the scanner also goes, latest-wins, to `listeners`."""

    def send(name: str, key: Any, message: Any) -> bool:
        delivered = send_latest(name, key, message)
        if isinstance(message, StateSnapshot):
            for listener in listeners:
                if listener != name:
                    send_latest(listener, key, message)
        return delivered

    return send


def token_provider(client_factory: Callable[[RestCallCounter | None], KrakenRestClient],
                   counter: RestCallCounter | None) -> Callable[[], str]:
    """A WS token from REST GetWebSocketsToken, on a client of its own (the session's reader thread calls it)."""

    def fetch() -> str:
        client = client_factory(counter)
        try:
            return client.get_websockets_token().token
        finally:
            client.close()

    return fetch


class ExecutionSetupError(Exception):
    """Execution cannot start: one line for the operator, with the exit code it means (78 bad config, 1 failed)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def execution_specs_for(settings: Settings, *, run_id: int, send: Callable[[str, Any], bool], market: MarketSource,
                        registry: Any, safety_mode: str, budget: RestartBudget, backoff: Backoff,
                        peer_state: Callable[[str], str | None] | None = None, version: str = "unknown",
                        out: Callable[[str], None] = print) -> tuple[ChildSpec, ...]:
    """The daemon's entry: instrument rules for the market; for live and shadow the start-up preflight
    (permissions, balances, pair selection, a printout of what will trade under which limits); then the
    risk and executor specs."""
    symbols = settings.runtime.symbols
    rest_url = market.rest_url
    if settings.runtime.market == "sim":
        instruments, pairs = sim_instrument_rules(symbols), sim_rest_pairs(symbols)
    else:
        try:
            instruments, pairs = kraken_instrument_rules(rest_url, symbols, version=version,
                                                         timeout_s=settings.kraken.rest_timeout_s)
        except Exception as exc:  # noqa: BLE001 - one line; nothing trades without its pairs' rules
            raise ExecutionSetupError(f"error: cannot read the trading rules of {', '.join(symbols)} from {rest_url} "
                                      f"(AssetPairs): {type(exc).__name__}: {exc}", 1) from None
    starting: dict[str, Decimal] | None = None
    client_factory: Callable[[RestCallCounter | None], KrakenRestClient] | None = None
    enabled = settings.executor.enabled_pairs
    if settings.runtime.mode == "paper" and enabled:  # KRAKEN_ENABLED_PAIRS restricts what trades in every mode
        instruments = {s: r for s, r in instruments.items() if s in enabled}
        out(f"paper: trading {', '.join(sorted(instruments))} (KRAKEN_ENABLED_PAIRS); the other symbols are watched only")
    if settings.runtime.mode != "paper":
        if not (market.api_key and market.api_secret):
            raise ExecutionSetupError(f"config error: runtime.mode = {settings.runtime.mode!r} needs KRAKEN_API_KEY and "
                                      "KRAKEN_API_SECRET; expected both set", 78)
        timeout_s = settings.executor.venue_timeout_ms / 1000
        key, secret = market.api_key, market.api_secret

        def client_factory(counter: RestCallCounter | None = None) -> KrakenRestClient:
            return KrakenRestClient(version=version, base_url=rest_url, api_key=key, api_secret=secret,
                                    timeout_s=(timeout_s, timeout_s), rest_counter=counter, rate_limit_max_wait_s=timeout_s)

        client = client_factory()
        try:
            selected, starting, lines = live_preflight(client, settings, instruments, pairs)
        finally:
            client.close()
        instruments = {s: r for s, r in instruments.items() if s in selected}
        for line in lines:
            out(line)
    return execution_child_specs(settings, run_id=run_id, send=send, instruments=instruments,
                                 metrics=ExecutionMetrics(registry), safety_mode=safety_mode, budget=budget, backoff=backoff,
                                 pairs=pairs, client_factory=client_factory, starting_balances=starting, peer_state=peer_state,
                                 ws_auth_url=market.ws_auth_url)


def ws_asset(rest_name: str) -> str:
    """A REST asset name as the WS v2 API writes it: XXBT -> BTC, ZUSD -> USD, XETH -> ETH, XDG -> DOGE."""
    name = rest_name.split(".")[0]
    if len(name) == 4 and name[0] in "XZ":
        name = name[1:]
    return _ws_asset(name)


def live_preflight(client: KrakenRestClient, settings: Settings, instruments: Mapping[str, InstrumentRules],
                   pairs: Mapping[str, str]) -> tuple[set[str], dict[str, Decimal], list[str]]:
    """The owner's start-up flow after connecting: verify the key's permissions (query funds, create orders, cancel
    orders; a missing one refuses with one line naming it), read the balances, select from the configured symbols
    (and KRAKEN_ENABLED_PAIRS) those the funds present can trade, and say what will trade under which limits."""
    mode = settings.runtime.mode

    def refuse(permission: str, exc: Exception) -> ExecutionSetupError:
        return ExecutionSetupError(f"error: the API key lacks the '{permission}' permission ({exc}); {mode} trading "
                                   f"needs Query Funds, Create & Modify Orders and Cancel & Close Orders", 1)

    deadline = time.monotonic() + PREFLIGHT_RATE_LIMIT_WAIT_S
    while True:
        try:
            raw = client.balance()
            break
        except PermissionDenied as exc:
            raise refuse("Query Funds", exc) from None
        except RateLimited as exc:  # the key's counter is spent (a restart storm): wait it out, bounded
            if time.monotonic() >= deadline:
                raise ExecutionSetupError(f"error: cannot read the balances: still rate limited after "
                                          f"{PREFLIGHT_RATE_LIMIT_WAIT_S:g}s ({exc})", 1) from None
            log.warning("preflight: balances rate limited (%s); trying again in 2s", exc)
            time.sleep(2.0)  # start-up, before any actor runs: a pause here delays nothing else
        except KrakenError as exc:
            raise ExecutionSetupError(f"error: cannot read the balances ({type(exc).__name__}: {exc})", 1) from None
    balances: dict[str, Decimal] = {}
    for asset, amount in raw.items():
        balances[ws_asset(asset)] = balances.get(ws_asset(asset), Decimal(0)) + amount
    probe_symbol = next((s for s in settings.runtime.symbols if s in instruments and s in pairs), None)
    if probe_symbol is None:
        raise ExecutionSetupError(f"error: none of {', '.join(settings.runtime.symbols)} has trading rules at the venue", 1)
    rules = instruments[probe_symbol]
    try:  # validate=true: checked by the exchange, never placed
        client.add_order(pair=pairs[probe_symbol], side="buy", ordertype="limit", volume=rules.qty_min,
                         price=rules.price_increment, cl_ord_id=uuid.uuid4().hex, validate=True)
    except PermissionDenied as exc:
        raise refuse("Create & Modify Orders", exc) from None
    except KrakenError:
        pass  # any other refusal (funds, minimums) proves the permission
    try:
        client.cancel_order(cl_ord_id=uuid.uuid4().hex)
    except PermissionDenied as exc:
        raise refuse("Cancel & Close Orders", exc) from None
    except (UnknownOrder, KrakenError):
        pass  # "unknown order" is the expected answer
    enabled = set(settings.executor.enabled_pairs)
    selected: set[str] = set()
    skipped: list[str] = []
    buffer = settings.risk.trade_buffer
    for symbol in settings.runtime.symbols:
        rules_of = instruments.get(symbol)
        if enabled and symbol not in enabled:
            skipped.append(f"{symbol} (not in KRAKEN_ENABLED_PAIRS)")
            continue
        if rules_of is None or symbol not in pairs:
            skipped.append(f"{symbol} (no trading rules at the venue)")
            continue
        quote_free = balances.get(rules_of.quote, Decimal(0))
        base_free = balances.get(rules_of.base, Decimal(0))
        min_cost = max(rules_of.cost_min, rules_of.qty_min * rules_of.price_increment) * buffer
        if quote_free >= min_cost or base_free >= rules_of.qty_min:
            selected.add(symbol)
        else:
            skipped.append(f"{symbol} (funds below the minimum order: {rules_of.quote} {quote_free}, {rules_of.base} {base_free})")
    if not selected:
        raise ExecutionSetupError(f"error: no configured symbol can be traded with the funds present: {'; '.join(skipped)}", 1)
    r = settings.risk
    held = ", ".join(f"{asset} {format(amount, 'f')}" for asset, amount in sorted(balances.items()) if amount) or "none"
    lines = [
        f"{mode}: trading {', '.join(sorted(selected))} on {settings.runtime.market}"
        + (" (validate only: the exchange checks every order, nothing executes)" if mode == "shadow" else ""),
        f"{mode}: balances {held}",
        f"{mode}: limits: exposure {r.max_exposure_usd} USD total, {r.max_symbol_exposure_usd} per symbol; open orders "
        f"{r.max_open_orders} ({r.max_open_orders_per_symbol} per symbol); price band {r.price_band_bps} bps; trade buffer "
        f"{r.trade_buffer}; daily loss {r.daily_loss_soft_usd}/{r.daily_loss_limit_usd} USD (reduce-only/halted); drawdown "
        f"{r.drawdown_soft_usd}/{r.drawdown_hard_usd} USD; dead man's switch {settings.executor.dead_mans_switch_s} s",
    ]
    if skipped:
        lines.append(f"{mode}: not trading {'; '.join(skipped)}")
    return selected, balances, lines


def execution_child_specs(settings: Settings, *, run_id: int, send: Callable[[str, Any], bool],
                          instruments: Mapping[str, InstrumentRules], metrics: ExecutionMetrics, safety_mode: str,
                          budget: RestartBudget, backoff: Backoff, scanner_name: str | None = "scanner",
                          console: Callable[[str], None] | None = None, pairs: Mapping[str, str] | None = None,
                          client_factory: Callable[[RestCallCounter | None], KrakenRestClient] | None = None,
                          starting_balances: Mapping[str, Decimal] | None = None,
                          peer_state: Callable[[str], str | None] | None = None,
                          ws_auth_url: str | None = None) -> tuple[ChildSpec, ...]:
    metrics.register_symbols(settings.runtime.symbols)
    mode = settings.runtime.mode
    missing = [s for s in settings.runtime.symbols if s not in instruments]
    if missing:
        log.warning("execution: no instrument rules for %s: every intent on them is rejected", ", ".join(missing))
    quotes = {symbol: rules.quote for symbol, rules in instruments.items()}
    starting = dict(starting_balances) if starting_balances is not None else {
        quote: settings.executor.paper_balance_usd for quote in set(quotes.values())}
    shutdown_s = min(5.0, settings.runtime.shutdown_timeout_s)
    fees = {symbol: FeeRates(maker=r.maker_fee_rate, taker=r.taker_fee_rate) for symbol, r in instruments.items()}
    latency_ns = settings.executor.paper_latency_ms * 1_000_000

    def venue_factory() -> Venue:
        if mode == "paper":
            return PaperVenue(fees=fees, latency_ns=latency_ns)
        if client_factory is None:
            raise RuntimeError(f"runtime.mode {mode} without a Kraken client")
        counter = RestCallCounter(settings.kraken.api_tier)  # the key's REST counter, modelled so calls stay under it
        session = None
        if mode == "live" and ws_auth_url:  # shadow validates over REST: nothing rests, nothing to follow
            session = KrakenWsSession(url=ws_auth_url, token_provider=token_provider(client_factory, counter),
                                      connect_timeout_s=settings.executor.venue_timeout_ms / 1000,
                                      token_refresh_s=settings.feed.token_refresh_s,
                                      on_state=lambda up: metrics.venue_ws_connected.set(1 if up else 0))
        return KrakenVenue(client=client_factory(counter), pairs=pairs or {}, validate_only=mode == "shadow",
                           poll_interval_ns=settings.executor.kraken_poll_interval_ms * 1_000_000, rest_counter=counter,
                           deadline_s=settings.executor.venue_timeout_ms / 1000, session=session)

    def spec(name: str, factory: Callable[[Any], Any], stop_s: float = shutdown_s) -> ChildSpec:
        return ChildSpec(name=name, factory=factory, policy=RestartPolicy.PERMANENT, budget=budget, backoff=backoff,
                         shutdown_timeout_s=stop_s, critical=True)

    # The executor's clean stop cancels its open orders and polls their final status at the venue (REST round
    # trips, each up to venue_timeout_ms, under the key's rate counter): it gets the whole shutdown budget, so a
    # clean stop does not abandon it mid-settle with fills unrecorded (found by the SIGKILL test under load).
    executor_stop_s = settings.runtime.shutdown_timeout_s if mode != "paper" else shutdown_s

    return (
        spec(RISK_NAME, lambda link: RiskEnvelopeActor.start(
            link=link, run_id=run_id, settings=settings.risk, instruments=instruments, send=send, metrics=metrics,
            safety_mode=safety_mode, starting_balances=starting, api_tier=settings.kraken.api_tier,
            executor_name=EXECUTOR_NAME, scanner_name=scanner_name)),
        spec(EXECUTOR_NAME, lambda link: ExecutorActor.start(
            link=link, run_id=run_id, shard=settings.runtime.shard, mode=mode, settings=settings.executor,
            venue_factory=venue_factory, send=send, metrics=metrics, quote_of=lambda symbol: quotes.get(symbol, "USD"),
            risk_name=RISK_NAME, console=console, peer_state=peer_state,
            market_fresh_ms=max(10_000, 2 * settings.state.stale_after_ms),
            stop_budget_s=max(0.5, executor_stop_s - EXECUTOR_STOP_MARGIN_S)), stop_s=executor_stop_s),
    )
