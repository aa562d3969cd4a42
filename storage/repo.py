"""Every query the runtime makes. Callers get frozen records or plain values, never model instances,
so no SQL (and no lazy loading) escapes this package. Times are integer nanoseconds, passed in."""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence, TypeVar

import peewee as pw

from kraken_runtime.core.marketdata import SymbolStateRow
from kraken_runtime.storage.models import (
    ActorEvent,
    BaseModel,
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
    database_proxy,
)
from kraken_runtime.storage.statements import insert_one, insert_sql, update_where

SAFETY_MODES = ("active", "reduce_only", "halted")
COMMAND_FINAL_STATUSES = ("applied", "refused", "failed")
# A command's life: pending -> applying (claimed by a run) -> applied | refused | failed; or
# pending -> expired (withdrawn by ctl after its timeout, or older than the daemon's maximum age); a command
# left applying by a run that died is closed out failed (outcome unknown) by fail_orphaned_control_commands.

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlCommandRecord:
    id: int
    command: str
    args: Mapping[str, Any]
    status: str
    result: Mapping[str, Any] | None
    issued_by: str
    target_shard: str | None
    created_at_ns: int
    applied_at_ns: int | None
    applied_by_run: int | None


def _command_record(row: ControlCommand) -> ControlCommandRecord:
    return ControlCommandRecord(
        id=row.id,
        command=row.command,
        args=row.args or {},
        status=row.status,
        result=row.result,
        issued_by=row.issued_by,
        target_shard=row.target_shard,
        created_at_ns=row.created_at_ns,
        applied_at_ns=row.applied_at_ns,
        applied_by_run=row.applied_by_run_id,
    )


# --- runs ----------------------------------------------------------------------------------------------


def start_run(*, mode: str, market: str, shard: str, config_hash: str, version: str, hostname: str, pid: int, now_ns: int) -> int:
    run = Run.create(
        started_at_ns=now_ns, mode=mode, market=market, shard=shard, config_hash=config_hash,
        version=version, hostname=hostname, pid=pid, heartbeat_at_ns=now_ns,
    )
    return run.id


def heartbeat_run(run_id: int, now_ns: int) -> None:
    Run.update(heartbeat_at_ns=now_ns).where(Run.id == run_id).execute()


def finish_run(run_id: int, *, status: str, now_ns: int) -> None:
    Run.update(status=status, stopped_at_ns=now_ns).where(Run.id == run_id).execute()


def close_out_expired_runs(*, shard: str, stale_before_ns: int, now_ns: int, exclude_run_id: int | None = None) -> list[int]:
    """Runs of `shard` still marked running whose lease (heartbeat_at_ns) is older than `stale_before_ns`
    died without saying so (SIGKILL, power loss): each becomes `crashed`, stopped at its last heartbeat (or
    `now_ns` without one), and its run_symbol_state rows `crashed`. One transaction; returns their ids."""
    condition = ((Run.shard == shard) & (Run.status == "running")
                 & (Run.heartbeat_at_ns.is_null() | (Run.heartbeat_at_ns < stale_before_ns)))
    if exclude_run_id is not None:
        condition &= Run.id != exclude_run_id
    with database_proxy.atomic():
        expired = [row.id for row in Run.select(Run.id).where(condition)]
        for run_id in expired:
            Run.update(status="crashed", stopped_at_ns=pw.fn.COALESCE(Run.heartbeat_at_ns, now_ns)).where(
                (Run.id == run_id) & (Run.status == "running")).execute()
            mark_run_symbols(run_id, status="crashed", now_ns=now_ns)
    return expired


def mark_run_symbols(run_id: int, *, status: str, now_ns: int) -> int:
    """Every run_symbol_state row of the run takes `status` (stopped at a clean stop, crashed when the run
    died): readers never see a dead run's symbols as ready."""
    return RunSymbolState.update(status=status, updated_at_ns=now_ns).where(RunSymbolState.run == run_id).execute()


