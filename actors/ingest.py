"""Ingest wiring: the resolved market endpoints (`MarketSource`, opened by kraken_runtime/market.py), and the
child specs of the feeds, reference feed, state holders and retention job, in start order.

Connection layout (`feed.connection`): `shared` (default) runs one FeedActor `feed:public` carrying every
symbol on one connection; `per_symbol` runs one FeedActor and one public connection per symbol, named
`feed:SYMBOL`. See docs/ARCHITECTURE.md ("Ingest") for the measurements behind the default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from kraken_runtime.actors.feed import FeedActor, FeedEndpoints, FrameBacklog, SharedConnectionBudget
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.actors.ingest_writer import IngestWriterActor
from kraken_runtime.actors.reference import RefFeedActor
from kraken_runtime.actors.retention import RetentionActor
from kraken_runtime.actors.state import SymbolStateActor
from kraken_runtime.core.config import Secrets, Settings
from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.core.supervision import Backoff, ChildSpec, RestartBudget, RestartPolicy

log = logging.getLogger(__name__)

WRITER_NAME = "ingest-writer"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSource:
    """Resolved endpoints and credentials for ingest."""

    ws_public_url: str
    ws_l3_url: str | None
    rest_url: str
    reference_url: str | None
    api_key: str | None
    api_secret: str | None
    precisions: dict[str, tuple[int, int]]
    sim: Any = None  # the in-process SimHandle, when market is sim (anything with stop())
    ws_auth_url: str | None = None  # Kraken's authenticated WS v2 (the live kraken venue's private session)

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.stop()


def _token_provider(source: MarketSource, settings: Settings, version: str) -> Callable[[], str] | None:
    if not (source.api_key and source.api_secret):
        return None

    def fetch() -> str:
        client = KrakenRestClient(version=version, base_url=source.rest_url, api_key=source.api_key, api_secret=source.api_secret,
                                  timeout_s=(settings.kraken.rest_timeout_s, settings.kraken.rest_timeout_s))
        try:
            return client.get_websockets_token().token
        finally:
            client.close()

    return fetch


def feed_name_for(settings: Settings, symbol: str) -> str:
    return f"feed:{symbol}" if settings.feed.connection == "per_symbol" else "feed:public"


def ingest_child_specs(
    settings: Settings,
    *,
    run_id: int,
    source: MarketSource,
    send: Callable[[str, Any], bool],
    send_latest: Callable[[str, Any, Any], bool],
    metrics: IngestMetrics,
    budget: RestartBudget,
    backoff: Backoff,
    version: str,
    scanner_name: str | None = None,
    peer_state: Callable[[str], str | None] | None = None,
) -> tuple[ChildSpec, ...]:
    """The writer first, then the state holders (so a feed's first frames have somewhere to go), then the
    feeds, then the rest; they stop in reverse, so the writer stores the state holders' last rows."""
    symbols = settings.runtime.symbols
    metrics.register_symbols(symbols)
    connection_budget = SharedConnectionBudget(settings.feed.connection_budget, settings.feed.connection_budget_window_s)
    endpoints = FeedEndpoints(ws_public_url=source.ws_public_url,
                              ws_l3_url=source.ws_l3_url if settings.feed.level3 else None,
                              token_provider=_token_provider(source, settings, version))
    shutdown_s = min(5.0, settings.runtime.shutdown_timeout_s)
    backlogs = {symbol: FrameBacklog() for symbol in symbols}  # shared by a symbol's feed(s) and state holder
    specs: list[ChildSpec] = []

    def spec(name: str, factory: Callable[[Any], Any]) -> ChildSpec:
        return ChildSpec(name=name, factory=factory, policy=RestartPolicy.PERMANENT, budget=budget, backoff=backoff,
                         shutdown_timeout_s=shutdown_s, critical=False)

    specs.append(spec(WRITER_NAME, lambda link: IngestWriterActor.start(
        link=link, run_id=run_id, interval_s=settings.state.write_interval_ms / 1000, metrics=metrics)))

    def state_holder(symbol: str) -> Callable[[Any], Any]:
        return lambda link: SymbolStateActor.start(
            link=link, symbol=symbol, run_id=run_id, settings=settings.state, book_depth=settings.feed.book_depth,
            ref_max_age_ms=settings.reference.max_age_ms, feed_name=feed_name_for(settings, symbol), send=send,
            send_latest=send_latest, metrics=metrics, scanner_name=scanner_name, precision=source.precisions.get(symbol),
            peer_state=peer_state, writer_name=WRITER_NAME, backlog=backlogs[symbol])

    def feed(group: tuple[str, ...]) -> Callable[[Any], Any]:
        return lambda link: FeedActor.start(
            link=link, symbols=group, settings=settings.feed, endpoints=endpoints, send=send, budget=connection_budget,
            metrics=metrics, precisions={s: source.precisions[s] for s in group if s in source.precisions},
            backlogs={s: backlogs[s] for s in group})

    for symbol in symbols:
        specs.append(spec(f"state:{symbol}", state_holder(symbol)))
    groups = [(symbol,) for symbol in symbols] if settings.feed.connection == "per_symbol" else [tuple(symbols)]
    for group in groups:
        specs.append(spec(feed_name_for(settings, group[0]), feed(group)))
    if source.reference_url:
        # Its own budget: Kraken's limit counts connections to Kraken, and a flapping reference venue must
        # never spend the attempts the Kraken feeds need to come back.
        reference_budget = SharedConnectionBudget(settings.feed.connection_budget, settings.feed.connection_budget_window_s)
        specs.append(spec("feed:reference", lambda link: RefFeedActor.start(
            link=link, symbols=symbols, url=source.reference_url, settings=settings.feed, send=send, budget=reference_budget)))
    specs.append(spec("retention", lambda link: RetentionActor.start(
        link=link, retention_days=settings.storage.retention_days, interval_s=settings.state.retention_interval_s, metrics=metrics)))
    return tuple(specs)
