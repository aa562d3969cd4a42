"""peewee models: the tables of DESIGN.md. Every row is attributable to its run (and shard via runs).

Conventions
- Times are integer nanoseconds since the Unix epoch, UTC (`*_ns`), the same unit as the messages;
  portable across SQLite and PostgreSQL and cheap to index for 24-hour windows.
- Money and sizes are `ExactDecimalField`: NUMERIC on PostgreSQL, TEXT on SQLite (SQLite's NUMERIC
  affinity would silently turn them into floats). Sums over money are done in Python with Decimal.
- JSON payloads are TEXT written with orjson (Decimals as strings).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import peewee as pw

database_proxy = pw.DatabaseProxy()

# Custom column type name, mapped per engine in storage/db.py (field_types).
EXACT_DECIMAL = "EXACTDECIMAL"


class ExactDecimalField(pw.Field):
    field_type = EXACT_DECIMAL

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError(f"{self.name}: float given for an exact decimal column; pass Decimal or str")
        value = Decimal(value) if not isinstance(value, Decimal) else value
        if not value.is_finite():
            raise ValueError(f"{self.name}: {value} is not a finite decimal")
        return format(value, "f")

    def python_value(self, value: Any) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        return Decimal(str(value))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dump_json(value: Any) -> str:
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_SORT_KEYS).decode()


class JSONTextField(pw.TextField):
    def db_value(self, value: Any) -> Any:
        return None if value is None else dump_json(value)

    def python_value(self, value: Any) -> Any:
        return None if value is None else orjson.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = pw.IntegerField(primary_key=True)
    description = pw.TextField()
    applied_at_ns = pw.BigIntegerField()


class Run(BaseModel):
    """One row per daemon start."""

    id = pw.AutoField()
    started_at_ns = pw.BigIntegerField(index=True)
    stopped_at_ns = pw.BigIntegerField(null=True)
    status = pw.CharField(max_length=16, default="running")  # running | stopped | crashed
    mode = pw.CharField(max_length=16)  # paper | shadow | live
    market = pw.CharField(max_length=16)  # sim | kraken
    shard = pw.CharField(max_length=64, default="default")
    config_hash = pw.CharField(max_length=64)
    version = pw.CharField(max_length=32)
    hostname = pw.CharField(max_length=255, default="")
    pid = pw.IntegerField(default=0)
    heartbeat_at_ns = pw.BigIntegerField(null=True)

    class Meta:
        table_name = "runs"


class RunSymbolState(BaseModel):
    """The state holder's row per (run, symbol); the route engine reads only this."""

    run = pw.ForeignKeyField(Run, on_delete="CASCADE", column_name="run_id")
    symbol = pw.CharField(max_length=32)
    status = pw.CharField(max_length=16, default="warming")  # warming|ready|stale|resyncing|disabled
    epoch = pw.IntegerField(default=0)
    seq = pw.BigIntegerField(default=0)
    best_bid = ExactDecimalField(null=True)
    best_bid_qty = ExactDecimalField(null=True)
    best_ask = ExactDecimalField(null=True)
    best_ask_qty = ExactDecimalField(null=True)
    mid = ExactDecimalField(null=True)
    spread_bps = ExactDecimalField(null=True)
    microprice = ExactDecimalField(null=True)
    depth_bid = ExactDecimalField(null=True)
    depth_ask = ExactDecimalField(null=True)
    imbalance = ExactDecimalField(null=True)
    trade_imbalance = ExactDecimalField(null=True)
    last_trade_price = ExactDecimalField(null=True)
    last_trade_qty = ExactDecimalField(null=True)
    last_trade_ns = pw.BigIntegerField(null=True)
    volatility = ExactDecimalField(null=True)
    regime = pw.CharField(max_length=32, null=True)
    l3_quality = ExactDecimalField(null=True)
    ref_price = ExactDecimalField(null=True)
    premium_bps = ExactDecimalField(null=True)
    checksum_failures = pw.IntegerField(default=0)
    resyncs = pw.IntegerField(default=0)
    features = JSONTextField(null=True)
    updated_at_ns = pw.BigIntegerField()

    class Meta:
        table_name = "run_symbol_state"
        primary_key = pw.CompositeKey("run", "symbol")