def live_symbol_states(*, stale_before_ns: int, shard: str | None = None) -> list[dict[str, Any]]:
    """The read model of symbol state: rows of live runs only (status running and a lease renewed at or after
    `stale_before_ns`), so a dead run's rows never read as ready. Each row gains `run_heartbeat_at_ns`."""
    condition = (Run.status == "running") & (Run.heartbeat_at_ns >= stale_before_ns)
    if shard is not None:
        condition &= Run.shard == shard
    query = (RunSymbolState.select(RunSymbolState, Run.heartbeat_at_ns.alias("run_heartbeat_at_ns"))
             .join(Run, on=(RunSymbolState.run == Run.id)).where(condition)
             .order_by(RunSymbolState.symbol, RunSymbolState.run).dicts())
    return [dict(row) for row in query]


def get_run(run_id: int) -> dict[str, Any] | None:
    row = Run.get_or_none(Run.id == run_id)
    return None if row is None else row.__data__.copy()


def latest_run() -> dict[str, Any] | None:
    row = Run.select().order_by(Run.id.desc()).first()
    return None if row is None else row.__data__.copy()


def live_runs(*, since_ns: int) -> list[dict[str, Any]]:
    """Runs still marked running whose heartbeat is newer than `since_ns` (daemons that can answer ctl)."""
    query = Run.select().where((Run.status == "running") & (Run.heartbeat_at_ns >= since_ns)).order_by(Run.id)
    return [row.__data__.copy() for row in query]


# --- actor events --------------------------------------------------------------------------------------


def record_actor_event(run_id: int, actor: str, event: str, detail: str, now_ns: int) -> None:
    ActorEvent.create(run=run_id, actor=actor, event=event, detail=detail[:2000], created_at_ns=now_ns)


def actor_events(run_id: int, actor: str | None = None) -> list[tuple[str, str, str]]:
    query = ActorEvent.select().where(ActorEvent.run == run_id)
    if actor is not None:
        query = query.where(ActorEvent.actor == actor)
    return [(row.actor, row.event, row.detail) for row in query.order_by(ActorEvent.id)]


# --- control commands ----------------------------------------------------------------------------------


def insert_control_command(command: str, args: Mapping[str, Any], *, issued_by: str, now_ns: int, target_shard: str | None = None) -> int:
    row = ControlCommand.create(
        command=command, args=dict(args), issued_by=issued_by, created_at_ns=now_ns, target_shard=target_shard
    )
    return row.id


def expire_stale_control_commands(run_id: int | None, *, shard: str, now_ns: int, max_age_ns: int) -> int:
    """Mark this shard's (and any-shard) pending commands issued more than `max_age_ns` ago `expired`, with a
    result saying why; returns how many. Such a row is left by a `ctl` killed before it could withdraw its
    command: a daemon started hours later must not apply that `resume`."""
    message = (f"expired unapplied: still pending after {max_age_ns / 1e9:g}s "
               f"(supervisor.control_command_max_age_s); issue it again if it is still wanted")
    return (
        ControlCommand.update(status="expired", applied_at_ns=now_ns, applied_by_run=run_id,
                              result={"status": "expired", "message": message, "data": {}})
        .where((ControlCommand.status == "pending") & _for_shard(shard) & (ControlCommand.created_at_ns < now_ns - max_age_ns))
        .execute()
    )


def claim_pending_commands(run_id: int, *, shard: str, now_ns: int, max_age_ns: int, limit: int = 20) -> list[ControlCommandRecord]:
    """Take pending commands for this shard (or for any shard) issued within the last `max_age_ns`; older
    pending ones are expired instead (see expire_stale_control_commands). A command is claimed by exactly
    one daemon: the conditional UPDATE succeeds for one claimant only.

    `created_at_ns` is the issuing host's wall clock and `now_ns` the daemon's, so the hosts of a fleet must
    agree on the time to well within the maximum age."""
    expired = expire_stale_control_commands(run_id, shard=shard, now_ns=now_ns, max_age_ns=max_age_ns)
    if expired:
        log.warning("control: %d pending command(s) older than %gs expired unapplied", expired, max_age_ns / 1e9)
    fresh = (ControlCommand.status == "pending") & _for_shard(shard) & (ControlCommand.created_at_ns >= now_ns - max_age_ns)
    candidates = ControlCommand.select(ControlCommand.id).where(fresh).order_by(ControlCommand.id).limit(limit)
    claimed = []
    for (command_id,) in list(candidates.tuples()):
        updated = (
            ControlCommand.update(status="applying", applied_by_run=run_id)
            .where((ControlCommand.id == command_id) & fresh)
            .execute()
        )
        if updated == 1:
            claimed.append(_command_record(ControlCommand.get_by_id(command_id)))
    return claimed


