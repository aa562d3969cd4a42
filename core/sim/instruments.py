"""Instruments and assets of the local exchange, with Kraken's names and precisions.

The pair table follows Kraken's AssetPairs: REST pair name (XXBTZUSD), altname (XBTUSD), REST wsname
(XBT/USD), WS v2 symbol (BTC/USD), base/quote assets in WS form (BTC, USD) and REST form (XXBT, ZUSD),
pair_decimals / lot_decimals / cost_decimals, ordermin, costmin and the fee schedules. Where
tests/data/kraken/rest/public_asset_pairs.json or rest_responses_assorted.json has a pair (XXBTZUSD,
USDCUSD, XETHXXBT, XBTUSDT) the values are copied from it (a test checks they still agree); the other
rows use Kraken's published precisions and order minimums as of 2025.

Fees: Kraken's tier-0 spot schedule as its own OpenAPI example and the docs' executions example show it
(0.26 % taker, 0.16 % maker), except where the recorded AssetPairs response says otherwise (XBTUSDT
0.40/0.25, USDCUSD 0.20/0.20). PROTOCOL.md section 7.

`MarketProfile` holds the market model's per-symbol parameters (reference price, volatility, event
rate, typical spread, order sizes), calibrated on the recorded BTC/USD, ETH/USD and XRP/USD books.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Mapping

__all__ = [
    "Asset",
    "Instrument",
    "MarketProfile",
    "ASSETS",
    "INSTRUMENTS",
    "PROFILES",
    "DEFAULT_SYMBOLS",
    "instrument_for",
]

FeeSchedule = tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Asset:
    """An asset: WS v2 name (BTC), REST name (XXBT), REST altname (XBT), decimals as Kraken's Assets."""

    name: str
    rest_name: str
    altname: str
    decimals: int
    display_decimals: int
    status: str = "enabled"


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument:
    """A tradable pair with Kraken's names, precisions, minimums and fees.

    symbol: WS v2 name (BTC/USD); rest_name: AssetPairs key (XXBTZUSD); altname (XBTUSD);
    wsname: AssetPairs' wsname (XBT/USD); base/quote: WS asset names (BTC, USD);
    base_asset/quote_asset: REST asset names (XXBT, ZUSD). maker_fee_pct/taker_fee_pct are the
    tier-0 percentages of fees_maker/fees.
    """

    symbol: str
    rest_name: str
    altname: str
    wsname: str
    base: str
    quote: str
    base_asset: str
    quote_asset: str
    price_precision: int
    qty_precision: int
    cost_precision: int
    price_increment: Decimal
    qty_increment: Decimal
    qty_min: Decimal
    cost_min: Decimal
    maker_fee_pct: Decimal
    taker_fee_pct: Decimal
    fees: FeeSchedule
    fees_maker: FeeSchedule
    status: str = "online"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketProfile:
    """Per-symbol parameters of the order-flow model (floats: model parameters, not money).

    reference_price: where the price process starts. daily_volatility_pct: 1-day standard deviation
    of log returns in the normal regime. events_per_second: mean flow events (adds, cancels, takers)
    in the normal regime. spread_bps: typical quoted spread (at least one tick). level_gap_bps: mean gap between
    adjacent populated levels near the top of the book. median_order_quote: median notional of a
    resting order, in quote currency; median_taker_quote the same for marketable orders.
    """

    reference_price: Decimal
    daily_volatility_pct: float = 3.0
    events_per_second: float = 25.0
    spread_bps: float = 1.0
    level_gap_bps: float = 0.3
    median_order_quote: float = 2500.0
    median_taker_quote: float = 400.0
    taker_share: float = 0.12
    cancel_share: float = 0.38
    volume_24h_quote: float = 20_000_000.0