class MarketTicker(BaseModel):
    id = pw.BigAutoField()
    run = pw.ForeignKeyField(Run, on_delete="CASCADE", column_name="run_id")
    symbol = pw.CharField(max_length=32)
    bid = ExactDecimalField(null=True)
    bid_qty = ExactDecimalField(null=True)
    ask = ExactDecimalField(null=True)
    ask_qty = ExactDecimalField(null=True)
    last = ExactDecimalField(null=True)
    volume = ExactDecimalField(null=True)
    vwap = ExactDecimalField(null=True)
    ts_exchange_ns = pw.BigIntegerField(null=True)
    ts_recv_ns = pw.BigIntegerField()

    class Meta:
        table_name = "market_ticker"
        indexes = ((("ts_recv_ns",), False), (("symbol", "ts_recv_ns"), False))


class MarketTrade(BaseModel):
    id = pw.BigAutoField()
    run = pw.ForeignKeyField(Run, on_delete="CASCADE", column_name="run_id")
    symbol = pw.CharField(max_length=32)
    trade_id = pw.BigIntegerField(null=True)
    side = pw.CharField(max_length=4)
    price = ExactDecimalField()
    qty = ExactDecimalField()
    ord_type = pw.CharField(max_length=16, null=True)
    ts_exchange_ns = pw.BigIntegerField(null=True)
    ts_recv_ns = pw.BigIntegerField()

    class Meta:
        table_name = "market_trade"
        indexes = ((("ts_recv_ns",), False), (("symbol", "ts_recv_ns"), False))


class Intent(BaseModel):
    """Every intent the scanner emits, with the state it was decided on and the signals behind it."""

    id = pw.BigAutoField()
    run = pw.ForeignKeyField(Run, on_delete="CASCADE", column_name="run_id")
    symbol = pw.CharField(max_length=32)
    strategy = pw.CharField(max_length=64)
    side = pw.CharField(max_length=4)
    order_type = pw.CharField(max_length=16, default="limit")
    price = ExactDecimalField(null=True)
    qty = ExactDecimalField()
    epoch = pw.IntegerField()
    seq = pw.BigIntegerField()
    state_ts_ns = pw.BigIntegerField()
    state = JSONTextField()  # the snapshot's prices and features
    signals = JSONTextField()  # signals and thresholds behind the intent
    created_at_ns = pw.BigIntegerField(index=True)
    score = ExactDecimalField(null=True)  # v3: the weighted score in [-1, 1]
    style = pw.CharField(max_length=8, null=True)  # v3: maker | taker | hybrid
    expires_at_ns = pw.BigIntegerField(null=True)  # v3
    recv_ts_ns = pw.BigIntegerField(null=True)  # v3: receipt of the frame that produced the state

    class Meta:
        table_name = "intents"


class RiskEvent(BaseModel):
    id = pw.BigAutoField()
    run = pw.ForeignKeyField(Run, on_delete="CASCADE", column_name="run_id")
    intent = pw.ForeignKeyField(Intent, null=True, on_delete="SET NULL", column_name="intent_id")
    decision = pw.CharField(max_length=16)  # accepted | rejected | kill | mode_change
    rule = pw.CharField(max_length=64)
    reason = pw.TextField()
    details = JSONTextField(null=True)
    created_at_ns = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "risk_events"


class Order(BaseModel):
    """Written before the venue is asked (status pending_new, with its client order id)."""

    id = pw.BigAutoField()
    run = pw.ForeignKeyField(Run, on_delete="CASCADE", column_name="run_id")
    intent = pw.ForeignKeyField(Intent, null=True, on_delete="SET NULL", column_name="intent_id")
    client_order_id = pw.CharField(max_length=64, unique=True)
    exchange_order_id = pw.CharField(max_length=64, null=True, index=True)
    venue = pw.CharField(max_length=16)  # paper | kraken
    mode = pw.CharField(max_length=16)  # paper | shadow | live
    symbol = pw.CharField(max_length=32)
    side = pw.CharField(max_length=4)
    order_type = pw.CharField(max_length=16)
    price = ExactDecimalField(null=True)
    qty = ExactDecimalField()
    filled_qty = ExactDecimalField(default=Decimal(0))
    avg_fill_price = ExactDecimalField(null=True)
    post_only = pw.BooleanField(default=False)
    reduce_only = pw.BooleanField(default=False)
    time_in_force = pw.CharField(max_length=8, default="gtc")
    status = pw.CharField(max_length=16, default="pending_new")
    last_error = pw.TextField(null=True)
    created_at_ns = pw.BigIntegerField(index=True)
    updated_at_ns = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "orders"
        indexes = ((("run", "status"), False),)