def _for_shard(shard: str) -> pw.Expression:
    return (ControlCommand.target_shard.is_null()) | (ControlCommand.target_shard == shard)


def fail_orphaned_control_commands(run_id: int | None, *, shard: str, now_ns: int, stale_before_ns: int) -> list[ControlCommandRecord]:
    """Close out commands left `applying` by a run of this shard that is gone: its `runs` row is finished
    (stopped | crashed), or its lease (`heartbeat_at_ns`, else `started_at_ns`) is older than
    `stale_before_ns` (a killed process never writes `stopped`), or the row was deleted. Each such command
    becomes `failed` with a result saying so; `applied_by_run` keeps the claimant. Returns the closed rows.

    Whether the dead run applied the command before it died is unknown, so it is never re-applied: the
    operator checks `ctl status` and issues it again if it is still wanted. Commands claimed by `run_id`
    itself, or by a live run, are left alone. Each row is closed by a conditional UPDATE, so two daemons
    looking at once close it once, and a claimant that answers meanwhile keeps its answer."""
    liveness = pw.fn.COALESCE(Run.heartbeat_at_ns, Run.started_at_ns)
    not_ours = ControlCommand.applied_by_run.is_null() if run_id is None else (
        ControlCommand.applied_by_run.is_null() | (ControlCommand.applied_by_run != run_id))
    dead = (Run.shard == shard) & ((Run.status != "running") | liveness.is_null() | (liveness < stale_before_ns))
    gone = Run.id.is_null() & _for_shard(shard)
    candidates = (
        ControlCommand.select(ControlCommand.id, ControlCommand.applied_by_run, Run.id, Run.status, liveness.alias("lease_ns"))
        .join(Run, pw.JOIN.LEFT_OUTER, on=(ControlCommand.applied_by_run == Run.id))
        .where((ControlCommand.status == "applying") & not_ours & (dead | gone))
        .order_by(ControlCommand.id)
    )
    closed = []
    for command_id, claimant, found_run, run_status, lease_ns in list(candidates.tuples()):
        if found_run is None:
            who, how = ("a run" if claimant is None else f"run {claimant}"), ", whose `runs` row no longer exists,"
        elif run_status != "running":
            who, how = f"run {claimant}", f", which ended ({run_status})"
        else:
            age = "" if lease_ns is None else f" {max(0, now_ns - lease_ns) / 1e9:.0f}s ago"
            who, how = f"run {claimant}", f", which stopped renewing its lease{age} (killed or hung)"
        message = (f"claimed by {who}{how} before it reported whether it applied the command; outcome unknown, "
                   f"not retried: check `ctl status` and re-issue it if it is still wanted")
        data = {"outcome": "unknown", "claimed_by_run": claimant, "claimant_status": run_status, "closed_by_run": run_id}
        same_claimant = ControlCommand.applied_by_run.is_null() if claimant is None else (ControlCommand.applied_by_run == claimant)
        updated = (
            ControlCommand.update(status="failed", applied_at_ns=now_ns,
                                  result={"status": "failed", "message": message, "data": data})
            .where((ControlCommand.id == command_id) & (ControlCommand.status == "applying") & same_claimant)
            .execute()
        )
        if updated == 1:
            closed.append(_command_record(ControlCommand.get_by_id(command_id)))
    return closed


def complete_control_command(command_id: int, *, status: str, result: Mapping[str, Any], run_id: int | None, now_ns: int) -> None:
    if status not in COMMAND_FINAL_STATUSES:
        raise ValueError(f"command status {status!r}; expected one of {COMMAND_FINAL_STATUSES}")
    ControlCommand.update(status=status, result=dict(result), applied_at_ns=now_ns, applied_by_run=run_id).where(
        ControlCommand.id == command_id
    ).execute()