_OLD_TAKER: FeeSchedule = tuple(
    (Decimal(v), Decimal(p))
    for v, p in (
        ("0", "0.26"), ("50000", "0.24"), ("100000", "0.22"), ("250000", "0.2"), ("500000", "0.18"),
        ("1000000", "0.16"), ("2500000", "0.14"), ("5000000", "0.12"), ("10000000", "0.1"),
    )
)
_OLD_MAKER: FeeSchedule = tuple(
    (Decimal(v), Decimal(p))
    for v, p in (
        ("0", "0.16"), ("50000", "0.14"), ("100000", "0.12"), ("250000", "0.1"), ("500000", "0.08"),
        ("1000000", "0.06"), ("2500000", "0.04"), ("5000000", "0.02"), ("10000000", "0.0"),
    )
)
# Recorded XBTUSDT AssetPairs (public_asset_pairs.json): the newer schedule.
_NEW_TAKER: FeeSchedule = tuple(
    (Decimal(v), Decimal(p))
    for v, p in (
        ("0", "0.4"), ("10000", "0.35"), ("50000", "0.24"), ("100000", "0.22"), ("250000", "0.2"),
        ("500000", "0.18"), ("1000000", "0.16"), ("2500000", "0.14"), ("5000000", "0.12"), ("10000000", "0.1"),
    )
)
_NEW_MAKER: FeeSchedule = tuple(
    (Decimal(v), Decimal(p))
    for v, p in (
        ("0", "0.25"), ("10000", "0.2"), ("50000", "0.14"), ("100000", "0.12"), ("250000", "0.1"),
        ("500000", "0.08"), ("1000000", "0.06"), ("2500000", "0.04"), ("5000000", "0.02"), ("10000000", "0.0"),
    )
)
# Recorded USDCUSD AssetPairs (rest_responses_assorted.json).
_STABLE_TAKER: FeeSchedule = tuple(
    (Decimal(v), Decimal(p))
    for v, p in (
        ("0", "0.2"), ("50000", "0.16"), ("100000", "0.12"), ("250000", "0.08"), ("500000", "0.04"),
        ("1000000", "0.02"), ("10000000", "0.01"), ("100000000", "0.001"),
    )
)
_STABLE_MAKER: FeeSchedule = tuple(
    (Decimal(v), Decimal(p))
    for v, p in (
        ("0", "0.2"), ("50000", "0.16"), ("100000", "0.12"), ("250000", "0.08"), ("500000", "0.04"),
        ("1000000", "0.02"), ("10000000", "0.0"), ("100000000", "0.0"),
    )
)
# Recorded XETHXXBT AssetPairs (rest_responses_assorted.json): its taker schedule runs further.
_ETHXBT_TAKER: FeeSchedule = _OLD_TAKER + tuple(
    (Decimal(v), Decimal(p)) for v, p in (("100000000", "0.08"), ("250000000", "0.06"), ("500000000", "0.04"))
)

# name, rest_name, altname, decimals, display_decimals (Kraken's Assets; XBT/USD/EUR from the fixture).
_ASSET_ROWS = (
    ("BTC", "XXBT", "XBT", 10, 5),
    ("ETH", "XETH", "ETH", 10, 5),
    ("XRP", "XXRP", "XRP", 8, 5),
    ("SOL", "SOL", "SOL", 10, 5),
    ("ADA", "ADA", "ADA", 8, 6),
    ("DOGE", "XXDG", "XDG", 8, 2),
    ("DOT", "DOT", "DOT", 10, 8),
    ("LTC", "XLTC", "LTC", 10, 5),
    ("LINK", "LINK", "LINK", 10, 5),
    ("AVAX", "AVAX", "AVAX", 10, 5),
    ("ATOM", "ATOM", "ATOM", 8, 6),
    ("UNI", "UNI", "UNI", 10, 5),
    ("XLM", "XXLM", "XLM", 8, 5),
    ("BCH", "BCH", "BCH", 10, 5),
    ("ETC", "XETC", "ETC", 10, 5),
    ("TRX", "TRX", "TRX", 8, 6),
    ("ALGO", "ALGO", "ALGO", 8, 5),
    ("FIL", "FIL", "FIL", 10, 5),
    ("AAVE", "AAVE", "AAVE", 10, 5),
    ("POL", "POL", "POL", 10, 5),
    ("USDC", "USDC", "USDC", 8, 4),
    ("USDT", "USDT", "USDT", 8, 4),
    ("USD", "ZUSD", "USD", 4, 2),
    ("EUR", "ZEUR", "EUR", 4, 2),
)

ASSETS: Mapping[str, Asset] = MappingProxyType(
    {row[0]: Asset(name=row[0], rest_name=row[1], altname=row[2], decimals=row[3], display_decimals=row[4]) for row in _ASSET_ROWS}
)