class Fill(BaseModel):
    """Unique by the exchange's execution id."""

    id = pw.BigAutoField()
    run = pw.ForeignKeyField(Run, on_delete="CASCADE", column_name="run_id")
    order = pw.ForeignKeyField(Order, on_delete="CASCADE", column_name="order_id")
    exec_id = pw.CharField(max_length=64, unique=True)
    symbol = pw.CharField(max_length=32)
    side = pw.CharField(max_length=4)
    price = ExactDecimalField()
    qty = ExactDecimalField()
    fee = ExactDecimalField(default=Decimal(0))
    fee_currency = pw.CharField(max_length=16, default="USD")
    liquidity = pw.CharField(max_length=8, null=True)  # maker | taker
    ts_exchange_ns = pw.BigIntegerField(null=True, index=True)
    created_at_ns = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "fills"


class ControlCommand(BaseModel):
    """An operator command; the supervisor applies it and writes the result back."""

    id = pw.BigAutoField()
    command = pw.CharField(max_length=32)
    args = JSONTextField(default=dict)
    status = pw.CharField(max_length=16, default="pending", index=True)  # pending|applying|applied|refused|failed|expired
    result = JSONTextField(null=True)
    issued_by = pw.CharField(max_length=128, default="")
    target_shard = pw.CharField(max_length=64, null=True)
    created_at_ns = pw.BigIntegerField()
    applied_at_ns = pw.BigIntegerField(null=True)
    applied_by_run = pw.ForeignKeyField(Run, null=True, on_delete="SET NULL", column_name="applied_by_run_id")

    class Meta:
        table_name = "control_commands"


class ActorEvent(BaseModel):
    id = pw.BigAutoField()
    run = pw.ForeignKeyField(Run, on_delete="CASCADE", column_name="run_id")
    actor = pw.CharField(max_length=64)
    event = pw.CharField(max_length=32)  # started | failed | restarted | disabled | hung | stopped
    detail = pw.TextField(default="")
    created_at_ns = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "actor_events"


class StrategySetting(BaseModel):
    """Enable/disable per strategy; survives restarts."""

    name = pw.CharField(max_length=64, primary_key=True)
    enabled = pw.BooleanField(default=True)
    params = JSONTextField(null=True)
    updated_by = pw.CharField(max_length=128, default="")
    updated_at_ns = pw.BigIntegerField()

    class Meta:
        table_name = "strategy_settings"


class StrategyScore(BaseModel):
    """The strategy scorecard per (run, strategy, symbol): signals, intents, trades, wins, PnL (added in v3)."""

    run = pw.ForeignKeyField(Run, on_delete="CASCADE", column_name="run_id")
    strategy = pw.CharField(max_length=64)
    symbol = pw.CharField(max_length=32)
    signals = pw.BigIntegerField(default=0)
    intents = pw.BigIntegerField(default=0)
    trades = pw.BigIntegerField(default=0)
    wins = pw.BigIntegerField(default=0)
    realised_pnl_usd = ExactDecimalField(default=Decimal(0))
    fees_usd = ExactDecimalField(default=Decimal(0))
    updated_at_ns = pw.BigIntegerField()

    class Meta:
        table_name = "strategy_scorecard"
        primary_key = pw.CompositeKey("run", "strategy", "symbol")


class StrategyFill(BaseModel):
    """A fill attributed to a strategy (its share of PnL and fee), the scorecard's trades (added in v3)."""

    id = pw.BigAutoField()
    run = pw.ForeignKeyField(Run, on_delete="CASCADE", column_name="run_id")
    strategy = pw.CharField(max_length=64)
    symbol = pw.CharField(max_length=32)
    realised_pnl_usd = ExactDecimalField()
    fee_usd = ExactDecimalField()
    intent_id = pw.BigIntegerField(null=True)
    exec_id = pw.CharField(max_length=64, null=True)
    ts_ns = pw.BigIntegerField()

    class Meta:
        table_name = "strategy_fills"
        indexes = ((("strategy", "id"), False), (("strategy", "exec_id"), True))


class SafetyModeChange(BaseModel):
    """Audit trail of safety mode changes; the latest row is the current mode (added in schema v2)."""

    id = pw.BigAutoField()
    run = pw.ForeignKeyField(Run, null=True, on_delete="SET NULL", column_name="run_id")
    mode = pw.CharField(max_length=16)  # active | reduce_only | halted
    reason = pw.TextField()
    source = pw.CharField(max_length=64)  # operator | kill:<rule> | supervisor
    created_at_ns = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "safety_mode_changes"


ALL_MODELS: tuple[type[BaseModel], ...] = (
    SchemaVersion,
    Run,
    RunSymbolState,
    MarketTicker,
    MarketTrade,
    Intent,
    RiskEvent,
    Order,
    Fill,
    ControlCommand,
    ActorEvent,
    StrategySetting,
    SafetyModeChange,
    StrategyScore,
    StrategyFill,
)