def expire_control_command(command_id: int, *, now_ns: int) -> bool:
    """Withdraw a command nobody claimed (ctl timed out): pending -> expired, so a daemon that starts
    later never applies a stale operator command. False if a daemon claimed it meanwhile."""
    updated = (
        ControlCommand.update(status="expired", applied_at_ns=now_ns)
        .where((ControlCommand.id == command_id) & (ControlCommand.status == "pending"))
        .execute()
    )
    return updated == 1


def get_control_command(command_id: int) -> ControlCommandRecord | None:
    row = ControlCommand.get_or_none(ControlCommand.id == command_id)
    return None if row is None else _command_record(row)


def recent_control_commands(limit: int = 20) -> list[ControlCommandRecord]:
    return [_command_record(row) for row in ControlCommand.select().order_by(ControlCommand.id.desc()).limit(limit)]


# --- strategies and safety mode ------------------------------------------------------------------------


def set_strategy_enabled(name: str, enabled: bool, *, updated_by: str, now_ns: int) -> None:
    (
        StrategySetting.insert(name=name, enabled=enabled, updated_by=updated_by, updated_at_ns=now_ns)
        .on_conflict(
            conflict_target=[StrategySetting.name],
            update={StrategySetting.enabled: enabled, StrategySetting.updated_by: updated_by, StrategySetting.updated_at_ns: now_ns},
        )
        .execute()
    )


def strategy_enabled_map() -> dict[str, bool]:
    return {row.name: bool(row.enabled) for row in StrategySetting.select().order_by(StrategySetting.name)}


def record_safety_mode(mode: str, *, reason: str, source: str, run_id: int | None, now_ns: int) -> None:
    if mode not in SAFETY_MODES:
        raise ValueError(f"safety mode {mode!r}; expected one of {SAFETY_MODES}")
    SafetyModeChange.create(run=run_id, mode=mode, reason=reason, source=source, created_at_ns=now_ns)


def current_safety_mode() -> tuple[str, str]:
    """(mode, reason) of the latest change; ('active', '') on a database that never changed it."""
    row = SafetyModeChange.select().order_by(SafetyModeChange.id.desc()).first()
    return ("active", "") if row is None else (row.mode, row.reason)


# --- symbol state and market data ----------------------------------------------------------------------

_STATE_COLUMNS = frozenset(RunSymbolState._meta.fields) - {"run", "symbol"}
_STATE_COLUMN_ORDER = tuple(name for name in RunSymbolState._meta.sorted_field_names if name in _STATE_COLUMNS)
# SymbolStateRow fields that go into the JSON `features` column rather than a column of their own.
STATE_ROW_FEATURES = ("volatility_bps", "venue_status", "l3_checksum_failures", "l3_resyncs", "last_trade_side")
# The columns a SymbolStateRow sets, in the table's order: its scalar fields and `features`. The others
# (`regime`) get their default on insert and keep their value on update.
_STATE_ROW_COLUMNS = tuple(name for name in _STATE_COLUMN_ORDER
                           if name == "features" or name in SymbolStateRow.__dataclass_fields__)


def _state_features(row: SymbolStateRow) -> dict[str, Any]:
    return {
        "volatility_bps": {str(window): value for window, value in row.volatility_bps},
        "venue_status": row.venue_status,
        "l3_checksum_failures": row.l3_checksum_failures,
        "l3_resyncs": row.l3_resyncs,
        "last_trade_side": row.last_trade_side,
    }


def upsert_symbol_states(run_id: int, rows: Sequence[SymbolStateRow]) -> None:
    """Insert or update run_symbol_state rows, one per symbol (the caller keeps the latest per symbol).

    The rows go in multi-row INSERT ... ON CONFLICT DO UPDATE statements whose text is built once: measured,
    peewee's query builder spent ~0.5 ms per 28-column upsert, ten times the cost of storing the row."""
    if not rows:
        return
    db = database_proxy.obj
    sql_for, per_statement = _state_upsert_sql(db, _STATE_ROW_COLUMNS)
    run_value = RunSymbolState.run.db_value(run_id)
    plan = _state_row_plan()
    with database_proxy.atomic():
        for chunk in statement_chunks(rows, per_statement):
            params: list[Any] = []
            for row in chunk:
                params.append(run_value)
                params.append(row.symbol)
                # every column on insert (the model's default where the record has none), the record's on update
                params.extend([field.db_value(value_of(row)) for field, value_of in plan])
            db.execute_sql(sql_for(len(chunk)), params)


