"""The risk envelope's and executor's queries: risk events, orders, fills, and the read models of
`kraken-runtime explain` and the session summary.

Rules kept here: an order row (status pending_new, with its client order id) is inserted before the venue
is asked; a fill is inserted once per execution id (a repeat is ignored and reported as not new). Strategy
attribution comes from the order's intent (`intents.strategy`, the strategies joined with "+").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Sequence

import peewee as pw

from kraken_runtime.core.messages import Intent as IntentMessage
from kraken_runtime.storage.models import Fill, Intent, Order, RiskEvent, Run, SafetyModeChange, database_proxy
from kraken_runtime.storage.route import insert_intent
from kraken_runtime.storage.statements import insert_one, update_where

OPEN_STATUSES = ("pending_new", "new", "partially_filled", "unknown")


def strategies_of(intent_strategy: str | None) -> tuple[str, ...]:
    return tuple(name for name in (intent_strategy or "").split("+") if name)


# --- writes ---------------------------------------------------------------------------------------------------


def insert_risk_event(run_id: int, *, intent_id: int | None, decision: str, rule: str, reason: str,
                      details: Mapping[str, Any] | None, now_ns: int) -> int:
    return insert_one(RiskEvent, dict(run=run_id, intent=intent_id or None, decision=decision, rule=rule, reason=reason,
                                      details=dict(details) if details is not None else None, created_at_ns=now_ns))


def insert_decision(run_id: int, intent: IntentMessage, *, state: Mapping[str, Any], decision: str, rule: str,
                    reason: str, details: Mapping[str, Any] | None, now_ns: int) -> tuple[int, int]:
    """The risk envelope's decision on an intent, with the intent itself when it is not stored yet
    (`intent.intent_id` 0: the scanner sends intents unstored) in the same transaction: an intent row never
    lacks its decision, and the decision costs one commit. Returns (intent id, risk event id)."""
    with database_proxy.atomic():
        intent_id = intent.intent_id or insert_intent(run_id, intent, state=state)
        event_id = insert_risk_event(run_id, intent_id=intent_id, decision=decision, rule=rule, reason=reason,
                                     details=details, now_ns=now_ns)
    return intent_id, event_id


def insert_order(run_id: int, *, intent_id: int, client_order_id: str, venue: str, mode: str, symbol: str, side: str,
                 order_type: str, price: Decimal, qty: Decimal, post_only: bool, reduce_only: bool, time_in_force: str,
                 now_ns: int) -> int:
    return insert_one(Order, dict(run=run_id, intent=intent_id or None, client_order_id=client_order_id, venue=venue,
                                  mode=mode, symbol=symbol, side=side, order_type=order_type, price=price, qty=qty,
                                  post_only=post_only, reduce_only=reduce_only, time_in_force=time_in_force,
                                  status="pending_new", created_at_ns=now_ns, updated_at_ns=now_ns))


def update_order(client_order_id: str, *, now_ns: int, status: str, filled_qty: Decimal, avg_fill_price: Decimal | None,
                 exchange_order_id: str | None, last_error: str | None, price: Decimal | None = None) -> int:
    """`price`: the order's limit price after an amend (None leaves it as it is)."""
    fields = dict(status=status, filled_qty=filled_qty, avg_fill_price=avg_fill_price, exchange_order_id=exchange_order_id,
                  last_error=last_error, updated_at_ns=now_ns)
    if price is not None:
        fields["price"] = price
    return update_where(Order, fields, key="client_order_id", equals=client_order_id)


def insert_fill(run_id: int, *, order_id: int, exec_id: str, symbol: str, side: str, price: Decimal, qty: Decimal,
                fee: Decimal, fee_currency: str, liquidity: str, ts_exchange_ns: int | None, now_ns: int) -> bool:
    """True if the execution was new; a repeat of a stored exec_id changes nothing."""
    return insert_one(Fill, dict(run=run_id, order=order_id, exec_id=exec_id, symbol=symbol, side=side, price=price, qty=qty,
                                 fee=fee, fee_currency=fee_currency, liquidity=liquidity, ts_exchange_ns=ts_exchange_ns,
                                 created_at_ns=now_ns), ignore_conflict=True) == 1


# --- reads ----------------------------------------------------------------------------------------------------


def _order_dict(row: Order, strategy: str | None) -> dict[str, Any]:
    data = dict(row.__data__)
    data["run_id"] = data.pop("run")
    data["intent_id"] = data.pop("intent")
    data["strategies"] = strategies_of(strategy)
    return data


def orders(run_id: int | None = None, *, statuses: Sequence[str] | None = None, mode: str | None = None) -> list[dict[str, Any]]:
    """Orders with their intent's strategies, oldest first; filtered by run, status and mode."""
    query = _orders_query()
    if run_id is not None:
        query = query.where(Order.run == run_id)
    if statuses is not None:
        query = query.where(Order.status.in_(list(statuses)))
    if mode is not None:
        query = query.where(Order.mode == mode)
    return [_order_dict(row, row.intent_strategy) for row in query.order_by(Order.id).objects()]


