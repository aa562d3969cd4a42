"""What every REST handler of the local exchange shares: Kraken's envelope and error strings, the
server objects a handler reads, parameter parsing, and how results are keyed and numbers written."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping, Protocol

from kraken_runtime.core.sim.exchange import SimExchange
from kraken_runtime.core.sim.instruments import Instrument
from kraken_runtime.sim_server.faults import FaultBoard
from kraken_runtime.sim_server.hub import Hub
from kraken_runtime.sim_server.jsontext import Num, dumps
from kraken_runtime.sim_server.market import MarketAdapter
from kraken_runtime.sim_server.trading import Trading
from kraken_runtime.sim_server.transport import HttpResponse

NS = 1_000_000_000
PAGE = 50  # Kraken's page size for ClosedOrders, TradesHistory and Ledgers
ERR_UNKNOWN_METHOD = "EGeneral:Unknown method"
ERR_INVALID_ARGS = "EGeneral:Invalid arguments"
ERR_UNKNOWN_PAIR = "EQuery:Unknown asset pair"
ERR_UNKNOWN_ASSET = "EQuery:Unknown asset"
ERR_INVALID_ORDER = "EOrder:Invalid order"
ERR_DEADLINE = "EService:Deadline elapsed"

Params = Mapping[str, Any]  # form and query values are strings; a JSON body keeps its lists of objects


class RestApp(Protocol):
    """The server objects REST handlers use (kraken_runtime.sim_server.app.SimServer)."""

    exchange: SimExchange
    market: MarketAdapter
    trading: Trading
    faults: FaultBoard
    hub: Hub
    clock_ns: Callable[[], int]


class BadRequest(Exception):
    """A parameter Kraken would refuse: answered with `error` (EGeneral:Invalid arguments by default)."""

    def __init__(self, error: str = ERR_INVALID_ARGS) -> None:
        super().__init__(error)
        self.error = error


def envelope(result: Any = None, errors: list[str] | None = None) -> HttpResponse:
    """Kraken's `{"error": [...], "result": ...}` with HTTP 200 (no result when there are errors)."""
    body: dict[str, Any] = {"error": errors or []}
    if result is not None and not errors:
        body["result"] = result
    return HttpResponse(200, dumps(body).encode())


def publish(app: RestApp, events: list[Any]) -> None:
    """Hand engine events to the hub at once, so WS subscribers see what REST calls caused."""
    if events:
        app.hub.absorb(events, app.clock_ns())


# ---------------------------------------------------------------------------------------- parameters


def text(params: Params, name: str) -> str | None:
    """A parameter as text (None when absent or empty); JSON scalars are written as Kraken's form would."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        raise BadRequest()
    return str(value)


def flag(params: Params, name: str) -> bool:
    value = text(params, name)
    return value is not None and value.lower() in ("true", "1", "yes")


def decimal(params: Params, name: str) -> Decimal | None:
    value = text(params, name)
    if value is None:
        return None
    try:
        result = Decimal(value)
    except (InvalidOperation, ValueError):
        raise BadRequest() from None
    if not result.is_finite():
        raise BadRequest()
    return result


def integer(params: Params, name: str) -> int | None:
    value = text(params, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequest() from None


def id_list(params: Params, name: str, limit: int) -> list[str]:
    """A comma-separated list of ids (1..limit of them)."""
    ids = [v.strip() for v in (text(params, name) or "").split(",") if v.strip()]
    if not ids or len(ids) > limit:
        raise BadRequest()
    return ids


def epoch_ns(params: Params, name: str) -> int | None:
    """`start` / `end` / `since`: epoch seconds (fractions allowed); a value too large for seconds is
    taken as nanoseconds (Kraken's Trades `last`)."""
    value = decimal(params, name)
    if value is None:
        return None
    return int(value) if value > 10**12 else int(value * NS)


def page(params: Params) -> int:
    ofs = integer(params, "ofs") or 0
    if ofs < 0:
        raise BadRequest()
    return ofs


# ---------------------------------------------------------------------------------------- pairs


def pairs(app: RestApp, params: Params, *, required: bool, single: bool = False) -> list[tuple[str, Instrument]]:
    """The pairs a public or TradeVolume request names, each with the key its result goes under.

    Kraken keys a result by the pair name as the request spelled it when the request uses the slash
    form (`pair=BTC/USD` -> "BTC/USD", PROTOCOL.md 5.3), otherwise by the pair's REST name (XXBTZUSD).
    Without `pair` (when allowed) every served pair, under its REST name."""
    requested = text(params, "pair")
    if requested is None:
        if required:
            raise BadRequest()
        return [(inst.rest_name, inst) for inst in app.market.pairs.values()]
    out = []
    for name in (n.strip() for n in requested.split(",")):
        symbol = app.market.resolve_rest_pair(name)
        if symbol is None:
            raise BadRequest(ERR_UNKNOWN_PAIR)
        inst = app.market.pairs[symbol]
        out.append((name if "/" in name else inst.rest_name, inst))
    if single and len(out) != 1:
        raise BadRequest()
    return out


# ---------------------------------------------------------------------------------------- times


def epoch_s(ns: int | None) -> Num:
    """Epoch seconds as Kraken writes them: a JSON number with up to 7 decimals (1688666559.8974)."""
    if not ns:
        return Num("0")
    seconds, rem = divmod(ns, NS)
    frac = f"{rem:09d}"[:7].rstrip("0")
    return Num(f"{seconds}.{frac}" if frac else f"{seconds}")


def price_places(inst: Instrument) -> int:
    return max(inst.price_precision, inst.cost_precision)
