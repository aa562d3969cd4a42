"""Execution wiring: the instrument rules the risk envelope and executor need, the child specs of `risk` and
`executor` (critical children: a disabled one puts the system in HALTED), and the fan-out that gives them the
state holders' snapshots.

Start order: risk before executor (the executor's start-up reconciliation reports to the risk envelope), both
after the route engine; they stop in reverse, so the executor stops placing orders (and cancels its resting
paper orders) before anything it depends on goes away.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Callable, Mapping

from kraken_runtime.actors.execution_metrics import ExecutionMetrics
from kraken_runtime.actors.executor import ExecutorActor
from kraken_runtime.actors.risk import RiskEnvelopeActor
from kraken_runtime.core.config import Settings
from kraken_runtime.core.execution.paper_venue import FeeRates, PaperVenue
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.risk.types import InstrumentRules
from kraken_runtime.core.supervision import Backoff, ChildSpec, RestartBudget, RestartPolicy

log = logging.getLogger(__name__)

RISK_NAME = "risk"
EXECUTOR_NAME = "executor"
SAFETY_LISTENERS = (RISK_NAME, EXECUTOR_NAME)
HUNDRED = Decimal(100)


def sim_instrument_rules(symbols: tuple[str, ...]) -> dict[str, InstrumentRules]:
    """The local exchange's pairs (the same table its matching engine enforces)."""
    from kraken_runtime.core.sim.instruments import INSTRUMENTS

    rules = {}
    for symbol in symbols:
        i = INSTRUMENTS.get(symbol)
        if i is None:
            continue
        rules[symbol] = InstrumentRules(symbol=symbol, base=i.base, quote=i.quote, price_increment=i.price_increment,
                                        qty_increment=i.qty_increment, qty_min=i.qty_min, cost_min=i.cost_min,
                                        maker_fee_rate=i.maker_fee_pct / HUNDRED, taker_fee_rate=i.taker_fee_pct / HUNDRED)
    return rules


def kraken_instrument_rules(rest_url: str, symbols: tuple[str, ...], *, version: str, timeout_s: float) -> dict[str, InstrumentRules]:
    """Kraken's AssetPairs (public): tick, lot, minimums and the tier-0 fees, keyed by the WS v2 symbol."""
    from kraken_runtime.core.kraken.rest import KrakenRestClient

    client = KrakenRestClient(version=version, base_url=rest_url, timeout_s=(timeout_s, timeout_s))
    try:
        pairs = client.asset_pairs()
    finally:
        client.close()
    wanted = set(symbols)
    rules: dict[str, InstrumentRules] = {}
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
    return rules


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


class ExecutionSetupError(Exception):
    """Execution cannot start: one line for the operator, with the exit code it means (78 bad config, 1 failed)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def execution_specs_for(settings: Settings, *, run_id: int, send: Callable[[str, Any], bool], rest_url: str,
                        registry: Any, safety_mode: str, budget: RestartBudget, backoff: Backoff,
                        version: str = "unknown") -> tuple[ChildSpec, ...]:
    """The daemon's entry: instrument rules for the market, then the risk and executor specs."""
    if settings.runtime.mode != "paper":
        raise ExecutionSetupError(f"config error: runtime.mode = {settings.runtime.mode!r}: shadow and live trading are not "
                                  "available in this build; expected paper", 78)
    symbols = settings.runtime.symbols
    if settings.runtime.market == "sim":
        instruments = sim_instrument_rules(symbols)
    else:
        try:
            instruments = kraken_instrument_rules(rest_url, symbols, version=version, timeout_s=settings.kraken.rest_timeout_s)
        except Exception as exc:  # noqa: BLE001 - one line; nothing trades without its pairs' rules
            raise ExecutionSetupError(f"error: cannot read the trading rules of {', '.join(symbols)} from {rest_url} "
                                      f"(AssetPairs): {type(exc).__name__}: {exc}", 1) from None
    return execution_child_specs(settings, run_id=run_id, send=send, instruments=instruments,
                                 metrics=ExecutionMetrics(registry), safety_mode=safety_mode, budget=budget, backoff=backoff)


def execution_child_specs(settings: Settings, *, run_id: int, send: Callable[[str, Any], bool],
                          instruments: Mapping[str, InstrumentRules], metrics: ExecutionMetrics, safety_mode: str,
                          budget: RestartBudget, backoff: Backoff, scanner_name: str | None = "scanner",
                          console: Callable[[str], None] | None = None) -> tuple[ChildSpec, ...]:
    metrics.register_symbols(settings.runtime.symbols)
    mode = settings.runtime.mode
    missing = [s for s in settings.runtime.symbols if s not in instruments]
    if missing:
        log.warning("execution: no instrument rules for %s: every intent on them is rejected", ", ".join(missing))
    quotes = {symbol: rules.quote for symbol, rules in instruments.items()}
    starting = {quote: settings.executor.paper_balance_usd for quote in set(quotes.values())}
    shutdown_s = min(5.0, settings.runtime.shutdown_timeout_s)
    fees = {symbol: FeeRates(maker=r.maker_fee_rate, taker=r.taker_fee_rate) for symbol, r in instruments.items()}
    latency_ns = settings.executor.paper_latency_ms * 1_000_000

    def spec(name: str, factory: Callable[[Any], Any]) -> ChildSpec:
        return ChildSpec(name=name, factory=factory, policy=RestartPolicy.PERMANENT, budget=budget, backoff=backoff,
                         shutdown_timeout_s=shutdown_s, critical=True)

    return (
        spec(RISK_NAME, lambda link: RiskEnvelopeActor.start(
            link=link, run_id=run_id, settings=settings.risk, instruments=instruments, send=send, metrics=metrics,
            safety_mode=safety_mode, starting_balances=starting, api_tier=settings.kraken.api_tier,
            executor_name=EXECUTOR_NAME, scanner_name=scanner_name)),
        spec(EXECUTOR_NAME, lambda link: ExecutorActor.start(
            link=link, run_id=run_id, shard=settings.runtime.shard, mode=mode, settings=settings.executor,
            venue_factory=lambda: PaperVenue(fees=fees, latency_ns=latency_ns), send=send, metrics=metrics,
            quote_of=lambda symbol: quotes.get(symbol, "USD"), risk_name=RISK_NAME, console=console)),
    )