_STATE_ROW_PLAN: list[tuple[pw.Field, Callable[[SymbolStateRow], Any]]] = []


def _state_row_plan() -> list[tuple[pw.Field, Callable[[SymbolStateRow], Any]]]:
    """(column field, how to get its value from a SymbolStateRow) for every state column, in the table's order."""
    if not _STATE_ROW_PLAN:
        for name in _STATE_COLUMN_ORDER:
            field = RunSymbolState._meta.fields[name]
            if name == "features":
                _STATE_ROW_PLAN.append((field, _state_features))
            elif name in _STATE_ROW_COLUMNS:
                _STATE_ROW_PLAN.append((field, operator.attrgetter(name)))
            else:
                _STATE_ROW_PLAN.append((field, _default_for(field)))
    return _STATE_ROW_PLAN


def _default_for(field: pw.Field) -> Callable[[SymbolStateRow], Any]:
    def value_of(_row: SymbolStateRow) -> Any:
        return _default(field)

    return value_of


def _default(field: pw.Field) -> Any:
    default = field.default
    return default() if callable(default) else default


_UPSERT_SQL: dict[tuple[str, tuple[str, ...]], tuple[Any, int]] = {}


def statement_chunks(rows: Sequence[T], per_statement: int) -> Iterator[Sequence[T]]:
    """Split rows for multi-row statements whose row counts are powers of two (at most `per_statement`): 1, 2,
    4, ... Every distinct row count is a distinct statement text, and each connection's statement cache
    (sqlite3's, 128 per connection) keeps a prepared statement per text, a 99-row insert ~100 KB: with any
    count allowed, the ingest writer's connection held ~6 MB of them and kept growing for as long as new
    counts turned up (tests/integration/test_growth_soak.py; docs/ARCHITECTURE.md "Memory growth"). Powers
    of two bound the texts at ~7 per statement kind for at most log2(per_statement) + 1 extra statements."""
    largest = 1 << (max(1, per_statement).bit_length() - 1)
    start = 0
    while start < len(rows):
        size = min(largest, 1 << ((len(rows) - start).bit_length() - 1))
        yield rows[start:start + size]
        start += size


