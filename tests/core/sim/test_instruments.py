import json
from decimal import Decimal

from kraken_runtime.core.sim.instruments import ASSETS, DEFAULT_SYMBOLS, INSTRUMENTS, PROFILES, instrument_for


def test_table_has_at_least_twenty_usd_symbols_with_kraken_precisions():
    assert len(DEFAULT_SYMBOLS) >= 20
    assert (INSTRUMENTS["BTC/USD"].price_precision, INSTRUMENTS["BTC/USD"].qty_precision) == (1, 8)
    assert (INSTRUMENTS["ETH/USD"].price_precision, INSTRUMENTS["ETH/USD"].qty_precision) == (2, 8)
    assert (INSTRUMENTS["XRP/USD"].price_precision, INSTRUMENTS["XRP/USD"].qty_precision) == (5, 8)
    for inst in INSTRUMENTS.values():
        assert inst.price_increment == Decimal(1).scaleb(-inst.price_precision)
        assert inst.qty_min % inst.qty_increment == 0
        assert inst.base_asset == ASSETS[inst.base].rest_name and inst.quote_asset == ASSETS[inst.quote].rest_name
        assert PROFILES[inst.symbol].reference_price % inst.price_increment == 0
        assert inst.maker_fee_pct <= inst.taker_fee_pct


def test_names_resolve_from_ws_rest_altname_and_wsname():
    for name in ("BTC/USD", "XXBTZUSD", "XBTUSD", "XBT/USD", "xbtusd"):
        assert instrument_for(name).symbol == "BTC/USD"
    assert instrument_for("DOGE/USD").rest_name == "XDGUSD"
    assert instrument_for("NOPE/USD") is None


def _check_against(inst, recorded, assets=None):
    assert inst.altname == recorded["altname"]
    assert inst.wsname == recorded["wsname"]
    assert inst.base_asset == recorded["base"] and inst.quote_asset == recorded["quote"]
    assert inst.price_precision == recorded["pair_decimals"]
    assert inst.qty_precision == recorded["lot_decimals"]
    assert inst.cost_precision == recorded["cost_decimals"]
    assert inst.qty_min == Decimal(recorded["ordermin"])
    assert inst.cost_min == Decimal(recorded["costmin"])
    assert inst.price_increment == Decimal(recorded["tick_size"])
    assert [(v, p) for v, p in inst.fees] == [(Decimal(str(v)), Decimal(str(p))) for v, p in recorded["fees"]]
    assert [(v, p) for v, p in inst.fees_maker] == [(Decimal(str(v)), Decimal(str(p))) for v, p in recorded["fees_maker"]]


def test_pairs_agree_with_recorded_asset_pairs(kraken_data):
    public = json.loads((kraken_data / "rest" / "public_asset_pairs.json").read_text())["result"]
    _check_against(instrument_for("XBTUSDT"), public["XBTUSDT"])
    assorted = json.loads((kraken_data / "rest" / "rest_responses_assorted.json").read_text())
    pairs = assorted["responses"]["public_response_json.rs"]["get_tradable_asset_pairs_json"]["result"]
    for rest_name, recorded in pairs.items():
        _check_against(instrument_for(rest_name), recorded)
    recorded_assets = assorted["responses"]["public_response_json.rs"]["get_asset_info_json"]["result"]
    for rest_name, recorded in recorded_assets.items():
        asset = next(a for a in ASSETS.values() if a.rest_name == rest_name)
        assert (asset.altname, asset.decimals, asset.display_decimals) == (
            recorded["altname"], recorded["decimals"], recorded["display_decimals"])