def _orders_query() -> pw.ModelSelect:
    """Orders with their intent's `strategy` flattened onto each row as `intent_strategy` (use .objects())."""
    return Order.select(Order, Intent.strategy.alias("intent_strategy")).join(
        Intent, pw.JOIN.LEFT_OUTER, on=(Order.intent == Intent.id))


def open_orders(run_id: int | None = None, *, mode: str | None = None) -> list[dict[str, Any]]:
    return orders(run_id, statuses=OPEN_STATUSES, mode=mode)


def open_orders_of_shard(shard: str, *, mode: str, up_to_run_id: int) -> list[dict[str, Any]]:
    """Open orders of this shard's runs up to (and including) `up_to_run_id`: what an executor starting in
    that run must reconcile. Another shard's orders are never touched."""
    runs = Run.select(Run.id).where((Run.shard == shard) & (Run.id <= up_to_run_id))
    query = (_orders_query().where(Order.run.in_(runs) & Order.status.in_(list(OPEN_STATUSES)) & (Order.mode == mode))
             .order_by(Order.id).objects())
    return [_order_dict(row, row.intent_strategy) for row in query]


def fills(run_id: int | None = None) -> list[dict[str, Any]]:
    """Fills oldest first, each with its order's client order id, intent and strategies."""
    query = (Fill.select(Fill, Order.client_order_id.alias("client_order_id"), Order.intent.alias("intent_id"),
                         Intent.strategy.alias("intent_strategy"))
             .join(Order, on=(Fill.order == Order.id))
             .join(Intent, pw.JOIN.LEFT_OUTER, on=(Order.intent == Intent.id)))
    if run_id is not None:
        query = query.where(Fill.run == run_id)
    result = []
    for row in query.order_by(Fill.id).objects():
        data = dict(row.__data__)
        data["run_id"] = data.pop("run")
        data["order_id"] = data.pop("order")
        data["client_order_id"] = row.client_order_id
        data["intent_id"] = row.intent_id
        data["strategies"] = strategies_of(row.intent_strategy)
        result.append(data)
    return result


def fills_of_order_summary(order_id: int) -> tuple[frozenset[str], Decimal, Decimal, Decimal]:
    """The execution ids, total fee, total quantity and total cost of an order's stored fills (an adopted order's
    state machine needs them; the quantity also repairs an order row a kill left behind its fills)."""
    rows = list(Fill.select(Fill.exec_id, Fill.fee, Fill.qty, Fill.price).where(Fill.order == order_id))
    return (frozenset(row.exec_id for row in rows), sum((row.fee for row in rows), Decimal(0)),
            sum((row.qty for row in rows), Decimal(0)), sum((row.qty * row.price for row in rows), Decimal(0)))


def find_order(ref: str) -> dict[str, Any] | None:
    """An order by its row id (digits), client order id or exchange order id."""
    query = Order.select()
    row = None
    if ref.isdigit():
        row = query.where(Order.id == int(ref)).first()
    if row is None:
        row = query.where(Order.client_order_id == ref).first()
    if row is None:
        row = query.where(Order.exchange_order_id == ref).first()
    if row is None:
        return None
    strategy = None
    if row.intent_id:
        intent = Intent.get_or_none(Intent.id == row.intent_id)
        strategy = intent.strategy if intent is not None else None
    return _order_dict(row, strategy)


def explain(ref: str) -> dict[str, Any] | None:
    """The chain behind an order: its fills, the order, the risk decision(s) on its intent, the intent with
    its signals, and the state (epoch, seq, prices) it was decided on. None when no such order."""
    order = find_order(ref)
    if order is None:
        return None
    chain: dict[str, Any] = {"order": order, "fills": [dict(r.__data__) for r in
                                                       Fill.select().where(Fill.order == order["id"]).order_by(Fill.id)]}
    intent_id = order["intent_id"]
    chain["intent"] = None
    chain["risk_events"] = []
    if intent_id:
        intent = Intent.get_or_none(Intent.id == intent_id)
        if intent is not None:
            data = dict(intent.__data__)
            data["run_id"] = data.pop("run")
            chain["intent"] = data
        chain["risk_events"] = [dict(r.__data__) for r in
                                RiskEvent.select().where(RiskEvent.intent == intent_id).order_by(RiskEvent.id)]
    return chain


def risk_events(run_id: int) -> list[dict[str, Any]]:
    return [dict(r.__data__) for r in RiskEvent.select().where(RiskEvent.run == run_id).order_by(RiskEvent.id)]


def safety_changes(run_id: int) -> list[dict[str, Any]]:
    return [dict(r.__data__) for r in
            SafetyModeChange.select().where(SafetyModeChange.run == run_id).order_by(SafetyModeChange.id)]


def run_row(run_id: int) -> dict[str, Any] | None:
    row = Run.get_or_none(Run.id == run_id)
    return None if row is None else dict(row.__data__)
