"""Read-model queries behind the Tier 1 / Tier 2 snapshots (core/snapshot.py builds the documents).

The window is passed in (core.snapshot.utc_window), both edges included. Its semantics:
- ticker and trade rows are timed by their receive time;
- fills by the exchange's time when stored (`ts_exchange_ns`), otherwise by their insert time
  (`created_at_ns`);
- orders count when created OR last updated inside the window, so an order placed yesterday and filled
  today counts today;
- audit rows (control commands, actor events, strategy settings, safety-mode changes) by their own time.

Everything reads; nothing here writes. Money is summed by the caller in Decimal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import peewee as pw

from kraken_runtime.core.snapshot import (
    ActorHealthRow,
    AuditEvent,
    DemoTrade,
    FillRow,
    ShardModeRow,
    SymbolStateRow,
    Tier1Inputs,
    Tier2Inputs,
    Window,
    WindowCounts,
)
from kraken_runtime.storage.models import (
    ActorEvent,
    ControlCommand,
    Fill,
    Intent,
    MarketTicker,
    MarketTrade,
    Order,
    RiskEvent,
    Run,
    RunSymbolState,
    SafetyModeChange,
    StrategySetting,
)

MAX_LATENCY_SAMPLES = 10_000  # the newest intents of the window feed the tick-to-intent summary


def _between(column: Any, window: Window) -> pw.Expression:
    return (column >= window.start_ns) & (column <= window.end_ns)


def fill_time() -> Any:
    """A fill's time: exchange time when present, otherwise insert time."""
    return pw.fn.COALESCE(Fill.ts_exchange_ns, Fill.created_at_ns)


def window_counts(window: Window) -> WindowCounts:
    return WindowCounts(
        ticker_rows=MarketTicker.select().where(_between(MarketTicker.ts_recv_ns, window)).count(),
        trade_rows=MarketTrade.select().where(_between(MarketTrade.ts_recv_ns, window)).count(),
        orders=Order.select().where(_between(Order.created_at_ns, window) | _between(Order.updated_at_ns, window)).count(),
        fills=Fill.select().where(_between(fill_time(), window)).count(),
    )


def demo_trades(window: Window, limit: int) -> tuple[DemoTrade, ...]:
    """The latest `limit` fills of the window, newest first, with their order's status."""
    if limit <= 0:
        return ()
    at = fill_time()
    rows = (Fill.select(Fill.symbol, Fill.side, Order.status, at.alias("at"))
            .join(Order, on=(Fill.order == Order.id))
            .where(_between(at, window))
            .order_by(at.desc(), Fill.id.desc())
            .limit(limit).tuples())
    return tuple(DemoTrade(symbol=symbol, side=side, order_status=status, filled_at_ns=int(t)) for symbol, side, status, t in rows)


def audit_events(window: Window) -> tuple[AuditEvent, ...]:
    """Strategy pauses (operator commands, automatic disables), parameter reviews and monitoring events."""
    events: list[AuditEvent] = []
    commands = (ControlCommand.select(ControlCommand.command, ControlCommand.args, ControlCommand.applied_at_ns)
                .where(ControlCommand.command.in_(("disable-strategy", "enable-strategy")),
                       ControlCommand.status == "applied", _between(ControlCommand.applied_at_ns, window)))
    for row in commands:
        strategy = str((row.args or {}).get("strategy", "?"))
        kind = "strategy_paused" if row.command == "disable-strategy" else "strategy_resumed"
        events.append(AuditEvent(at_ns=row.applied_at_ns, kind=kind, source="operator", subject=strategy))
    disabled = ActorEvent.select(ActorEvent.actor, ActorEvent.created_at_ns).where(
        ActorEvent.event == "disabled", _between(ActorEvent.created_at_ns, window))
    for row in disabled:
        if row.actor.startswith("strategy:"):
            events.append(AuditEvent(at_ns=row.created_at_ns, kind="strategy_paused", source="automatic",
                                     subject=row.actor.split(":", 1)[1]))
        else:
            events.append(AuditEvent(at_ns=row.created_at_ns, kind="monitoring", source="automatic", subject=row.actor,
                                     event="actor_disabled"))
    reviews = StrategySetting.select(StrategySetting.name, StrategySetting.updated_at_ns).where(
        StrategySetting.params.is_null(False), _between(StrategySetting.updated_at_ns, window))
    for row in reviews:
        events.append(AuditEvent(at_ns=row.updated_at_ns, kind="parameter_review", source="operator", subject=row.name))
    modes = SafetyModeChange.select(SafetyModeChange.mode, SafetyModeChange.source, SafetyModeChange.created_at_ns).where(
        _between(SafetyModeChange.created_at_ns, window))
    for row in modes:
        events.append(AuditEvent(at_ns=row.created_at_ns, kind="monitoring",
                                 source="operator" if row.source == "operator" else "automatic",
                                 subject=row.mode, event="safety_mode"))
    events.sort(key=lambda e: e.at_ns, reverse=True)
    return tuple(events)


