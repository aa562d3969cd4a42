"""Forward-only schema migrations, one path for new and old databases.

A new database is built by running every step from 0, so the upgrade path is the one that is always
exercised. Each step is frozen: it describes the schema as it was at that version (tables as field
dicts, changes as playhouse.migrate operations), never the live models, so later model changes cannot
rewrite history. tests/storage checks that the end of the chain equals storage/models.py.

Versions
  1  initial schema: runs, run_symbol_state, market data, intents, risk_events, orders, fills,
     control_commands, actor_events, strategy_settings
  2  safety_mode_changes (audit trail of the safety mode), runs.heartbeat_at_ns,
     control_commands.target_shard (fleet control), indexes serving 24-hour window counts
  3  route engine: intents.score/style/expires_at_ns/recv_ts_ns, strategy_scorecard, strategy_fills
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator, migrate

from kraken_runtime.storage.models import ExactDecimalField, JSONTextField, SchemaVersion


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    version: int
    description: str
    apply: Callable[[pw.Database, SchemaMigrator], None]


def _frozen_model(db: pw.Database, table: str, fields: dict[str, pw.Field], *, indexes: tuple[Any, ...] = (),
                  primary_key: Any = None) -> type[pw.Model]:
    meta_attrs = {"database": db, "table_name": table, "indexes": indexes}
    if primary_key is not None:
        meta_attrs["primary_key"] = primary_key
    attrs: dict[str, object] = dict(fields)
    attrs["Meta"] = type("Meta", (), meta_attrs)
    return type(f"V_{table}", (pw.Model,), attrs)


def _v1(db: pw.Database, migrator: SchemaMigrator) -> None:
    dec = lambda **kw: ExactDecimalField(**kw)  # noqa: E731
    runs = _frozen_model(db, "runs", {
        "id": pw.AutoField(), "started_at_ns": pw.BigIntegerField(index=True),
        "stopped_at_ns": pw.BigIntegerField(null=True), "status": pw.CharField(max_length=16, default="running"),
        "mode": pw.CharField(max_length=16), "market": pw.CharField(max_length=16),
        "shard": pw.CharField(max_length=64, default="default"), "config_hash": pw.CharField(max_length=64),
        "version": pw.CharField(max_length=32), "hostname": pw.CharField(max_length=255, default=""),
        "pid": pw.IntegerField(default=0),
    })
    run_fk = lambda **kw: pw.ForeignKeyField(runs, on_delete="CASCADE", column_name="run_id", **kw)  # noqa: E731
    state_fields: dict[str, pw.Field] = {
        "run": run_fk(), "symbol": pw.CharField(max_length=32), "status": pw.CharField(max_length=16, default="warming"),
        "epoch": pw.IntegerField(default=0), "seq": pw.BigIntegerField(default=0),
    }
    for name in ("best_bid", "best_bid_qty", "best_ask", "best_ask_qty", "mid", "spread_bps", "microprice",
                 "depth_bid", "depth_ask", "imbalance", "trade_imbalance", "last_trade_price", "last_trade_qty"):
        state_fields[name] = dec(null=True)
    state_fields["last_trade_ns"] = pw.BigIntegerField(null=True)
    state_fields["volatility"] = dec(null=True)
    state_fields["regime"] = pw.CharField(max_length=32, null=True)
    for name in ("l3_quality", "ref_price", "premium_bps"):
        state_fields[name] = dec(null=True)
    state_fields.update({
        "checksum_failures": pw.IntegerField(default=0), "resyncs": pw.IntegerField(default=0),
        "features": JSONTextField(null=True), "updated_at_ns": pw.BigIntegerField(),
    })
    run_symbol_state = _frozen_model(db, "run_symbol_state", state_fields, primary_key=pw.CompositeKey("run", "symbol"))
    market_ticker = _frozen_model(db, "market_ticker", {
        "id": pw.BigAutoField(), "run": run_fk(), "symbol": pw.CharField(max_length=32),
        **{name: dec(null=True) for name in ("bid", "bid_qty", "ask", "ask_qty", "last", "volume", "vwap")},
        "ts_exchange_ns": pw.BigIntegerField(null=True), "ts_recv_ns": pw.BigIntegerField(),
    })
    market_trade = _frozen_model(db, "market_trade", {
        "id": pw.BigAutoField(), "run": run_fk(), "symbol": pw.CharField(max_length=32),
        "trade_id": pw.BigIntegerField(null=True), "side": pw.CharField(max_length=4), "price": dec(), "qty": dec(),
        "ord_type": pw.CharField(max_length=16, null=True), "ts_exchange_ns": pw.BigIntegerField(null=True),
        "ts_recv_ns": pw.BigIntegerField(),
    })
    intents = _frozen_model(db, "intents", {
        "id": pw.BigAutoField(), "run": run_fk(), "symbol": pw.CharField(max_length=32),
        "strategy": pw.CharField(max_length=64), "side": pw.CharField(max_length=4),
        "order_type": pw.CharField(max_length=16, default="limit"), "price": dec(null=True), "qty": dec(),
        "epoch": pw.IntegerField(), "seq": pw.BigIntegerField(), "state_ts_ns": pw.BigIntegerField(),
        "state": JSONTextField(), "signals": JSONTextField(), "created_at_ns": pw.BigIntegerField(index=True),
    })
    risk_events = _frozen_model(db, "risk_events", {
        "id": pw.BigAutoField(), "run": run_fk(),
        "intent": pw.ForeignKeyField(intents, null=True, on_delete="SET NULL", column_name="intent_id"),
        "decision": pw.CharField(max_length=16), "rule": pw.CharField(max_length=64), "reason": pw.TextField(),
        "details": JSONTextField(null=True), "created_at_ns": pw.BigIntegerField(index=True),
    })
    orders = _frozen_model(db, "orders", {
        "id": pw.BigAutoField(), "run": run_fk(),
        "intent": pw.ForeignKeyField(intents, null=True, on_delete="SET NULL", column_name="intent_id"),
        "client_order_id": pw.CharField(max_length=64, unique=True),
        "exchange_order_id": pw.CharField(max_length=64, null=True, index=True),
        "venue": pw.CharField(max_length=16), "mode": pw.CharField(max_length=16), "symbol": pw.CharField(max_length=32),
        "side": pw.CharField(max_length=4), "order_type": pw.CharField(max_length=16), "price": dec(null=True),
        "qty": dec(), "filled_qty": dec(default="0"), "avg_fill_price": dec(null=True),
        "post_only": pw.BooleanField(default=False), "reduce_only": pw.BooleanField(default=False),
        "time_in_force": pw.CharField(max_length=8, default="gtc"), "status": pw.CharField(max_length=16, default="pending_new"),
        "last_error": pw.TextField(null=True), "created_at_ns": pw.BigIntegerField(index=True),
        "updated_at_ns": pw.BigIntegerField(index=True),
    })
    fills = _frozen_model(db, "fills", {
        "id": pw.BigAutoField(), "run": run_fk(),
        "order": pw.ForeignKeyField(orders, on_delete="CASCADE", column_name="order_id"),
        "exec_id": pw.CharField(max_length=64, unique=True), "symbol": pw.CharField(max_length=32),
        "side": pw.CharField(max_length=4), "price": dec(), "qty": dec(), "fee": dec(default="0"),
        "fee_currency": pw.CharField(max_length=16, default="USD"), "liquidity": pw.CharField(max_length=8, null=True),
        "ts_exchange_ns": pw.BigIntegerField(null=True, index=True), "created_at_ns": pw.BigIntegerField(index=True),
    })
    control_commands = _frozen_model(db, "control_commands", {
        "id": pw.BigAutoField(), "command": pw.CharField(max_length=32), "args": JSONTextField(default=dict),
        "status": pw.CharField(max_length=16, default="pending", index=True), "result": JSONTextField(null=True),
        "issued_by": pw.CharField(max_length=128, default=""), "created_at_ns": pw.BigIntegerField(),
        "applied_at_ns": pw.BigIntegerField(null=True),
        "applied_by_run": pw.ForeignKeyField(runs, null=True, on_delete="SET NULL", column_name="applied_by_run_id"),
    })
    actor_events = _frozen_model(db, "actor_events", {
        "id": pw.BigAutoField(), "run": run_fk(), "actor": pw.CharField(max_length=64),
        "event": pw.CharField(max_length=32), "detail": pw.TextField(default=""),
        "created_at_ns": pw.BigIntegerField(index=True),
    })
    strategy_settings = _frozen_model(db, "strategy_settings", {
        "name": pw.CharField(max_length=64, primary_key=True), "enabled": pw.BooleanField(default=True),
        "params": JSONTextField(null=True), "updated_by": pw.CharField(max_length=128, default=""),
        "updated_at_ns": pw.BigIntegerField(),
    })
    db.create_tables([runs, run_symbol_state, market_ticker, market_trade, intents, risk_events, orders, fills,
                      control_commands, actor_events, strategy_settings])


def _v2(db: pw.Database, migrator: SchemaMigrator) -> None:
    runs = _frozen_model(db, "runs", {"id": pw.AutoField()})
    safety = _frozen_model(db, "safety_mode_changes", {
        "id": pw.BigAutoField(),
        "run": pw.ForeignKeyField(runs, null=True, on_delete="SET NULL", column_name="run_id"),
        "mode": pw.CharField(max_length=16), "reason": pw.TextField(), "source": pw.CharField(max_length=64),
        "created_at_ns": pw.BigIntegerField(index=True),
    })
    db.create_tables([safety])
    migrate(
        migrator.add_column("runs", "heartbeat_at_ns", pw.BigIntegerField(null=True)),
        migrator.add_column("control_commands", "target_shard", pw.CharField(max_length=64, null=True)),
        migrator.add_index("market_ticker", ("ts_recv_ns",), False),
        migrator.add_index("market_ticker", ("symbol", "ts_recv_ns"), False),
        migrator.add_index("market_trade", ("ts_recv_ns",), False),
        migrator.add_index("market_trade", ("symbol", "ts_recv_ns"), False),
        migrator.add_index("orders", ("run_id", "status"), False),
    )


def _v3(db: pw.Database, migrator: SchemaMigrator) -> None:
    runs = _frozen_model(db, "runs", {"id": pw.AutoField()})
    run_fk = lambda: pw.ForeignKeyField(runs, on_delete="CASCADE", column_name="run_id")  # noqa: E731
    scorecard = _frozen_model(db, "strategy_scorecard", {
        "run": run_fk(), "strategy": pw.CharField(max_length=64), "symbol": pw.CharField(max_length=32),
        "signals": pw.BigIntegerField(default=0), "intents": pw.BigIntegerField(default=0),
        "trades": pw.BigIntegerField(default=0), "wins": pw.BigIntegerField(default=0),
        "realised_pnl_usd": ExactDecimalField(default=0), "fees_usd": ExactDecimalField(default=0),
        "updated_at_ns": pw.BigIntegerField(),
    }, primary_key=pw.CompositeKey("run", "strategy", "symbol"))
    fills = _frozen_model(db, "strategy_fills", {
        "id": pw.BigAutoField(), "run": run_fk(), "strategy": pw.CharField(max_length=64),
        "symbol": pw.CharField(max_length=32), "realised_pnl_usd": ExactDecimalField(), "fee_usd": ExactDecimalField(),
        "intent_id": pw.BigIntegerField(null=True), "exec_id": pw.CharField(max_length=64, null=True),
        "ts_ns": pw.BigIntegerField(),
    }, indexes=((("strategy", "id"), False), (("strategy", "exec_id"), True)))
    db.create_tables([scorecard, fills])
    migrate(
        migrator.add_column("intents", "score", ExactDecimalField(null=True)),
        migrator.add_column("intents", "style", pw.CharField(max_length=8, null=True)),
        migrator.add_column("intents", "expires_at_ns", pw.BigIntegerField(null=True)),
        migrator.add_column("intents", "recv_ts_ns", pw.BigIntegerField(null=True)),
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(version=1, description="initial schema", apply=_v1),
    Migration(version=2, description="safety mode audit trail, fleet control, 24-hour window indexes", apply=_v2),
    Migration(version=3, description="route engine: intent score/style/expiry, strategy scorecard and fills", apply=_v3),
)
LATEST_VERSION = MIGRATIONS[-1].version


def _migrator(db: pw.Database) -> SchemaMigrator:
    if isinstance(db, pw.PostgresqlDatabase):
        return PostgresqlMigrator(db)
    return SqliteMigrator(db)


def table_exists(db: pw.Database, table: str) -> bool:
    """Whether `table` is visible to this connection (on PostgreSQL: through its search_path, which
    peewee's own table_exists ignores by looking in 'public' only)."""
    if isinstance(db, pw.PostgresqlDatabase):
        return db.execute_sql("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
    return db.table_exists(table)


def current_version(db: pw.Database) -> int:
    if not table_exists(db, SchemaVersion._meta.table_name):
        return 0
    with SchemaVersion.bind_ctx(db):
        row = SchemaVersion.select(pw.fn.MAX(SchemaVersion.version)).scalar()
    return int(row or 0)


# pg_advisory_xact_lock(classid, objid): this constant names "kraken-runtime schema upgrade"; the second key
# is the schema being upgraded, so daemons migrating different schemas of one database do not wait on each other.
_PG_UPGRADE_LOCK_CLASS = 0x6B72_7431  # "krt1"


def upgrade(db: pw.Database, *, target: int | None = None, clock_ns: Callable[[], int] = time.time_ns) -> list[int]:
    """Apply every step above the database's version (up to `target`).

    Concurrent upgrades (a fleet starting at once against a fresh database) are serialised: on PostgreSQL
    the whole upgrade is one transaction holding a transaction-level advisory lock, on SQLite one
    `BEGIN IMMEDIATE` transaction (the file's write lock). The second upgrader waits, then reads the
    version the first one wrote and has nothing left to do. DDL is transactional on both engines, so a
    failed step leaves the schema as it was.

    Returns the versions applied. Raises RuntimeError if the database is newer than this code knows.
    """
    target = LATEST_VERSION if target is None else target
    if isinstance(db, pw.PostgresqlDatabase):
        with db.atomic():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", (_PG_UPGRADE_LOCK_CLASS,))
            return _upgrade_locked(db, target, clock_ns)
    if isinstance(db, pw.SqliteDatabase):
        with db.atomic(lock_type="IMMEDIATE"):
            return _upgrade_locked(db, target, clock_ns)
    return _upgrade_locked(db, target, clock_ns)


def _upgrade_locked(db: pw.Database, target: int, clock_ns: Callable[[], int]) -> list[int]:
    with SchemaVersion.bind_ctx(db):
        db.create_tables([SchemaVersion])
    have = current_version(db)
    if have > LATEST_VERSION:
        raise RuntimeError(
            f"database schema is version {have}, newer than this kraken-runtime knows ({LATEST_VERSION}); upgrade the program"
        )
    applied: list[int] = []
    for step in MIGRATIONS:
        if step.version <= have or step.version > target:
            continue
        with db.atomic():  # a savepoint inside the upgrade's transaction
            step.apply(db, _migrator(db))
            with SchemaVersion.bind_ctx(db):
                SchemaVersion.create(version=step.version, description=step.description, applied_at_ns=clock_ns())
        applied.append(step.version)
    return applied