# symbol, rest_name, altname, wsname, pair_decimals, lot_decimals, cost_decimals, ordermin, costmin, fees
# (taker, maker), profile: reference price, daily vol %, events/s, spread bps, level gap bps,
# median resting order (quote), median taker (quote), 24h volume (quote).
_PAIR_ROWS = (
    ("BTC/USD", "XXBTZUSD", "XBTUSD", "XBT/USD", 1, 8, 5, "0.0001", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("105000.0", 2.5, 60.0, 0.01, 0.08, 6000.0, 900.0, 250_000_000.0)),
    ("ETH/USD", "XETHZUSD", "ETHUSD", "ETH/USD", 2, 8, 5, "0.002", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("3500.00", 3.5, 45.0, 0.03, 0.13, 4500.0, 700.0, 150_000_000.0)),
    ("XRP/USD", "XXRPZUSD", "XRPUSD", "XRP/USD", 5, 8, 5, "2", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("2.30000", 4.5, 35.0, 0.8, 0.2, 2500.0, 400.0, 80_000_000.0)),
    ("SOL/USD", "SOLUSD", "SOLUSD", "SOL/USD", 2, 8, 5, "0.02", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("160.00", 5.0, 35.0, 0.6, 0.2, 2500.0, 400.0, 60_000_000.0)),
    ("ADA/USD", "ADAUSD", "ADAUSD", "ADA/USD", 6, 8, 5, "10", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("0.650000", 5.0, 25.0, 1.5, 0.3, 1500.0, 250.0, 20_000_000.0)),
    ("DOGE/USD", "XDGUSD", "XDGUSD", "XDG/USD", 7, 8, 5, "50", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("0.1700000", 6.0, 30.0, 1.5, 0.3, 1500.0, 250.0, 30_000_000.0)),
    ("DOT/USD", "DOTUSD", "DOTUSD", "DOT/USD", 4, 8, 5, "1", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("4.0000", 5.0, 20.0, 2.5, 0.5, 1200.0, 200.0, 8_000_000.0)),
    ("LTC/USD", "XLTCZUSD", "LTCUSD", "LTC/USD", 2, 8, 5, "0.05", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("95.00", 4.0, 25.0, 1.0, 0.3, 1500.0, 250.0, 15_000_000.0)),
    ("LINK/USD", "LINKUSD", "LINKUSD", "LINK/USD", 5, 8, 5, "0.2", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("15.00000", 5.0, 20.0, 1.5, 0.3, 1200.0, 200.0, 10_000_000.0)),
    ("AVAX/USD", "AVAXUSD", "AVAXUSD", "AVAX/USD", 2, 8, 5, "0.1", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("22.00", 5.5, 20.0, 2.0, 0.4, 1200.0, 200.0, 8_000_000.0)),
    ("ATOM/USD", "ATOMUSD", "ATOMUSD", "ATOM/USD", 4, 8, 5, "0.5", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("4.5000", 5.0, 15.0, 2.5, 0.5, 1000.0, 150.0, 4_000_000.0)),
    ("UNI/USD", "UNIUSD", "UNIUSD", "UNI/USD", 3, 8, 5, "0.5", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("8.000", 5.5, 15.0, 2.5, 0.5, 1000.0, 150.0, 3_000_000.0)),
    ("XLM/USD", "XXLMZUSD", "XLMUSD", "XLM/USD", 6, 8, 5, "20", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("0.280000", 5.0, 15.0, 2.0, 0.4, 1000.0, 150.0, 5_000_000.0)),
    ("BCH/USD", "BCHUSD", "BCHUSD", "BCH/USD", 2, 8, 5, "0.01", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("450.00", 4.0, 15.0, 1.5, 0.4, 1500.0, 250.0, 6_000_000.0)),
    ("ETC/USD", "XETCZUSD", "ETCUSD", "ETC/USD", 3, 8, 5, "0.3", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("17.000", 5.0, 12.0, 2.5, 0.5, 800.0, 150.0, 2_000_000.0)),
    ("TRX/USD", "TRXUSD", "TRXUSD", "TRX/USD", 6, 8, 5, "20", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("0.270000", 3.5, 12.0, 1.5, 0.4, 800.0, 150.0, 2_000_000.0)),
    ("ALGO/USD", "ALGOUSD", "ALGOUSD", "ALGO/USD", 5, 8, 5, "20", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("0.20000", 5.5, 12.0, 3.0, 0.5, 800.0, 150.0, 2_000_000.0)),
    ("FIL/USD", "FILUSD", "FILUSD", "FIL/USD", 3, 8, 5, "2", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("2.500", 6.0, 10.0, 4.0, 0.6, 700.0, 120.0, 1_500_000.0)),
    ("AAVE/USD", "AAVEUSD", "AAVEUSD", "AAVE/USD", 2, 8, 5, "0.02", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("260.00", 5.5, 12.0, 2.0, 0.4, 1200.0, 200.0, 5_000_000.0)),
    ("POL/USD", "POLUSD", "POLUSD", "POL/USD", 4, 8, 5, "20", "0.5", _OLD_TAKER, _OLD_MAKER,
     ("0.2000", 6.0, 10.0, 4.0, 0.6, 700.0, 120.0, 1_500_000.0)),
    ("USDC/USD", "USDCUSD", "USDCUSD", "USDC/USD", 4, 8, 8, "5", "0.5", _STABLE_TAKER, _STABLE_MAKER,
     ("1.0000", 0.1, 15.0, 1.0, 1.0, 20000.0, 3000.0, 40_000_000.0)),
    ("ETH/BTC", "XETHXXBT", "ETHXBT", "ETH/XBT", 5, 8, 6, "0.01", "0.00002", _ETHXBT_TAKER, _OLD_MAKER,
     ("0.03330", 3.0, 12.0, 1.5, 0.5, 0.05, 0.008, 300.0)),
    ("BTC/USDT", "XBTUSDT", "XBTUSDT", "XBT/USDT", 1, 8, 5, "0.00005", "0.5", _NEW_TAKER, _NEW_MAKER,
     ("105000.0", 2.5, 30.0, 0.02, 0.12, 4000.0, 600.0, 60_000_000.0)),
)


