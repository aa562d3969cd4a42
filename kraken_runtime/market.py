"""Where market data comes from: the local exchange started in-process (market: sim) or the configured Kraken
endpoints (market: kraken). Part of the composition root: it starts a server, so it lives beside the command
line, not in actors/."""

from __future__ import annotations

import logging

from kraken_runtime.actors.ingest import MarketSource
from kraken_runtime.core.config import Secrets, Settings
from kraken_runtime.core.sim.instruments import INSTRUMENTS
from kraken_runtime.sim_server.app import start_sim

log = logging.getLogger(__name__)


def open_market(settings: Settings, secrets: Secrets) -> MarketSource:
    """Start the local exchange in-process (market: sim) or point at the configured Kraken endpoints."""
    symbols = settings.runtime.symbols
    if settings.runtime.market == "sim":
        unknown = [symbol for symbol in symbols if symbol not in INSTRUMENTS]
        if unknown:
            raise ValueError(f"the local exchange does not list {', '.join(unknown)}; it lists {', '.join(sorted(INSTRUMENTS))}")
        handle = start_sim(host=settings.sim.host, port=settings.sim.port, symbols=symbols, seed=settings.sim.seed)
        endpoints = handle.endpoints
        log.info("market: local exchange started at %s (public %s)", endpoints["rest"], endpoints["ws_public"])
        precisions = {symbol: (INSTRUMENTS[symbol].price_precision, INSTRUMENTS[symbol].qty_precision) for symbol in symbols}
        return MarketSource(ws_public_url=endpoints["ws_public"], ws_l3_url=endpoints["ws_l3"], rest_url=endpoints["rest"],
                            reference_url=endpoints["ref"], api_key=endpoints["api_key"], api_secret=endpoints["api_secret"],
                            precisions=precisions, sim=handle, ws_auth_url=endpoints["ws_auth"])
    kraken = settings.kraken
    key = secrets.api_key.get_secret_value() if secrets.api_key else None
    secret = secrets.api_secret.get_secret_value() if secrets.api_secret else None
    return MarketSource(ws_public_url=kraken.ws_public_url, ws_l3_url=kraken.ws_l3_url if key else None, rest_url=kraken.rest_url,
                        reference_url=settings.reference.ws_url or None, api_key=key, api_secret=secret, precisions={},
                        ws_auth_url=kraken.ws_auth_url)
