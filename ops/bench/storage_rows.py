"""Storage benchmark (the ``storage`` row of ops/bench/run.py; this file is imported by run.py): rows per second through storage/repo.py on
SQLite and PostgreSQL, beside the raw driver's executemany of the same rows in the same run.

    python ops/bench/run.py [--quick] storage

Rows, each timed as wall time of the calling thread (the database does part of the work in its own process
for PostgreSQL, and in this thread for SQLite):
- run_symbol_state: ``repo.upsert_symbol_states`` of 50 symbols' rows per call (the ingest writer's batch),
  many calls, each its own transaction; baseline: executemany of the same one-row upsert statement with
  pre-converted parameters, one transaction per 50 rows.
- market rows: ``repo.insert_market_trades`` and ``insert_market_tickers``, 500 rows per call; baseline:
  executemany of the same INSERT, 500 rows per transaction.
- intents / orders / fills: ``repo.insert_intent`` / ``insert_order`` / ``insert_fill``, one row per call as
  the route engine and executor write them (each its own transaction); baseline: executemany of the same
  rows, one transaction for all (what batching would cost).
PostgreSQL: KRT_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test, trust auth); each run
makes and drops its own database there. When it is unreachable the row says so and reports SQLite only;
--quick measures SQLite only.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

POSTGRES_URL = os.environ.get("KRT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _trade_rows(count: int, offset: int) -> list[dict[str, Any]]:
    return [{"symbol": "BTC/USD", "trade_id": offset + i, "side": "buy" if i % 2 else "sell",
             "price": Decimal(f"{63000 + i % 97}.{i % 10}"), "qty": Decimal(f"0.{(i * 7919) % 10**8:08d}"),
             "ord_type": "limit", "ts_exchange_ns": 1_785_000_000_000_000_000 + i,
             "ts_recv_ns": 1_785_000_000_000_100_000 + i} for i in range(count)]


def _ticker_rows(count: int) -> list[dict[str, Any]]:
    return [{"symbol": "BTC/USD", "bid": Decimal(f"{63000 + i % 50}.{i % 10}"), "bid_qty": Decimal("1.25000000"),
             "ask": Decimal(f"{63001 + i % 50}.{i % 10}"), "ask_qty": Decimal("0.50000000"), "last": Decimal("63000.5"),
             "volume": Decimal("997038.98383185"), "vwap": Decimal("63012.4"), "ts_exchange_ns": 1_785_000_000_000_000_000 + i,
             "ts_recv_ns": 1_785_000_000_000_100_000 + i} for i in range(count)]


def _state_rows(symbols: int, tick: int) -> list[Any]:
    from kraken_runtime.core.marketdata import SymbolStateRow

    return [SymbolStateRow(symbol=f"X{i:02d}/USD", updated_at_ns=1_785_000_000_000_000_000 + tick, status="ready",
                           epoch=1, seq=tick, best_bid=Decimal("63000.1"), best_bid_qty=Decimal("1.5"),
                           best_ask=Decimal("63000.2"), best_ask_qty=Decimal("0.25"), mid=Decimal("63000.15"),
                           spread_bps=Decimal("0.0159"))
            for i in range(symbols)]


def _insert_sql(model: Any, columns: list[str], param: str) -> str:
    names = ", ".join(f'"{model._meta.fields[c].column_name}"' for c in columns)
    return f'INSERT INTO "{model._meta.table_name}" ({names}) VALUES ({", ".join([param] * len(columns))})'


def _params(model: Any, rows: list[dict[str, Any]], columns: list[str]) -> list[tuple[Any, ...]]:
    fields = [model._meta.fields[c] for c in columns]
    return [tuple(f.db_value(row[c]) for f, c in zip(fields, columns)) for row in rows]


def _full_insert(model: Any, rows: list[dict[str, Any]], param: str) -> tuple[str, list[tuple[Any, ...]]]:
    """An INSERT naming every column but the auto id, and the rows' pre-converted parameters (a column a row
    does not name gets the model's default, as peewee would send it)."""
    import peewee as pw

    fields = [f for f in model._meta.sorted_fields if not isinstance(f, pw.AutoField)]
    params = []
    for row in rows:
        values = []
        for field in fields:
            if field.name in row:
                values.append(field.db_value(row[field.name]))
            else:
                default = field.default() if callable(field.default) else field.default
                values.append(field.db_value(default))
        params.append(tuple(values))
    return _insert_sql(model, [f.name for f in fields], param), params