def _build() -> tuple[dict[str, Instrument], dict[str, MarketProfile]]:
    instruments: dict[str, Instrument] = {}
    profiles: dict[str, MarketProfile] = {}
    for (symbol, rest_name, altname, wsname, pair_dec, lot_dec, cost_dec, ordermin, costmin, taker, maker,
         prof) in _PAIR_ROWS:
        base, quote = symbol.split("/")
        instruments[symbol] = Instrument(
            symbol=symbol,
            rest_name=rest_name,
            altname=altname,
            wsname=wsname,
            base=base,
            quote=quote,
            base_asset=ASSETS[base].rest_name,
            quote_asset=ASSETS[quote].rest_name,
            price_precision=pair_dec,
            qty_precision=lot_dec,
            cost_precision=cost_dec,
            price_increment=Decimal(1).scaleb(-pair_dec),
            qty_increment=Decimal(1).scaleb(-lot_dec),
            qty_min=Decimal(ordermin),
            cost_min=Decimal(costmin),
            maker_fee_pct=maker[0][1],
            taker_fee_pct=taker[0][1],
            fees=taker,
            fees_maker=maker,
        )
        price, vol, rate, spread, gap, med_order, med_taker, volume = prof
        profiles[symbol] = MarketProfile(
            reference_price=Decimal(price),
            daily_volatility_pct=vol,
            events_per_second=rate,
            spread_bps=spread,
            level_gap_bps=gap,
            median_order_quote=med_order,
            median_taker_quote=med_taker,
            volume_24h_quote=volume,
        )
    return instruments, profiles


_instruments, _profiles = _build()
INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(_instruments)
PROFILES: Mapping[str, MarketProfile] = MappingProxyType(_profiles)
# The 20 USD majors, the default symbol set.
DEFAULT_SYMBOLS: tuple[str, ...] = tuple(s for s in INSTRUMENTS if s.endswith("/USD") and s != "USDC/USD")

_ALIASES: dict[str, Instrument] = {}
for _inst in INSTRUMENTS.values():
    for _name in (_inst.symbol, _inst.rest_name, _inst.altname, _inst.wsname):
        _ALIASES.setdefault(_name.upper(), _inst)


def instrument_for(name: str) -> Instrument | None:
    """Look a pair up by WS symbol (BTC/USD), REST name (XXBTZUSD), altname (XBTUSD) or wsname (XBT/USD)."""
    return _ALIASES.get(name.upper())