def tier1_inputs(window: Window, *, demo_trade_count: int) -> Tier1Inputs:
    return Tier1Inputs(window=window, counts=window_counts(window), demo_trades=demo_trades(window, demo_trade_count),
                       audit=audit_events(window))


# --- Tier 2 -----------------------------------------------------------------------------------------------


def latest_runs_by_shard() -> dict[str, tuple[int, str, int | None]]:
    """shard -> (run id, status, lease heartbeat) of its most recently started run."""
    latest: dict[str, tuple[int, str, int | None]] = {}
    rows = Run.select(Run.id, Run.shard, Run.status, Run.heartbeat_at_ns).order_by(Run.started_at_ns.desc(), Run.id.desc()).tuples()
    for run_id, shard, status, heartbeat in rows:
        latest.setdefault(shard, (run_id, status, heartbeat))
    return latest


def _symbol_rows(runs: dict[str, tuple[int, str, int | None]]) -> tuple[list[SymbolStateRow], dict[str, Decimal]]:
    by_id = {run_id: (shard, status, heartbeat) for shard, (run_id, status, heartbeat) in runs.items()}
    rows: list[SymbolStateRow] = []
    marks: dict[str, tuple[int, Decimal]] = {}
    if not by_id:
        return rows, {}
    query = RunSymbolState.select().where(RunSymbolState.run.in_(list(by_id))).order_by(RunSymbolState.symbol)
    for r in query:
        shard, run_status, heartbeat = by_id[r.run_id]
        rows.append(SymbolStateRow(shard=shard, run_id=r.run_id, run_status=run_status, run_heartbeat_ns=heartbeat,
                                   symbol=r.symbol, status=r.status,
                                   epoch=r.epoch, resyncs=r.resyncs, checksum_failures=r.checksum_failures,
                                   l3_quality=r.l3_quality, spread_bps=r.spread_bps, regime=r.regime,
                                   updated_at_ns=r.updated_at_ns))
        if r.mid is not None and (r.symbol not in marks or marks[r.symbol][0] < r.updated_at_ns):
            marks[r.symbol] = (r.updated_at_ns, r.mid)
    rows.sort(key=lambda s: (s.shard, s.symbol))
    return rows, {symbol: mid for symbol, (_, mid) in marks.items()}