class _Raw:
    """The raw driver on the same database: sqlite3 or psycopg2, executemany in explicit transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            self.conn: Any = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=wal")
            self.conn.execute("PRAGMA synchronous=normal")
            self.param = "?"
        else:
            import psycopg2

            self.conn = psycopg2.connect(url)
            self.param = "%s"

    def executemany(self, sql: str, params: list[tuple[Any, ...]], per_transaction: int) -> None:
        for start in range(0, len(params), per_transaction):
            chunk = params[start:start + per_transaction]
            if isinstance(self.conn, sqlite3.Connection):
                self.conn.execute("BEGIN")
                self.conn.executemany(sql, chunk)
                self.conn.execute("COMMIT")
            else:
                with self.conn.cursor() as cursor:
                    cursor.executemany(sql, chunk)
                self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def _timed(body: Callable[[], int]) -> float:
    """Rows per second of ``body`` (which returns the rows it wrote), by wall time."""
    start = time.perf_counter()
    rows = body()
    return rows / (time.perf_counter() - start)


def _measure(url: str, quick: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    from kraken_runtime.storage import repo
    from kraken_runtime.storage.db import close_database, open_database
    from kraken_runtime.storage.models import Fill, Intent, MarketTicker, MarketTrade, Order, RunSymbolState

    db = open_database(url)
    raw = _Raw(url)
    try:
        run_id = repo.start_run(mode="paper", market="sim", shard="bench", config_hash="bench", version="bench",
                                hostname="bench", pid=os.getpid(), now_ns=time.time_ns())
        market_rows = 5_000 if quick else 100_000
        state_calls = 20 if quick else 400
        single_rows = 100 if quick else 3000
        ours: dict[str, Any] = {}
        base: dict[str, Any] = {}

        # run_symbol_state: 50 symbols per call
        batches = [_state_rows(50, tick) for tick in range(state_calls)]

        def upserts() -> int:
            for rows in batches:
                repo.upsert_symbol_states(run_id, rows)
            return 50 * len(batches)

        ours["run_symbol_state_writes_per_s"] = round(_timed(upserts))
        state_fields = list(RunSymbolState._meta.sorted_fields)
        names = ", ".join(f'"{f.column_name}"' for f in state_fields)
        update = ", ".join(f'"{f.column_name}" = EXCLUDED."{f.column_name}"' for f in state_fields[2:])
        upsert_sql = (f'INSERT INTO "{RunSymbolState._meta.table_name}" ({names}) VALUES '
                      f'({", ".join([raw.param] * len(state_fields))}) ON CONFLICT ("run_id", "symbol") DO UPDATE SET {update}')

        def state_value(field: Any, row: Any) -> Any:
            if field.name == "run":
                return run_id
            if hasattr(row, field.name):
                return field.db_value(getattr(row, field.name))
            default = field.default() if callable(field.default) else field.default
            return field.db_value(default)

        state_params = [tuple(state_value(f, row) for f in state_fields) for rows in batches for row in rows]
        base["run_symbol_state_writes_per_s"] = round(_timed(
            lambda: raw.executemany(upsert_sql, state_params, 50) or len(state_params)))

        # market rows, 500 per call
        trades = _trade_rows(market_rows, 0)
        tickers = _ticker_rows(market_rows)

        def insert_trades() -> int:
            for start in range(0, len(trades), 500):
                repo.insert_market_trades(run_id, trades[start:start + 500])
            return len(trades)

        def insert_tickers() -> int:
            for start in range(0, len(tickers), 500):
                repo.insert_market_tickers(run_id, tickers[start:start + 500])
            return len(tickers)

        ours["market_trade_rows_per_s"] = round(_timed(insert_trades))
        ours["market_ticker_rows_per_s"] = round(_timed(insert_tickers))
        trade_columns = ["run", *trades[0]]
        ticker_columns = ["run", *tickers[0]]
        trade_params = _params(MarketTrade, [dict(r, run=run_id) for r in trades], trade_columns)
        ticker_params = _params(MarketTicker, [dict(r, run=run_id) for r in tickers], ticker_columns)
        base["market_trade_rows_per_s"] = round(_timed(
            lambda: raw.executemany(_insert_sql(MarketTrade, trade_columns, raw.param), trade_params, 500) or len(trade_params)))
        base["market_ticker_rows_per_s"] = round(_timed(
            lambda: raw.executemany(_insert_sql(MarketTicker, ticker_columns, raw.param), ticker_params, 500) or len(ticker_params)))

        # intents, orders, fills: one row per call
        tag = uuid.uuid4().hex[:8]
        intents = [{"symbol": "BTC/USD", "strategy": "momentum", "side": "buy", "order_type": "limit",
                    "price": Decimal("63000.1"), "qty": Decimal("0.01000000"), "epoch": 1, "seq": i,
                    "state_ts_ns": 1_785_000_000_000_000_000 + i, "state": {"mid": "63000.15"},
                    "signals": {"momentum": "0.7"}, "created_at_ns": 1_785_000_000_000_000_000 + i}
                   for i in range(single_rows)]
        orders = [{"client_order_id": f"b{tag}-{i}", "venue": "paper", "mode": "paper", "symbol": "BTC/USD",
                   "side": "buy", "order_type": "limit", "price": Decimal("63000.1"), "qty": Decimal("0.01000000"),
                   "created_at_ns": 1_785_000_000_000_000_000 + i, "updated_at_ns": 1_785_000_000_000_000_000 + i}
                  for i in range(single_rows)]
        order_ids: list[int] = []

        def insert_intents() -> int:
            for row in intents:
                repo.insert_intent(run_id, **row)
            return len(intents)

        def insert_orders() -> int:
            for row in orders:
                order_ids.append(repo.insert_order(run_id, **row))
            return len(orders)

        ours["intent_rows_per_s"] = round(_timed(insert_intents))
        ours["order_rows_per_s"] = round(_timed(insert_orders))
        fills = [{"exec_id": f"e{tag}-{i}", "symbol": "BTC/USD", "side": "buy", "price": Decimal("63000.1"),
                  "qty": Decimal("0.01000000"), "fee": Decimal("0.0252"), "liquidity": "maker",
                  "ts_exchange_ns": 1_785_000_000_000_000_000 + i, "created_at_ns": 1_785_000_000_000_000_000 + i}
                 for i in range(single_rows)]

        def insert_fills() -> int:
            for order_id, row in zip(order_ids, fills):
                assert repo.insert_fill(run_id, order_id, **row)
            return len(fills)

        ours["fill_rows_per_s"] = round(_timed(insert_fills))
        sql_text, params = _full_insert(Intent, [dict(r, run=run_id) for r in intents], raw.param)
        base["intent_rows_per_s"] = round(_timed(lambda: raw.executemany(sql_text, params, len(params)) or len(params)))
        raw_orders = [dict(r, run=run_id, client_order_id=f"r{r['client_order_id']}") for r in orders]
        order_sql, order_params = _full_insert(Order, raw_orders, raw.param)
        base["order_rows_per_s"] = round(_timed(
            lambda: raw.executemany(order_sql, order_params, len(order_params)) or len(order_params)))
        raw_fills = [dict(r, run=run_id, order=order_id, exec_id=f"r{r['exec_id']}") for order_id, r in zip(order_ids, fills)]
        fill_sql, fill_params = _full_insert(Fill, raw_fills, raw.param)
        base["fill_rows_per_s"] = round(_timed(
            lambda: raw.executemany(fill_sql, fill_params, len(fill_params)) or len(fill_params)))
        return ours, base
    finally:
        raw.close()
        close_database(db)


def _postgres_database() -> tuple[str, Callable[[], None]] | None:
    """A fresh database on the configured PostgreSQL server (dropped by the returned callable), or None."""
    try:
        import psycopg2
        from psycopg2 import sql
    except ImportError:
        return None
    base, _, _ = POSTGRES_URL.rpartition("/")
    name = f"krt_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(POSTGRES_URL, connect_timeout=3)
    except psycopg2.Error:
        return None
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()

    return f"{base}/{name}", drop


def bench(quick: bool, progress: Callable[[str], None]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    baseline: dict[str, Any] = {}
    ratio: dict[str, Any] = {}
    met: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="krt-bench-storage-") as tmp:
        progress("  storage: sqlite")
        ours, base = _measure(f"sqlite:///{Path(tmp) / 'bench.db'}", quick)
        figures["sqlite"], baseline["sqlite"] = ours, base
    notes = ""
    postgres = None if quick else _postgres_database()
    if quick:
        notes = "quick: SQLite only (a database made and dropped on PostgreSQL costs seconds)"
    elif postgres is None:
        notes = f"PostgreSQL not reachable at {POSTGRES_URL}: SQLite only"
    else:
        url, drop = postgres
        try:
            progress("  storage: postgresql")
            figures["postgresql"], baseline["postgresql"] = _measure(url, quick)
        finally:
            drop()
    for engine in figures:
        # cost ratio: our time per row over the baseline's (rows/s inverted)
        ratio[engine] = {key: round(baseline[engine][key] / figures[engine][key], 3) for key in figures[engine]}
        met[f"{engine}: market rows <= 2x baseline"] = all(
            ratio[engine][k] <= 2 for k in ("market_trade_rows_per_s", "market_ticker_rows_per_s"))
    met["sqlite: >= 50,000 market rows/s"] = min(figures["sqlite"]["market_trade_rows_per_s"],
                                                 figures["sqlite"]["market_ticker_rows_per_s"]) >= 50_000
    from_run: dict[str, Any] = {
        "name": "storage", "unit": "rows/s",
        "what": "rows per second through storage/repo.py: run_symbol_state upserts (50 symbols a call), market "
                "trade/ticker rows (500 a call), intents/orders/fills (one row a call, each its own transaction)",
        "figures": figures,
        "baseline": {"what": "the raw driver (sqlite3 / psycopg2) executemany of the same rows: 50 state rows, 500 "
                             "market rows, or all intents/orders/fills per transaction", "figures": baseline},
        "ratio": ratio, "target": ">= 50,000 market rows/s on SQLite; <= 2x the baseline's cost per row "
                                  "(ratio = our cost per row / the baseline's)",
        "met": met,
        "notes": (notes + "; " if notes else "") + "intents/orders/fills are written one per call (one transaction each) by design: their "
                          "ratio is the price of that durability, not a defect of the write path",
    }
    return from_run