def _state_upsert_sql(db: pw.Database, columns: tuple[str, ...]) -> tuple[Any, int]:
    """(rows -> statement text, rows per statement) for upserting run_symbol_state rows naming `columns`.
    At most 999 parameters per statement (SQLite's oldest limit)."""
    key = (type(db).__name__, columns)
    cached = _UPSERT_SQL.get(key)
    if cached is not None:
        return cached
    meta = RunSymbolState._meta
    names = [meta.fields[name].column_name for name in ("run", "symbol", *_STATE_COLUMN_ORDER)]
    quoted = [f'"{name}"' for name in names]
    one_row = "(" + ", ".join([db.param] * len(names)) + ")"
    update = ", ".join(f'"{meta.fields[name].column_name}" = EXCLUDED."{meta.fields[name].column_name}"' for name in columns)
    action = f"DO UPDATE SET {update}" if update else "DO NOTHING"
    head = f'INSERT INTO "{meta.table_name}" ({", ".join(quoted)}) VALUES '
    tail = f" ON CONFLICT ({quoted[0]}, {quoted[1]}) {action}"
    texts: dict[int, str] = {}

    def sql_for(count: int) -> str:
        text = texts.get(count)
        if text is None:
            text = texts[count] = head + ", ".join([one_row] * count) + tail
        return text

    cached = _UPSERT_SQL[key] = (sql_for, max(1, 999 // len(names)))
    return cached


def symbol_states(run_id: int) -> list[dict[str, Any]]:
    query = RunSymbolState.select().where(RunSymbolState.run == run_id).order_by(RunSymbolState.symbol)
    return [dict(row.__data__, run=run_id) for row in query]


def _insert_rows(model: type[BaseModel], run_id: int, rows: Iterable[Mapping[str, Any]]) -> int:
    """Append rows in one transaction. Every row gets the same columns (peewee's insert_many takes them
    from the first row and would silently drop any others); an unknown column is refused."""
    batch = [dict(row) for row in rows]
    if not batch:
        return 0
    columns = set().union(*batch)
    unknown = columns - set(model._meta.fields)
    if unknown:
        raise ValueError(f"{model._meta.table_name} has no column(s) {sorted(unknown)}")
    # One multi-row INSERT per chunk from a statement text built once per column set (as for the state
    # upserts): peewee's insert_many spent ~1 ms of query building per 10 rows (docs/PERFORMANCE.md
    # "storage"); the values still go through each field's db_value. A column a row lacks is NULL.
    names = ("run", *sorted(columns - {"run"}))
    fields = [model._meta.fields[name] for name in names]
    db = database_proxy.obj
    sql_for, per_statement = insert_sql(db, model, names)
    run_value = fields[0].db_value(run_id)
    value_fields = list(zip(names[1:], fields[1:]))
    with database_proxy.atomic():
        for chunk in statement_chunks(batch, per_statement):
            params: list[Any] = []
            for row in chunk:
                params.append(run_value)
                params.extend([field.db_value(row.get(name)) for name, field in value_fields])
            db.execute_sql(sql_for(len(chunk)), params)
    return len(batch)


def insert_market_tickers(run_id: int, rows: Iterable[Mapping[str, Any]]) -> int:
    return _insert_rows(MarketTicker, run_id, rows)


def insert_market_trades(run_id: int, rows: Iterable[Mapping[str, Any]]) -> int:
    return _insert_rows(MarketTrade, run_id, rows)


def prune_market_data(*, older_than_ns: int, batch_rows: int = 5000) -> int:
    """Delete market rows received before `older_than_ns`, at most `batch_rows` per statement and
    transaction, so a large backlog never holds the write lock for long; returns how many rows went."""
    removed = 0
    for model in (MarketTicker, MarketTrade):
        while True:
            ids = model.select(model.id).where(model.ts_recv_ns < older_than_ns).order_by(model.id).limit(batch_rows)
            with database_proxy.atomic():
                count = model.delete().where(model.id.in_(ids)).execute()
            removed += count
            if count < batch_rows:
                break
    return removed


# --- intents, risk events, orders, fills ---------------------------------------------------------------


# One row per call through statement texts made once (storage/statements.py): peewee's query building was
# most of a row's cost.
def insert_intent(run_id: int, **values: Any) -> int:
    return insert_one(Intent, {"run": run_id, **values})


def insert_risk_event(run_id: int, **values: Any) -> int:
    return insert_one(RiskEvent, {"run": run_id, **values})


def insert_order(run_id: int, **values: Any) -> int:
    return insert_one(Order, {"run": run_id, **values})


def update_order(client_order_id: str, *, now_ns: int, **values: Any) -> int:
    return update_where(Order, {"updated_at_ns": now_ns, **values}, key="client_order_id", equals=client_order_id)


def get_order(client_order_id: str) -> dict[str, Any] | None:
    row = Order.get_or_none(Order.client_order_id == client_order_id)
    return None if row is None else row.__data__.copy()


def insert_fill(run_id: int, order_id: int, **values: Any) -> bool:
    """Insert a fill unless its exchange execution id is already stored; True if it was new."""
    return insert_one(Fill, {"run": run_id, "order": order_id, **values}, ignore_conflict=True) == 1


def fills_for_order(order_id: int) -> list[dict[str, Any]]:
    return [row.__data__.copy() for row in Fill.select().where(Fill.order == order_id).order_by(Fill.id)]


def window_counts(*, since_ns: int) -> dict[str, int]:
    """Row counts for the Tier 1 cards over a window: ticker rows, trade rows, orders (created or
    updated in the window), fills (by exchange time when present, otherwise insert time)."""
    fill_time = pw.fn.COALESCE(Fill.ts_exchange_ns, Fill.created_at_ns)
    return {
        "ticker_rows": MarketTicker.select().where(MarketTicker.ts_recv_ns >= since_ns).count(),
        "trade_rows": MarketTrade.select().where(MarketTrade.ts_recv_ns >= since_ns).count(),
        "orders": Order.select().where((Order.created_at_ns >= since_ns) | (Order.updated_at_ns >= since_ns)).count(),
        "fills": Fill.select().where(fill_time >= since_ns).count(),
    }