def _actor_rows(runs: dict[str, tuple[int, str, int | None]]) -> list[ActorHealthRow]:
    by_id = {run_id: shard for shard, (run_id, _, _) in runs.items()}
    if not by_id:
        return []
    stats: dict[tuple[int, str], dict[str, int]] = {}
    grouped = (ActorEvent.select(ActorEvent.run, ActorEvent.actor, ActorEvent.event, pw.fn.COUNT(ActorEvent.id),
                                 pw.fn.MAX(ActorEvent.created_at_ns))
               .where(ActorEvent.run.in_(list(by_id)))
               .group_by(ActorEvent.run, ActorEvent.actor, ActorEvent.event).tuples())
    last_at: dict[tuple[int, str], int] = {}
    for run_id, actor, event, count, at in grouped:
        key = (run_id, actor)
        stats.setdefault(key, {})[event] = int(count)
        last_at[key] = max(last_at.get(key, 0), int(at))
    result = []
    for (run_id, actor), counts in stats.items():
        latest = (ActorEvent.select(ActorEvent.event)
                  .where(ActorEvent.run == run_id, ActorEvent.actor == actor)
                  .order_by(ActorEvent.created_at_ns.desc(), ActorEvent.id.desc()).limit(1).scalar())
        result.append(ActorHealthRow(shard=by_id[run_id], run_id=run_id, actor=actor, last_event=str(latest),
                                     last_event_at_ns=last_at[(run_id, actor)], restarts=counts.get("restarted", 0),
                                     failures=counts.get("failed", 0) + counts.get("hung", 0)))
    result.sort(key=lambda a: (a.shard, a.actor))
    return result


def _mode_rows(runs: dict[str, tuple[int, str, int | None]]) -> list[ShardModeRow]:
    """Each shard's latest safety-mode change (its own runs' rows, or rows no run wrote)."""
    result = []
    for shard in sorted(runs):
        row = (SafetyModeChange.select(SafetyModeChange.mode, SafetyModeChange.source, SafetyModeChange.reason,
                                       SafetyModeChange.created_at_ns)
               .join(Run, pw.JOIN.LEFT_OUTER, on=(SafetyModeChange.run == Run.id))
               .where((Run.shard == shard) | SafetyModeChange.run.is_null())
               .order_by(SafetyModeChange.created_at_ns.desc(), SafetyModeChange.id.desc()).limit(1).tuples().first())
        if row is None:
            result.append(ShardModeRow(shard=shard, mode="active", source="default", reason="", since_ns=None))
        else:
            mode, source, reason, at = row
            result.append(ShardModeRow(shard=shard, mode=mode, source=source, reason=reason, since_ns=int(at)))
    return result


def all_fills() -> tuple[FillRow, ...]:
    rows = (Fill.select(Intent.strategy, Fill.symbol, Fill.side, Fill.price, Fill.qty, Fill.fee)
            .join(Order, on=(Fill.order == Order.id))
            .join(Intent, pw.JOIN.LEFT_OUTER, on=(Order.intent == Intent.id))
            .order_by(Fill.id).tuples())
    result = []
    for strategy, symbol, side, price, qty, fee in rows:
        result.append(FillRow(strategy=strategy or "", symbol=symbol, side=side, price=_exact(price), qty=_exact(qty),
                              fee=_exact(fee)))
    return tuple(result)


def _exact(value: Any) -> Decimal:
    """`.tuples()` bypasses the field's python_value: SQLite hands back the stored text."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def rejections_by_rule(window: Window) -> dict[str, int]:
    rows = (RiskEvent.select(RiskEvent.rule, pw.fn.COUNT(RiskEvent.id))
            .where(RiskEvent.decision == "rejected", _between(RiskEvent.created_at_ns, window))
            .group_by(RiskEvent.rule).tuples())
    return {rule: int(count) for rule, count in rows}


def tick_to_intent_ns(window: Window) -> tuple[int, ...]:
    rows = (Intent.select(Intent.created_at_ns, Intent.state_ts_ns).where(_between(Intent.created_at_ns, window))
            .order_by(Intent.created_at_ns.desc()).limit(MAX_LATENCY_SAMPLES).tuples())
    return tuple(max(0, int(created) - int(state)) for created, state in rows)


def tier2_inputs(window: Window) -> Tier2Inputs:
    runs = latest_runs_by_shard()
    symbols, marks = _symbol_rows(runs)
    return Tier2Inputs(window=window, symbols=tuple(symbols), actors=tuple(_actor_rows(runs)), modes=tuple(_mode_rows(runs)),
                       fills=all_fills(), marks=marks, rejections=rejections_by_rule(window),
                       tick_to_intent_ns=tick_to_intent_ns(window))
