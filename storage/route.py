"""The route engine's queries: intents with their snapshot and reasons, the strategy scorecard, the fills
attributed to strategies, and the regime column of run_symbol_state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable, Mapping

import peewee as pw

from kraken_runtime.core.messages import Intent, StrategyFill
from kraken_runtime.storage.models import Intent as IntentRow
from kraken_runtime.storage.models import RunSymbolState, StrategyScore, database_proxy
from kraken_runtime.storage.models import StrategyFill as StrategyFillRow
from kraken_runtime.storage.statements import insert_one


def insert_intent(run_id: int, intent: Intent, *, state: Mapping[str, Any]) -> int:
    """Store an intent with the snapshot it was decided on (`state`: epoch, seq, bid, ask, state time ...)
    and every signal, feature and threshold behind it; returns its id."""
    return insert_one(IntentRow, dict(
        run=run_id, symbol=intent.symbol, strategy="+".join(intent.strategies)[:64], side=intent.side,
        order_type="limit", price=intent.limit_price, qty=intent.size, epoch=intent.epoch, seq=intent.seq,
        state_ts_ns=intent.state_ts_ns, state=dict(state), signals={"reasons": [list(pair) for pair in intent.reasons],
                                                                    "strategies": list(intent.strategies)},
        created_at_ns=intent.created_at_ns, score=intent.score, style=intent.style, expires_at_ns=intent.expires_at_ns,
        recv_ts_ns=intent.recv_ts_ns,
    ))


def intents(run_id: int, *, symbol: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    query = IntentRow.select().where(IntentRow.run == run_id)
    if symbol is not None:
        query = query.where(IntentRow.symbol == symbol)
    return [dict(row.__data__) for row in query.order_by(IntentRow.id).limit(limit)]


def set_symbol_regime(run_id: int, symbol: str, regime: str) -> int:
    """Write the scanner's regime into the state holder's row (only that column; the row must exist)."""
    return int(RunSymbolState.update(regime=regime).where(
        (RunSymbolState.run == run_id) & (RunSymbolState.symbol == symbol)).execute())


def save_scorecard(run_id: int, lines: Iterable[tuple[str, str, Mapping[str, Any]]], *, now_ns: int) -> int:
    """Upsert (strategy, symbol, {signals, intents, trades, wins, realised_pnl_usd, fees_usd}) lines."""
    count = 0
    with database_proxy.atomic():
        for strategy, symbol, values in lines:
            data = {key: values[key] for key in ("signals", "intents", "trades", "wins", "realised_pnl_usd", "fees_usd")}
            (StrategyScore.insert(run=run_id, strategy=strategy, symbol=symbol, updated_at_ns=now_ns, **data)
             .on_conflict(conflict_target=[StrategyScore.run, StrategyScore.strategy, StrategyScore.symbol],
                          update={**{getattr(StrategyScore, key): value for key, value in data.items()},
                                  StrategyScore.updated_at_ns: now_ns})
             .execute())
            count += 1
    return count


def scorecard(run_id: int) -> list[dict[str, Any]]:
    query = StrategyScore.select().where(StrategyScore.run == run_id).order_by(StrategyScore.strategy, StrategyScore.symbol)
    return [dict(row.__data__) for row in query]


def insert_strategy_fill(run_id: int, fill: StrategyFill) -> bool:
    """Store a fill attributed to a strategy; False when the same (strategy, exec_id) was stored already."""
    try:
        with database_proxy.atomic():
            StrategyFillRow.create(run=run_id, strategy=fill.strategy, symbol=fill.symbol,
                                   realised_pnl_usd=fill.realised_pnl_usd, fee_usd=fill.fee_usd,
                                   intent_id=fill.intent_id or None, exec_id=fill.exec_id or None, ts_ns=fill.ts_ns)
    except pw.IntegrityError:
        return False
    return True


def recent_strategy_fills(strategy: str, limit: int) -> list[tuple[Decimal, Decimal]]:
    """The strategy's last `limit` fills as (realised PnL, fee), oldest first, across runs (the scorecard
    rebuilds its pause-rule window from them)."""
    query = (StrategyFillRow.select(StrategyFillRow.realised_pnl_usd, StrategyFillRow.fee_usd)
             .where(StrategyFillRow.strategy == strategy).order_by(StrategyFillRow.id.desc()).limit(limit))
    fills = [(row.realised_pnl_usd, row.fee_usd) for row in query]
    fills.reverse()
    return fills
