"""ObserverActor: reads the Tier 1 / Tier 2 aggregates from the database on a timer, publishes them to the
HTTP listener (/snapshot.json and the status page at /, through a SnapshotBoard) and exports them as gauges.

Wiring only: the queries are storage/readmodel.py, the documents and the page core/snapshot.py. A failed
read (database down, locked, slow) keeps the last good snapshot on display, counts the error, resets this
thread's connection and tries again on the next tick; it never crashes the actor, so a database outage
cannot use up the observer's restart budget.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.core.config import Settings
from kraken_runtime.core.control import KNOWN_STRATEGIES
from kraken_runtime.core.snapshot import (
    CARD_KEYS,
    LatencySummary,
    ReadSnapshot,
    build_tier1,
    build_tier2,
    histogram_summary,
    render_pending_page,
    render_tier1_page,
    utc_window,
)
from kraken_runtime.core.supervision import Backoff, ChildSpec, RestartBudget, RestartPolicy
from kraken_runtime.storage import readmodel
from kraken_runtime.storage.db import reset_thread_connection

log = logging.getLogger(__name__)

SYMBOL_STATUSES = ("warming", "ready", "stale", "resyncing", "disabled", "stopped", "crashed")
SAFETY_SEVERITY = {"active": 0, "reduce_only": 1, "halted": 2}
LATENCY_STATS = (("p50", "p50_s"), ("p90", "p90_s"), ("p99", "p99_s"), ("max", "max_s"))  # not "quantile": a gauge
MAX_RULE_LABELS = 32  # risk rules are a fixed set in code; beyond this many, the rest count as "other"
NO_STRATEGY = "none"  # fills of orders that served no intent
ORDER_ACK_HISTOGRAM = "krt_order_ack_seconds"  # the executor's; Tier 2's order-ack summary comes from it


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishedSnapshot:
    tier1: dict[str, Any]
    tier2: dict[str, Any]
    json_body: bytes
    page_body: bytes


class SnapshotBoard:
    """The latest snapshot, written by the observer's thread and read by the HTTP listener's threads."""

    def __init__(self, *, refresh_s: int) -> None:
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._latest: PublishedSnapshot | None = None

    def publish(self, tier1: dict[str, Any], tier2: dict[str, Any]) -> None:
        body = orjson.dumps({"tier1": tier1, "tier2": tier2}, option=orjson.OPT_INDENT_2) + b"\n"
        page = render_tier1_page(tier1, refresh_s=self.refresh_s).encode()
        with self._lock:
            self._latest = PublishedSnapshot(tier1=tier1, tier2=tier2, json_body=body, page_body=page)

    def latest(self) -> PublishedSnapshot | None:
        with self._lock:
            return self._latest

    # --- HTTP routes (status, content type, body) ---------------------------------------------------------

    def snapshot_json(self) -> tuple[int, str, bytes]:
        latest = self.latest()
        if latest is None:
            return 503, "application/json", b'{"error": "no snapshot yet: the observer has not read the database yet"}\n'
        return 200, "application/json", latest.json_body

    def status_page(self) -> tuple[int, str, bytes]:
        latest = self.latest()
        if latest is None:
            return 503, "text/html; charset=utf-8", render_pending_page(refresh_s=min(5, self.refresh_s)).encode()
        return 200, "text/html; charset=utf-8", latest.page_body


class ObserverMetrics:
    """Both tiers as gauges. Labels are bounded: symbols and strategies by configuration, statuses and
    modes by fixed sets, shards by the fleet, rules by the risk envelope's rule set."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = r = registry
        self.window_rows = Gauge("krt_snapshot_window_rows", "Tier 1 cards: rows in the last 24 h UTC (ticker_rows, trade_rows, "
                                 "orders created or updated, fills by exchange time else insert time).", ["kind"], registry=r)
        self.demo_trades = Gauge("krt_snapshot_demo_trades", "Fills listed as demo trades on the Tier 1 page.", registry=r)
        self.notes = Gauge("krt_snapshot_production_notes", "Production notes (strategy pauses, parameter reviews, "
                           "monitoring events) in the window.", registry=r)
        self.timestamp = Gauge("krt_snapshot_timestamp_seconds", "Unix time of the last snapshot read from the database.", registry=r)
        self.read_seconds = Gauge("krt_snapshot_read_seconds", "How long the last snapshot read took.", registry=r)
        self.errors = Counter("krt_snapshot_errors_total", "Snapshot reads that failed (the previous snapshot stays).", registry=r)
        self.symbols = Gauge("krt_snapshot_symbols", "Symbols of each shard's latest run, by stored status.", ["status"], registry=r)
        self.safety_mode = Gauge("krt_snapshot_safety_mode", "Stored safety mode per shard: 0 active, 1 reduce-only, 2 halted.",
                                 ["shard"], registry=r)
        self.exposure = Gauge("krt_snapshot_exposure_usd", "Absolute exposure per symbol from stored fills, marked at the "
                              "latest stored mid, USD.", ["symbol"], registry=r)
        self.pnl = Gauge("krt_snapshot_pnl_usd", "PnL (realised + unrealised) per strategy from stored fills, USD.",
                         ["strategy"], registry=r)
        self.rejections = Gauge("krt_snapshot_risk_rejections", "Risk rejections in the last 24 h UTC, by rule.", ["rule"], registry=r)
        self.tick_to_intent = Gauge("krt_snapshot_tick_to_intent_seconds", "Tick-to-intent latency of the window's intents "
                                    "(state time to intent stored): p50, p90, p99 (nearest rank) and max.", ["stat"], registry=r)
        self.runtime_info = Gauge("krt_runtime_info", "1, labelled with this daemon's configured mode, market and shard "
                                  "(alert rules select on mode).", ["mode", "market", "shard"], registry=r)
        self.daily_loss_limit = Gauge("krt_daily_loss_limit_usd", "The configured risk.daily_loss_limit_usd (alert rules compare "
                                      "the net PnL against it), USD.", registry=r)
        self._shards: set[str] = set()
        self._rules: set[str] = set()

    def register(self, symbols: Iterable[str]) -> None:
        for kind in CARD_KEYS:
            self.window_rows.labels(kind=kind).set(0)
        for status in SYMBOL_STATUSES:
            self.symbols.labels(status=status).set(0)
        for symbol in symbols:
            self.exposure.labels(symbol=symbol).set(0)
        for strategy in (*KNOWN_STRATEGIES, NO_STRATEGY):
            self.pnl.labels(strategy=strategy).set(0)
        for stat, _ in LATENCY_STATS:
            self.tick_to_intent.labels(stat=stat).set(float("nan"))
        self.timestamp.set(0)

    def update(self, tier1: dict[str, Any], tier2: dict[str, Any], *, read_s: float, symbols: Iterable[str]) -> None:
        for kind in CARD_KEYS:
            self.window_rows.labels(kind=kind).set(tier1["cards"][kind])
        self.demo_trades.set(len(tier1["demo_trades"]))
        self.notes.set(len(tier1["production_notes"]))
        statuses = dict.fromkeys(SYMBOL_STATUSES, 0)
        for row in tier2["symbols"]:
            if row["status"] in statuses:
                statuses[row["status"]] += 1
        for status, count in statuses.items():
            self.symbols.labels(status=status).set(count)
        for mode in tier2["safety_modes"]:
            self._shards.add(mode["shard"])
            self.safety_mode.labels(shard=mode["shard"]).set(SAFETY_SEVERITY.get(mode["mode"], 2))
        configured = set(symbols)
        exposure = dict.fromkeys(configured, Decimal(0))
        pnl = dict.fromkeys((*KNOWN_STRATEGIES, NO_STRATEGY), Decimal(0))
        for position in tier2["positions"]:
            if position["symbol"] in exposure:
                exposure[position["symbol"]] += Decimal(position["exposure_usd"])
            strategy = position["strategy"] if position["strategy"] in pnl else NO_STRATEGY
            pnl[strategy] += Decimal(position["pnl_usd"])
        for symbol, value in exposure.items():
            self.exposure.labels(symbol=symbol).set(float(value))
        for strategy, value in pnl.items():
            self.pnl.labels(strategy=strategy).set(float(value))
        rules: dict[str, int] = {}
        for rule, count in tier2["rejections"].items():
            label = rule if (rule in self._rules or len(self._rules) < MAX_RULE_LABELS) else "other"
            self._rules.add(label)
            rules[label] = rules.get(label, 0) + count
        for rule in self._rules:
            self.rejections.labels(rule=rule).set(rules.get(rule, 0))
        latency = tier2["latency"]["tick_to_intent"]
        for stat, key in LATENCY_STATS:
            value = latency[key]
            self.tick_to_intent.labels(stat=stat).set(float("nan") if value is None else value)
        self.read_seconds.set(read_s)
        self.timestamp.set(tier1["snapshot_time_ns"] / 1e9)


class ObserverActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, interval_s: float, demo_trades: int, board: SnapshotBoard,
                 metrics: ObserverMetrics, symbols: tuple[str, ...], wall_ns: Callable[[], int] = time.time_ns,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(link=link)
        self.interval_s = interval_s
        self.demo_trades = demo_trades
        self.board = board
        self.metrics = metrics
        self.symbols = symbols
        self.wall_ns = wall_ns
        self.monotonic = monotonic
        self.failures_in_a_row = 0

    def on_supervised_start(self) -> None:
        self.actor_ref.tell(ReadSnapshot(n=0))  # the first read right after start, not one interval later
        self.every(self.interval_s, lambda n: ReadSnapshot(n=n), name=f"{self.link.name}-tick")

    def handle(self, message: Any) -> Any:
        match message:
            case ReadSnapshot():
                return self.observe()
            case _:
                raise TypeError(f"{self.link.name}: unexpected message {type(message).__name__}")

    def observe(self) -> bool:
        """Read, build, publish, export. False (and the previous snapshot kept) when the read failed."""
        snapshot_ns = self.wall_ns()
        window = utc_window(snapshot_ns)
        started = self.monotonic()
        try:
            tier1 = build_tier1(readmodel.tier1_inputs(window, demo_trade_count=self.demo_trades), snapshot_ns=snapshot_ns)
            tier2 = build_tier2(readmodel.tier2_inputs(window), snapshot_ns=snapshot_ns,
                                order_ack=histogram_in_registry(self.metrics.registry, ORDER_ACK_HISTOGRAM))
        except Exception as exc:  # noqa: BLE001 - a database fault: keep the last snapshot, retry next tick
            reset_thread_connection()
            self.metrics.errors.inc()
            self.failures_in_a_row += 1
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            level = logging.WARNING if self.failures_in_a_row in (1, 10) or self.failures_in_a_row % 100 == 0 else logging.DEBUG
            log.log(level, "%s: snapshot read failed (%d in a row): %s: %s", self.link.name, self.failures_in_a_row,
                    type(exc).__name__, first)
            return False
        read_s = self.monotonic() - started
        self.board.publish(tier1, tier2)
        self.metrics.update(tier1, tier2, read_s=read_s, symbols=self.symbols)
        if self.failures_in_a_row:
            log.info("%s: snapshot read again after %d failures", self.link.name, self.failures_in_a_row)
        self.failures_in_a_row = 0
        return True


