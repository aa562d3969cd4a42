"""Tier 1 and Tier 2 snapshot documents, built from read-model records (pure: time is passed in).

storage/readmodel.py reads the records below from the database; the observer actor and the `snapshot`
command call `build_tier1` / `build_tier2` and hand the documents to the page, /snapshot.json, the
gauges and the terminal. Nothing here reads a clock, a file or a socket.

The window is the last 24 hours of UTC time ending at the snapshot time, both edges included:
`[snapshot - 24 h, snapshot]`. Fills are timed by the exchange's time when it is stored, otherwise by
their insert time; orders count when created or last updated inside the window (a fill updates its order).

Tier 1 is public: it carries counts, the latest fills as "SYMBOL side — filled(status)", the snapshot
time and plain-language production notes. It never carries parameters, thresholds, venue details,
prices, sizes, real-time signals or an order feed; `TIER1_KEYS` is its whole vocabulary.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

NS_PER_S = 1_000_000_000
WINDOW_NS = 24 * 3600 * NS_PER_S

CARD_KEYS = ("ticker_rows", "trade_rows", "orders", "fills")
CARD_TITLES = {"ticker_rows": "Ticker rows", "trade_rows": "Trade rows", "orders": "Orders", "fills": "Fills"}
INGEST_ONLY_SENTENCE = ("Market data is flowing but nothing executed: this matches ingest-only operation or no "
                        "live execution in this window — not a data error.")
NO_DATA_SENTENCE = "No market data was stored in this window."
NO_NOTES_SENTENCE = "No strategy pauses, parameter reviews or monitoring events in this window."
NOTE_KINDS = ("strategy_paused", "strategy_resumed", "parameter_review", "monitoring")
TIER1_KEYS = ("tier", "snapshot_time", "snapshot_time_ns", "window", "cards", "demo_trades", "execution_note",
              "production_notes", "production_notes_note")

# Actor names become categories on Tier 1: a child's name can carry venue details (a reference venue feed).
_COMPONENT_CATEGORIES = (("feed:", "market data feed"), ("state:", "symbol state holder"),
                         ("strategy:", "strategy"), ("scanner", "scanner"), ("risk", "risk envelope"),
                         ("executor", "executor"), ("ingest", "storage writer"), ("retention", "storage writer"),
                         ("run-lease", "run lease"), ("observer", "observer"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    start_ns: int
    end_ns: int

    def contains(self, t_ns: int) -> bool:
        return self.start_ns <= t_ns <= self.end_ns


def utc_window(snapshot_ns: int, length_ns: int = WINDOW_NS) -> Window:
    """The window ending at the snapshot time, both edges included."""
    return Window(start_ns=snapshot_ns - length_ns, end_ns=snapshot_ns)


# --- read-model records (storage/readmodel.py builds them) ----------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowCounts:
    ticker_rows: int
    trade_rows: int
    orders: int
    fills: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoTrade:
    symbol: str
    side: str
    order_status: str
    filled_at_ns: int  # exchange time when stored, otherwise insert time


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One row of an audit table, already classified by the read model.

    kind: strategy_paused | strategy_resumed | parameter_review | monitoring; source: operator | automatic;
    subject: a strategy name (strategy kinds), an actor name or a safety mode (monitoring)."""

    at_ns: int
    kind: str
    source: str
    subject: str
    event: str = ""  # monitoring: safety_mode | actor_disabled


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier1Inputs:
    window: Window
    counts: WindowCounts
    demo_trades: tuple[DemoTrade, ...]
    audit: tuple[AuditEvent, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolStateRow:
    shard: str
    run_id: int
    run_status: str
    run_heartbeat_ns: int | None  # the run's lease: a "running" run whose lease is old died without saying so
    symbol: str
    status: str
    epoch: int
    resyncs: int
    checksum_failures: int
    l3_quality: Decimal | None
    spread_bps: Decimal | None
    regime: str | None
    updated_at_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorHealthRow:
    shard: str
    run_id: int
    actor: str
    last_event: str
    last_event_at_ns: int
    restarts: int
    failures: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardModeRow:
    shard: str
    mode: str
    source: str
    reason: str
    since_ns: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FillRow:
    strategy: str  # "" when the order served no intent (manual, reconciled)
    symbol: str
    side: str  # buy | sell
    price: Decimal
    qty: Decimal
    fee: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier2Inputs:
    window: Window
    symbols: tuple[SymbolStateRow, ...]
    actors: tuple[ActorHealthRow, ...]
    modes: tuple[ShardModeRow, ...]
    fills: tuple[FillRow, ...]  # every stored fill (positions are cumulative)
    marks: Mapping[str, Decimal]  # symbol -> latest stored mid
    rejections: Mapping[str, int]  # rule -> rejected decisions in the window
    tick_to_intent_ns: tuple[int, ...]  # intent created - state time, intents in the window


# --- pure computations ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    strategy: str
    symbol: str
    net_qty: Decimal
    exposure_usd: Decimal  # |net qty| x mark
    pnl_usd: Decimal  # cash flow (sells - buys - fees) + net qty x mark: realised plus unrealised
    mark: Decimal | None


def positions(fills: Iterable[FillRow], marks: Mapping[str, Decimal]) -> tuple[Position, ...]:
    """Net position, exposure and PnL per (strategy, symbol), marked at the latest mid (else the last fill
    price), in the quote currency (USD for the /USD pairs the runtime trades). Decimal throughout."""
    net: dict[tuple[str, str], Decimal] = {}
    cash: dict[tuple[str, str], Decimal] = {}
    last_price: dict[str, Decimal] = {}
    for fill in fills:
        if fill.side not in ("buy", "sell"):
            raise ValueError(f"fill side {fill.side!r}: expected buy or sell")
        key = (fill.strategy, fill.symbol)
        signed = fill.qty if fill.side == "buy" else -fill.qty
        net[key] = net.get(key, Decimal(0)) + signed
        cash[key] = cash.get(key, Decimal(0)) - signed * fill.price - fill.fee
        last_price[fill.symbol] = fill.price
    result = []
    for key in sorted(net):
        strategy, symbol = key
        mark = marks.get(symbol, last_price.get(symbol))
        value = net[key] * mark if mark is not None else Decimal(0)
        result.append(Position(strategy=strategy, symbol=symbol, net_qty=net[key], exposure_usd=abs(value),
                               pnl_usd=cash[key] + value, mark=mark))
    return tuple(result)


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencySummary:
    count: int
    p50_s: float | None
    p90_s: float | None
    p99_s: float | None
    max_s: float | None


def summarize_latency(values_ns: Sequence[int]) -> LatencySummary:
    """Nearest-rank quantiles of latencies given in nanoseconds, reported in seconds."""
    if not values_ns:
        return LatencySummary(count=0, p50_s=None, p90_s=None, p99_s=None, max_s=None)
    ordered = sorted(values_ns)

    def rank(q: float) -> float:
        index = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))  # nearest rank
        return ordered[index] / NS_PER_S

    return LatencySummary(count=len(ordered), p50_s=rank(0.5), p90_s=rank(0.9), p99_s=rank(0.99), max_s=ordered[-1] / NS_PER_S)


