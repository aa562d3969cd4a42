"""Statement texts built once and run with fresh parameters, for the rows on the latency-critical paths (an
intent with its risk decision, an order row before its venue call, its status updates, its fills) and for the
bulk appends of market rows.

Why: peewee builds every query's SQL text anew from its expression tree; for one row of `intents`, `orders`
or `risk_events` that was ~0.3 ms of CPU (`Insert._generate_insert` and its `sql()` calls, cProfile), about
two thirds of a stored row's cost, on the thread that is about to send an order (docs/PERFORMANCE.md
"order"). Here the text is made once per database kind, table and column set; every value still goes
through its field's `db_value` (exact Decimals as text, JSON, foreign keys), so the stored row is the one
peewee would write (tests/storage/test_statements.py compares them on SQLite and PostgreSQL).

The statements run through the database's `execute_sql`, as peewee's own queries do: inside an `atomic()`
block they join its transaction, outside they commit on their own.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import peewee as pw

from kraken_runtime.storage.models import BaseModel, database_proxy

MAX_PARAMS = 999  # per statement: SQLite's oldest limit

_INSERT_SQL: dict[tuple[str, str, tuple[str, ...]], tuple[Callable[[int], str], int]] = {}
_ONE_ROW_SQL: dict[tuple[str, str, tuple[str, ...], bool], tuple[str, bool]] = {}
_UPDATE_SQL: dict[tuple[str, str, tuple[str, ...], str], str] = {}


def insert_sql(db: pw.Database, model: type[BaseModel], names: tuple[str, ...]) -> tuple[Callable[[int], str], int]:
    """(rows -> INSERT text for that many rows of `names`, rows per statement: at most MAX_PARAMS parameters)."""
    key = (type(db).__name__, model._meta.table_name, names)
    cached = _INSERT_SQL.get(key)
    if cached is not None:
        return cached
    quoted = ", ".join(f'"{model._meta.fields[name].column_name}"' for name in names)
    one_row = "(" + ", ".join([db.param] * len(names)) + ")"
    head = f'INSERT INTO "{model._meta.table_name}" ({quoted}) VALUES '
    texts: dict[int, str] = {}

    def sql_for(count: int) -> str:
        text = texts.get(count)
        if text is None:
            text = texts[count] = head + ", ".join([one_row] * count)
        return text

    cached = _INSERT_SQL[key] = (sql_for, max(1, MAX_PARAMS // len(names)))
    return cached


def _with_defaults(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` plus each unnamed field's default, as peewee's `create` fills them in."""
    row = dict(values)
    for name, field in model._meta.fields.items():
        if name not in row and field.default is not None:
            row[name] = field.default() if callable(field.default) else field.default
    return row


def insert_one(model: type[BaseModel], values: Mapping[str, Any], *, ignore_conflict: bool = False) -> int:
    """Insert one row; returns its id, or with `ignore_conflict` the number of rows inserted (0 when a
    unique key already held it, as peewee's `on_conflict_ignore().as_rowcount()`). An unknown column is
    refused (peewee would fail later, or drop it)."""
    db = database_proxy.obj
    row = _with_defaults(model, values)
    names = tuple(row)
    key = (type(db).__name__, model._meta.table_name, names, ignore_conflict)
    cached = _ONE_ROW_SQL.get(key)
    if cached is None:
        unknown = set(names) - set(model._meta.fields)
        if unknown:
            raise ValueError(f"{model._meta.table_name} has no column(s) {sorted(unknown)}")
        sql_for, _ = insert_sql(db, model, names)
        text = sql_for(1)
        returning = isinstance(db, pw.PostgresqlDatabase) and not ignore_conflict
        if ignore_conflict:
            text += " ON CONFLICT DO NOTHING"
        elif returning:
            text += f' RETURNING "{model._meta.primary_key.column_name}"'
        cached = _ONE_ROW_SQL[key] = (text, returning)
    text, returning = cached
    fields = model._meta.fields
    cursor = db.execute_sql(text, [fields[name].db_value(value) for name, value in row.items()])
    if ignore_conflict:
        return int(cursor.rowcount)
    if returning:
        return int(cursor.fetchone()[0])
    return int(cursor.lastrowid)


def update_where(model: type[BaseModel], values: Mapping[str, Any], *, key: str, equals: Any) -> int:
    """UPDATE the rows whose `key` field equals `equals` with `values`; returns how many rows matched."""
    db = database_proxy.obj
    names = tuple(values)
    cache_key = (type(db).__name__, model._meta.table_name, names, key)
    text = _UPDATE_SQL.get(cache_key)
    fields = model._meta.fields
    if text is None:
        unknown = (set(names) | {key}) - set(fields)
        if unknown:
            raise ValueError(f"{model._meta.table_name} has no column(s) {sorted(unknown)}")
        assignments = ", ".join(f'"{fields[name].column_name}" = {db.param}' for name in names)
        text = _UPDATE_SQL[cache_key] = (f'UPDATE "{model._meta.table_name}" SET {assignments} '
                                         f'WHERE "{fields[key].column_name}" = {db.param}')
    params = [fields[name].db_value(value) for name, value in values.items()]
    params.append(fields[key].db_value(equals))
    return int(db.execute_sql(text, params).rowcount)