OBSERVER_NAME = "observer"


def histogram_in_registry(registry: CollectorRegistry, name: str) -> LatencySummary | None:
    """The summary of a histogram on the registry (all label sets together), or None if it is not there."""
    buckets: dict[float, float] = {}
    found = False
    for family in registry.collect():
        if family.name != name or family.type != "histogram":
            continue
        found = True
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                upper = float(sample.labels["le"])
                buckets[upper] = buckets.get(upper, 0.0) + sample.value
    return histogram_summary(list(buckets.items())) if found else None


def observer_child_spec(settings: Settings, *, board: SnapshotBoard, metrics: ObserverMetrics, budget: RestartBudget,
                        backoff: Backoff) -> ChildSpec:
    """The observer's spec: permanent, not critical (a blind observer never stops trading decisions)."""
    metrics.register(settings.runtime.symbols)
    metrics.daily_loss_limit.set(float(settings.risk.daily_loss_limit_usd))
    metrics.runtime_info.labels(mode=settings.runtime.mode, market=settings.runtime.market, shard=settings.runtime.shard).set(1)
    return ChildSpec(
        name=OBSERVER_NAME,
        factory=lambda link: ObserverActor.start(link=link, interval_s=settings.observer.interval_s,
                                                 demo_trades=settings.observer.demo_trades, board=board, metrics=metrics,
                                                 symbols=settings.runtime.symbols),
        policy=RestartPolicy.PERMANENT, budget=budget, backoff=backoff,
        shutdown_timeout_s=min(5.0, settings.runtime.shutdown_timeout_s), critical=False,
    )