def histogram_summary(buckets: Sequence[tuple[float, float]]) -> LatencySummary:
    """Quantiles from a Prometheus histogram's cumulative buckets `(upper bound, count)` (the last bound
    +Inf): each is the upper bound of the bucket its rank falls in, an upper estimate; None when the rank
    falls in +Inf. A histogram keeps no maximum, so max_s is None."""
    ordered = sorted(buckets)
    total = int(ordered[-1][1]) if ordered else 0
    if total <= 0:
        return LatencySummary(count=0, p50_s=None, p90_s=None, p99_s=None, max_s=None)

    def bound(q: float) -> float | None:
        rank = math.ceil(q * total)
        for upper, cumulative in ordered:
            if cumulative >= rank:
                return None if math.isinf(upper) else upper
        return None

    return LatencySummary(count=total, p50_s=bound(0.5), p90_s=bound(0.9), p99_s=bound(0.99), max_s=None)


def iso_utc(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns // NS_PER_S, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def component_category(actor: str) -> str:
    for prefix, category in _COMPONENT_CATEGORIES:
        if actor.startswith(prefix):
            return category
    return "component"


def _note_text(event: AuditEvent) -> str:
    who = "by an operator" if event.source == "operator" else "automatically"
    if event.kind == "strategy_paused":
        return f"Strategy {event.subject} paused {who}."
    if event.kind == "strategy_resumed":
        return f"Strategy {event.subject} resumed {who}."
    if event.kind == "parameter_review":
        return f"Parameters of strategy {event.subject} reviewed."
    if event.event == "safety_mode":
        mode = {"active": "active", "reduce_only": "reduce-only", "halted": "halted"}.get(event.subject, "changed")
        return f"Trading mode set to {mode} {who}."
    return f"A {component_category(event.subject)} was disabled {who} after repeated failures."


# --- documents --------------------------------------------------------------------------------------------


def build_tier1(inputs: Tier1Inputs, *, snapshot_ns: int, max_notes: int = 20) -> dict[str, Any]:
    """The public document. Counts, the latest fills as text, the time, and the notes; nothing else."""
    counts = inputs.counts
    cards = {key: int(getattr(counts, key)) for key in CARD_KEYS}
    if cards["orders"] == 0 and cards["fills"] == 0:
        execution_note: str | None = INGEST_ONLY_SENTENCE if cards["ticker_rows"] + cards["trade_rows"] > 0 else NO_DATA_SENTENCE
    else:
        execution_note = None
    trades = [{"symbol": t.symbol, "side": t.side, "status": t.order_status, "time": iso_utc(t.filled_at_ns),
               "text": f"{t.symbol} {t.side} — filled({t.order_status})"} for t in inputs.demo_trades]
    events = sorted(inputs.audit, key=lambda e: e.at_ns, reverse=True)[:max_notes]
    notes = [{"time": iso_utc(e.at_ns), "kind": e.kind if e.kind in NOTE_KINDS else "monitoring", "text": _note_text(e)}
             for e in events]
    return {
        "tier": 1,
        "snapshot_time": iso_utc(snapshot_ns),
        "snapshot_time_ns": snapshot_ns,
        "window": {"start": iso_utc(inputs.window.start_ns), "end": iso_utc(inputs.window.end_ns), "hours": 24},
        "cards": cards,
        "demo_trades": trades,
        "execution_note": execution_note,
        "production_notes": notes,
        "production_notes_note": None if notes else NO_NOTES_SENTENCE,
    }


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def build_tier2(inputs: Tier2Inputs, *, snapshot_ns: int, order_ack: LatencySummary | None = None) -> dict[str, Any]:
    """The engineers' document: state, health, modes, exposure and PnL, rejections, latencies. Order
    acknowledgement latency is not stored: the daemon passes `order_ack` from its krt_order_ack_seconds
    histogram (since it started); without it the document says where to look."""
    held = positions(inputs.fills, inputs.marks)
    latency = summarize_latency(inputs.tick_to_intent_ns)
    return {
        "tier": 2,
        "snapshot_time": iso_utc(snapshot_ns),
        "snapshot_time_ns": snapshot_ns,
        "window": {"start": iso_utc(inputs.window.start_ns), "end": iso_utc(inputs.window.end_ns), "hours": 24},
        "symbols": [{"shard": s.shard, "run_id": s.run_id, "run_status": s.run_status,
                     "run_heartbeat": None if s.run_heartbeat_ns is None else iso_utc(s.run_heartbeat_ns), "symbol": s.symbol,
                     "status": s.status, "epoch": s.epoch, "resyncs": s.resyncs, "checksum_failures": s.checksum_failures,
                     "l3_quality": _dec(s.l3_quality), "spread_bps": _dec(s.spread_bps), "regime": s.regime,
                     "updated_at": iso_utc(s.updated_at_ns)} for s in inputs.symbols],
        "actors": [{"shard": a.shard, "run_id": a.run_id, "actor": a.actor, "last_event": a.last_event,
                    "last_event_at": iso_utc(a.last_event_at_ns), "restarts": a.restarts, "failures": a.failures}
                   for a in inputs.actors],
        "safety_modes": [{"shard": m.shard, "mode": m.mode, "source": m.source, "reason": m.reason,
                          "since": None if m.since_ns is None else iso_utc(m.since_ns)} for m in inputs.modes],
        "positions": [{"strategy": p.strategy, "symbol": p.symbol, "net_qty": _dec(p.net_qty),
                       "exposure_usd": _dec(p.exposure_usd), "pnl_usd": _dec(p.pnl_usd), "mark": _dec(p.mark)} for p in held],
        "exposure_usd": _dec(sum((p.exposure_usd for p in held), Decimal(0))),
        "pnl_usd": _dec(sum((p.pnl_usd for p in held), Decimal(0))),
        "rejections": {rule: int(count) for rule, count in sorted(inputs.rejections.items())},
        "latency": {
            "tick_to_intent": {"count": latency.count, "p50_s": latency.p50_s, "p90_s": latency.p90_s,
                               "p99_s": latency.p99_s, "max_s": latency.max_s},
            "order_ack": (
                {"count": None, "note": "not stored in the database: see krt_order_ack_seconds on /metrics"} if order_ack is None
                else {"count": order_ack.count, "p50_s": order_ack.p50_s, "p90_s": order_ack.p90_s, "p99_s": order_ack.p99_s,
                      "note": "krt_order_ack_seconds since the daemon started; bucket upper bounds"}),
        },
    }


# --- rendering --------------------------------------------------------------------------------------------


_PAGE_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;padding:1rem;background:#f6f7f9;color:#1d2330}
h1{font-size:1.3rem;margin:0 0 .25rem}h2{font-size:1.05rem;margin:1.25rem 0 .5rem}
.meta{color:#556;font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.75rem;margin-top:1rem}
.card{background:#fff;border-radius:.5rem;padding:.75rem 1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card .label{font-size:.85rem;color:#556}.card .value{font-size:1.6rem;font-weight:600}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem .75rem;margin-top:1rem}
ul{padding-left:1.2rem}li{margin:.2rem 0}
"""


def render_tier1_page(doc: Mapping[str, Any], *, refresh_s: int) -> str:
    """The public status page: HTML5, refreshes itself every `refresh_s` seconds, readable on a phone.
    It shows only what the Tier 1 document holds."""
    esc = html.escape
    cards = "".join(
        f'<div class="card" data-card="{key}"><div class="label">{esc(CARD_TITLES[key])}</div>'
        f'<div class="value">{int(doc["cards"][key])}</div></div>' for key in CARD_KEYS)
    note = f'<p class="note" id="execution-note">{esc(doc["execution_note"])}</p>' if doc.get("execution_note") else ""
    trades = "".join(f'<li data-trade>{esc(t["text"])} <span class="meta">{esc(t["time"])}</span></li>'
                     for t in doc["demo_trades"]) or '<li class="meta">No fills in this window.</li>'
    notes = "".join(f'<li>{esc(n["text"])} <span class="meta">{esc(n["time"])}</span></li>' for n in doc["production_notes"])
    if not notes:
        notes = f'<li class="meta">{esc(doc["production_notes_note"] or NO_NOTES_SENTENCE)}</li>'
    window = doc["window"]
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{int(refresh_s)}">'
        f"<title>kraken-runtime status</title><style>{_PAGE_STYLE}</style></head><body>"
        "<h1>kraken-runtime status</h1>"
        f'<div class="meta">Snapshot <time id="snapshot-time" datetime="{esc(doc["snapshot_time"])}" '
        f'data-ns="{int(doc["snapshot_time_ns"])}">'
        f'{esc(doc["snapshot_time"])}</time> · last 24 h UTC ({esc(window["start"])} to {esc(window["end"])})</div>'
        f'<div class="cards">{cards}</div>{note}'
        f'<h2>Demo trades</h2><ul id="demo-trades">{trades}</ul>'
        f'<h2>Production notes</h2><ul id="production-notes">{notes}</ul>'
        '<p class="meta">A read model of the database, refreshed periodically; not a live feed.</p>'
        "</body></html>\n"
    )


def render_pending_page(*, refresh_s: int) -> str:
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="refresh" content="{int(refresh_s)}"><title>kraken-runtime status</title></head>'
            "<body><h1>kraken-runtime status</h1><p>The first snapshot is being read from the database.</p></body></html>\n")


def render_text(doc: Mapping[str, Any]) -> str:
    """Either tier as lines for a terminal."""
    lines = [f"tier {doc['tier']} snapshot {doc['snapshot_time']} (window {doc['window']['start']} .. {doc['window']['end']})"]
    if doc["tier"] == 1:
        lines += [f"  {CARD_TITLES[key]:<11} {doc['cards'][key]}" for key in CARD_KEYS]
        if doc["execution_note"]:
            lines.append(doc["execution_note"])
        lines.append("demo trades:" if doc["demo_trades"] else "demo trades: none in this window")
        lines += [f"  {t['time']}  {t['text']}" for t in doc["demo_trades"]]
        lines.append("production notes:" if doc["production_notes"] else f"production notes: {doc['production_notes_note']}")
        lines += [f"  {n['time']}  {n['text']}" for n in doc["production_notes"]]
        return "\n".join(lines)
    lines.append("safety modes: " + (", ".join(f"{m['shard']}={m['mode']}" for m in doc["safety_modes"]) or "none recorded"))
    lines.append("symbols:" if doc["symbols"] else "symbols: none")
    for s in doc["symbols"]:
        lines.append(f"  {s['shard']:<10} {s['symbol']:<10} {s['status']:<9} run={s['run_id']} ({s['run_status']}, lease "
                     f"{s['run_heartbeat']}) epoch={s['epoch']} resyncs={s['resyncs']} "
                     f"checksum_failures={s['checksum_failures']} l3={s['l3_quality']} spread_bps={s['spread_bps']} "
                     f"regime={s['regime']}")
    lines.append("actors:" if doc["actors"] else "actors: no events")
    for a in doc["actors"]:
        lines.append(f"  {a['shard']:<10} {a['actor']:<22} {a['last_event']:<9} restarts={a['restarts']} failures={a['failures']}")
    lines.append(f"exposure_usd={doc['exposure_usd']} pnl_usd={doc['pnl_usd']}")
    for p in doc["positions"]:
        lines.append(f"  {p['strategy'] or '-':<20} {p['symbol']:<10} net={p['net_qty']} exposure_usd={p['exposure_usd']} "
                     f"pnl_usd={p['pnl_usd']}")
    lines.append("rejections: " + (", ".join(f"{rule}={n}" for rule, n in doc["rejections"].items()) or "none"))
    t2i = doc["latency"]["tick_to_intent"]
    lines.append(f"tick-to-intent: n={t2i['count']} p50={t2i['p50_s']} p90={t2i['p90_s']} p99={t2i['p99_s']} max={t2i['max_s']}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadSnapshot:
    """Observer timer: read the aggregates from the database now (n counts the ticks)."""

    n: int
