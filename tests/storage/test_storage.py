"""Storage on SQLite and PostgreSQL: every table, migrations, concurrency, exactness."""

from __future__ import annotations

import threading
from dataclasses import replace
from decimal import Decimal

import peewee as pw
import pytest

from kraken_runtime.core.marketdata import SymbolStateRow
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import StorageError, close_database, make_database, open_database
from kraken_runtime.storage.migrations import LATEST_VERSION, current_version, table_exists, upgrade
from kraken_runtime.storage.models import (
    ALL_MODELS,
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

NS = 1_700_000_000_000_000_000


@pytest.fixture
def db(db_url):
    database = open_database(db_url)
    yield database
    close_database(database)


def _run(now=NS) -> int:
    return repo.start_run(mode="paper", market="sim", shard="default", config_hash="abc", version="0.1.0",
                          hostname="host", pid=123, now_ns=now)


def _order(run_id: int, coid: str = "c-1", **extra) -> int:
    values = dict(client_order_id=coid, venue="paper", mode="paper", symbol="BTC/USD", side="buy",
                  order_type="limit", price=Decimal("64525.1"), qty=Decimal("0.00005100"), created_at_ns=NS, updated_at_ns=NS)
    values.update(extra)
    return repo.insert_order(run_id, **values)


def test_open_when_database_is_new_then_schema_is_latest(db):
    assert current_version(db) == LATEST_VERSION
    for model in ALL_MODELS:
        assert table_exists(db, model._meta.table_name), model._meta.table_name


def test_every_table_create_read_update(db):
    run_id = _run()
    assert repo.get_run(run_id)["mode"] == "paper"
    repo.heartbeat_run(run_id, NS + 5)
    repo.finish_run(run_id, status="stopped", now_ns=NS + 10)
    assert Run.get_by_id(run_id).status == "stopped" and Run.get_by_id(run_id).heartbeat_at_ns == NS + 5

    repo.upsert_symbol_states(run_id, [SymbolStateRow(symbol="BTC/USD", status="warming", epoch=1, seq=0, updated_at_ns=NS)])
    repo.upsert_symbol_states(run_id, [SymbolStateRow(symbol="BTC/USD", status="ready", epoch=1, seq=42, best_bid=Decimal("64525.0"),
                                                      best_ask=Decimal("64525.1"), updated_at_ns=NS + 1)])
    (state,) = repo.symbol_states(run_id)
    assert (state["status"], state["seq"], state["best_ask"]) == ("ready", 42, Decimal("64525.1"))

    assert repo.insert_market_tickers(run_id, [{"symbol": "BTC/USD", "bid": Decimal("1.5"), "ts_recv_ns": NS + i} for i in range(3)]) == 3
    assert repo.insert_market_trades(run_id, [{"symbol": "BTC/USD", "side": "buy", "price": Decimal("2"), "qty": Decimal("0.1"),
                                               "trade_id": 2**40, "ts_recv_ns": NS}]) == 1
    assert MarketTicker.select().count() == 3 and MarketTrade.get().trade_id == 2**40

    intent_id = repo.insert_intent(run_id, symbol="BTC/USD", strategy="momentum", side="buy", qty=Decimal("0.01"),
                                   price=Decimal("100.25"), epoch=1, seq=42, state_ts_ns=NS,
                                   state={"mid": Decimal("100.2")}, signals={"z": "1.5"}, created_at_ns=NS)
    assert Intent.get_by_id(intent_id).state == {"mid": "100.2"}
    risk_id = repo.insert_risk_event(run_id, intent=intent_id, decision="accepted", rule="all", reason="within limits", created_at_ns=NS)
    assert RiskEvent.get_by_id(risk_id).intent_id == intent_id

    order_id = _order(run_id, intent=intent_id)
    assert repo.update_order("c-1", now_ns=NS + 2, status="new", exchange_order_id="OABC-123") == 1
    order = repo.get_order("c-1")
    assert (order["status"], order["price"], order["qty"]) == ("new", Decimal("64525.1"), Decimal("0.00005100"))
    assert repo.insert_fill(run_id, order_id, exec_id="T-1", symbol="BTC/USD", side="buy", price=Decimal("64525.1"),
                            qty=Decimal("0.00002"), fee=Decimal("0.0001"), created_at_ns=NS)
    assert Fill.get().fee == Decimal("0.0001")

    command_id = repo.insert_control_command("halt", {}, issued_by="test", now_ns=NS)
    repo.complete_control_command(command_id, status="applied", result={"safety_mode": "halted"}, run_id=run_id, now_ns=NS + 1)
    assert repo.get_control_command(command_id).result == {"safety_mode": "halted"}

    repo.record_actor_event(run_id, "feed:BTC/USD", "restarted", "boom", NS)
    assert repo.actor_events(run_id) == [("feed:BTC/USD", "restarted", "boom")]

    repo.set_strategy_enabled("momentum", False, updated_by="ctl", now_ns=NS)
    repo.set_strategy_enabled("momentum", True, updated_by="ctl", now_ns=NS + 1)
    repo.set_strategy_enabled("imbalance", False, updated_by="ctl", now_ns=NS + 1)
    assert repo.strategy_enabled_map() == {"imbalance": False, "momentum": True}
    assert StrategySetting.select().count() == 2

    assert repo.current_safety_mode() == ("active", "")
    repo.record_safety_mode("halted", reason="operator", source="operator", run_id=run_id, now_ns=NS)
    assert repo.current_safety_mode() == ("halted", "operator")
    assert SafetyModeChange.select().count() == 1
    with pytest.raises(ValueError):
        repo.record_safety_mode("panic", reason="x", source="x", run_id=run_id, now_ns=NS)
    assert ActorEvent.select().count() == 1 and ControlCommand.select().count() == 1 and RunSymbolState.select().count() == 1


def test_state_upsert_stores_every_field_of_the_record_and_many_rows_go_in_one_call(db):
    run_id = _run()
    full = SymbolStateRow(symbol="BTC/USD", status="ready", epoch=3, seq=10, best_bid=Decimal("64525.0"),
                          volatility=Decimal("12.5"), volatility_bps=((60, Decimal("12.5")), (300, None)),
                          venue_status="online", l3_checksum_failures=1, l3_resyncs=1, last_trade_side="buy",
                          checksum_failures=2, resyncs=3, updated_at_ns=NS)
    repo.upsert_symbol_states(run_id, [full] + [replace(full, symbol=f"S{i:03d}/USD", seq=i) for i in range(120)])
    RunSymbolState.update(regime="trending").where(RunSymbolState.symbol == "BTC/USD").execute()  # not the writer's column
    repo.upsert_symbol_states(run_id, [replace(full, seq=11, best_bid=None, updated_at_ns=NS + 1),
                                       replace(full, symbol="S005/USD", status="stale")])
    states = {row["symbol"]: row for row in repo.symbol_states(run_id)}
    assert len(states) == 121
    btc = states["BTC/USD"]
    assert (btc["seq"], btc["updated_at_ns"], btc["status"], btc["best_bid"], btc["checksum_failures"], btc["resyncs"]) == (
        11, NS + 1, "ready", None, 2, 3)
    assert (btc["volatility"], btc["regime"]) == (Decimal("12.5"), "trending")
    assert btc["features"] == {"volatility_bps": {"60": "12.5", "300": None}, "venue_status": "online",
                               "l3_checksum_failures": 1, "l3_resyncs": 1, "last_trade_side": "buy"}
    assert (states["S005/USD"]["status"], states["S005/USD"]["best_bid"]) == ("stale", Decimal("64525.0"))
    assert states["S119/USD"]["seq"] == 119
    repo.upsert_symbol_states(run_id, [SymbolStateRow(symbol="NEW/USD", updated_at_ns=NS)])  # a symbol that saw nothing yet
    new = next(row for row in repo.symbol_states(run_id) if row["symbol"] == "NEW/USD")
    assert (new["status"], new["epoch"], new["checksum_failures"], new["resyncs"], new["best_bid"]) == ("warming", 0, 0, 0, None)


def test_state_row_record_covers_the_table_columns_the_writer_owns():
    record = set(SymbolStateRow.__dataclass_fields__)
    columns = set(RunSymbolState._meta.fields) - {"run"}
    assert record - set(repo.STATE_ROW_FEATURES) == columns - {"features", "regime"}


def test_fill_when_execution_id_repeats_then_it_is_stored_once(db):
    run_id = _run()
    order_id = _order(run_id)
    values = dict(exec_id="TX-9", symbol="BTC/USD", side="buy", price=Decimal("1"), qty=Decimal("1"), created_at_ns=NS)
    assert repo.insert_fill(run_id, order_id, **values) is True
    assert repo.insert_fill(run_id, order_id, **values) is False
    assert len(repo.fills_for_order(order_id)) == 1


def test_client_order_id_when_reused_then_insert_is_refused(db):
    run_id = _run()
    _order(run_id, "dup")
    with pytest.raises(pw.IntegrityError):
        _order(run_id, "dup")


def test_decimal_column_when_given_float_then_refuses(db):
    run_id = _run()
    with pytest.raises(TypeError, match="float"):
        _order(run_id, "f", price=0.1)


def test_decimals_when_stored_then_come_back_exact(db):
    run_id = _run()
    awkward = [Decimal("0.1"), Decimal("12345678.12345678"), Decimal("0.00000001"), Decimal("99999999999.99999999")]
    repo.insert_market_trades(run_id, [{"symbol": "X/USD", "side": "sell", "price": value, "qty": value, "ts_recv_ns": NS} for value in awkward])
    stored = [row.price for row in MarketTrade.select().order_by(MarketTrade.id)]
    assert stored == awkward


MAX_AGE_NS = 60 * 10**9


def test_control_command_when_claimed_twice_then_only_one_claimant_gets_it(db):
    run_a, run_b = _run(), _run()
    command_id = repo.insert_control_command("status", {}, issued_by="t", now_ns=NS)
    first = repo.claim_pending_commands(run_a, shard="default", now_ns=NS + 1, max_age_ns=MAX_AGE_NS)
    second = repo.claim_pending_commands(run_b, shard="default", now_ns=NS + 1, max_age_ns=MAX_AGE_NS)
    assert [c.id for c in first] == [command_id] and second == []


def test_control_command_for_other_shard_is_not_claimed(db):
    run_id = _run()
    repo.insert_control_command("halt", {}, issued_by="t", now_ns=NS, target_shard="eu-2")
    assert repo.claim_pending_commands(run_id, shard="default", now_ns=NS, max_age_ns=MAX_AGE_NS) == []
    assert len(repo.claim_pending_commands(run_id, shard="eu-2", now_ns=NS, max_age_ns=MAX_AGE_NS)) == 1


def test_claim_when_pending_command_is_older_than_max_age_then_expired_with_reason_and_never_applied(db):
    """A ctl killed before it withdrew its `resume` leaves a pending row; a daemon days later must not apply it."""
    run_id = _run()
    stale = repo.insert_control_command("resume", {"reason": "operator"}, issued_by="t", now_ns=NS)
    other_shard = repo.insert_control_command("resume", {}, issued_by="t", now_ns=NS, target_shard="eu-2")
    fresh = repo.insert_control_command("status", {}, issued_by="t", now_ns=NS + MAX_AGE_NS + 5)
    now = NS + MAX_AGE_NS + 10  # the stale rows are 10 ns past the limit; the fresh one 5 ns old
    claimed = repo.claim_pending_commands(run_id, shard="default", now_ns=now, max_age_ns=MAX_AGE_NS)
    assert [c.id for c in claimed] == [fresh]
    record = repo.get_control_command(stale)
    assert record.status == "expired" and record.applied_at_ns == now
    assert "expired unapplied" in record.result["message"] and "control_command_max_age_s" in record.result["message"]
    assert repo.get_control_command(other_shard).status == "pending"  # its own daemon decides
    # At exactly the limit a command is still claimable.
    edge = repo.insert_control_command("halt", {}, issued_by="t", now_ns=now)
    assert [c.id for c in repo.claim_pending_commands(run_id, shard="default", now_ns=now + MAX_AGE_NS,
                                                      max_age_ns=MAX_AGE_NS)] == [edge]


def test_window_counts_use_exchange_time_for_fills_and_updates_for_orders(db):
    run_id = _run()
    since = NS + 1000
    old = _order(run_id, "old")  # created and updated before the window
    _order(run_id, "touched")
    repo.update_order("touched", now_ns=since + 1, status="canceled")
    repo.insert_fill(run_id, old, exec_id="a", symbol="BTC/USD", side="buy", price=Decimal(1), qty=Decimal(1),
                     ts_exchange_ns=since + 5, created_at_ns=NS)  # exchange time inside the window
    repo.insert_fill(run_id, old, exec_id="b", symbol="BTC/USD", side="buy", price=Decimal(1), qty=Decimal(1),
                     ts_exchange_ns=NS, created_at_ns=since + 5)  # exchange time outside wins over insert time
    repo.insert_fill(run_id, old, exec_id="c", symbol="BTC/USD", side="buy", price=Decimal(1), qty=Decimal(1),
                     created_at_ns=since + 5)  # no exchange time: insert time
    repo.insert_market_tickers(run_id, [{"symbol": "BTC/USD", "ts_recv_ns": since - 1}, {"symbol": "BTC/USD", "ts_recv_ns": since}])
    assert repo.window_counts(since_ns=since) == {"ticker_rows": 1, "trade_rows": 0, "orders": 1, "fills": 2}


def test_prune_when_rows_are_older_than_cutoff_then_only_those_go(db):
    run_id = _run()
    repo.insert_market_tickers(run_id, [{"symbol": "BTC/USD", "ts_recv_ns": NS + i} for i in range(10)])
    repo.insert_market_trades(run_id, [{"symbol": "BTC/USD", "side": "buy", "price": Decimal(1), "qty": Decimal(1), "ts_recv_ns": NS + i} for i in range(10)])
    assert repo.prune_market_data(older_than_ns=NS + 4, batch_rows=3) == 8  # in bounded statements
    assert MarketTicker.select().count() == 6 and MarketTrade.select().count() == 6


def test_market_rows_with_different_columns_keep_every_value(db):
    run_id = _run()
    repo.insert_market_trades(run_id, [
        {"symbol": "BTC/USD", "side": "buy", "price": Decimal(1), "qty": Decimal(1), "ts_recv_ns": NS},
        {"symbol": "BTC/USD", "side": "sell", "price": Decimal(2), "qty": Decimal(1), "ts_recv_ns": NS, "trade_id": 9, "ord_type": "limit"},
    ])
    assert [(row.trade_id, row.ord_type) for row in MarketTrade.select().order_by(MarketTrade.id)] == [(None, None), (9, "limit")]
    with pytest.raises(ValueError, match="no column"):
        repo.insert_market_tickers(run_id, [{"symbol": "BTC/USD", "ts_recv_ns": NS, "bogus": 1}])


def test_market_rows_beyond_one_statement_all_land_in_order_with_exact_values(db):
    run_id = _run()
    rows = [{"symbol": "BTC/USD", "side": "buy", "price": Decimal(f"63000.{i % 10}"), "qty": Decimal(f"0.{i:08d}"),
             "trade_id": i, "ts_recv_ns": NS + i} for i in range(1, 251)]  # 250 rows: three multi-row statements
    assert repo.insert_market_trades(run_id, rows) == 250
    stored = [(row.trade_id, row.price, row.qty, row.ts_recv_ns) for row in MarketTrade.select().order_by(MarketTrade.id)]
    assert stored == [(r["trade_id"], r["price"], r["qty"], r["ts_recv_ns"]) for r in rows]


def test_batches_of_every_size_when_stored_then_a_few_statement_texts_per_kind_not_one_per_size(db, monkeypatch):
    """Each distinct statement text becomes a prepared statement in the connection's statement cache (sqlite3
    keeps 128 per connection; a 99-row insert is ~100 KB of them): with one text per batch size the ingest
    writer's connection grew to ~6 MB and kept growing as new sizes turned up (issue 16, bounded growth)."""
    run_id = _run()
    texts: list[str] = []
    execute = db.execute_sql

    def recording(sql, params=None, *args, **kwargs):
        texts.append(sql)
        return execute(sql, params, *args, **kwargs)

    monkeypatch.setattr(db, "execute_sql", recording)
    expected = 0
    for size in range(1, 131):  # beyond the most rows one statement takes (999 parameters)
        rows = [{"symbol": "BTC/USD", "side": "buy", "price": Decimal("1.5"), "qty": Decimal(i), "ts_recv_ns": NS + expected + i}
                for i in range(size)]
        assert repo.insert_market_trades(run_id, rows) == size
        expected += size
        repo.upsert_symbol_states(run_id, [SymbolStateRow(symbol=f"S{i:03d}/USD", seq=size, updated_at_ns=NS) for i in range(size)])
    trade_texts = {t for t in texts if t.startswith('INSERT INTO "market_trade"')}
    state_texts = {t for t in texts if t.startswith('INSERT INTO "run_symbol_state"')}
    assert 1 <= len(trade_texts) <= 8, len(trade_texts)  # 1, 2, 4, ... 128 rows (6 columns: 166 rows fit)
    assert 1 <= len(state_texts) <= 6, len(state_texts)
    stored = [(row.qty, row.ts_recv_ns) for row in MarketTrade.select().order_by(MarketTrade.id)]
    assert len(stored) == expected and stored[:3] == [(Decimal(0), NS), (Decimal(0), NS + 1), (Decimal(1), NS + 2)]
    assert stored == sorted(stored, key=lambda pair: pair[1])
    assert {row["seq"] for row in repo.symbol_states(run_id)} == {130}


def test_statement_chunks_are_powers_of_two_in_order_and_cover_every_row():
    for per_statement in (1, 33, 99, 128):
        for total in (0, 1, 2, 3, 99, 100, 250):
            chunks = list(repo.statement_chunks(list(range(total)), per_statement))
            assert [row for chunk in chunks for row in chunk] == list(range(total))
            assert all(len(chunk) <= per_statement and len(chunk) & (len(chunk) - 1) == 0 for chunk in chunks)


def test_concurrent_writes_from_several_threads_all_land(db):
    run_id = _run()
    errors: list[BaseException] = []
    per_thread = 40

    def writer(index: int) -> None:
        try:
            for n in range(per_thread):
                repo.record_actor_event(run_id, f"actor:{index}", "started", str(n), NS + n)
                repo.upsert_symbol_states(run_id, [SymbolStateRow(symbol=f"S{index}/USD", seq=n, updated_at_ns=NS + n)])
                _order(run_id, f"t{index}-{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.close()  # this thread's connection

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert ActorEvent.select().count() == 6 * per_thread
    assert Order.select().count() == 6 * per_thread
    assert sorted(row["seq"] for row in repo.symbol_states(run_id)) == [per_thread - 1] * 6


def test_upgrade_when_database_is_at_previous_version_then_rows_survive(db_url):
    raw = make_database(db_url)
    raw.connect()
    assert upgrade(raw, target=LATEST_VERSION - 1) == list(range(1, LATEST_VERSION))
    raw.execute_sql(
        "INSERT INTO runs (started_at_ns, status, mode, market, shard, config_hash, version, hostname, pid) "
        "VALUES (1, 'stopped', 'paper', 'sim', 'default', 'h', '0.0.1', 'x', 1)"
    )
    raw.execute_sql("INSERT INTO strategy_settings (name, enabled, updated_by, updated_at_ns) VALUES ('momentum', %s, 'old', 1)"
                    .replace("%s", "false" if isinstance(raw, pw.PostgresqlDatabase) else "0"))
    raw.close()

    with pytest.raises(StorageError, match="db upgrade"):
        open_database(db_url, migrate=False)
    db = open_database(db_url)
    assert current_version(db) == LATEST_VERSION
    assert Run.select().count() == 1 and Run.get().heartbeat_at_ns is None
    assert repo.strategy_enabled_map() == {"momentum": False}
    assert upgrade(db) == []  # idempotent
    close_database(db)


def test_migrated_schema_equals_the_models(db_url, tmp_path):
    migrated = open_database(db_url)
    schema = migrated.execute_sql("SELECT current_schema()").fetchone()[0] if isinstance(migrated, pw.PostgresqlDatabase) else None
    columns_migrated = {m._meta.table_name: {c.name for c in migrated.get_columns(m._meta.table_name, schema)} for m in ALL_MODELS}
    indexes_migrated = {m._meta.table_name: {tuple(i.columns) for i in migrated.get_indexes(m._meta.table_name, schema)} for m in ALL_MODELS}
    assert all(columns_migrated.values())
    close_database(migrated)

    reference = make_database(f"sqlite:///{tmp_path / 'models.db'}")
    with reference.bind_ctx(ALL_MODELS):
        reference.create_tables(ALL_MODELS)
    columns_models = {model._meta.table_name: {c.name for c in reference.get_columns(model._meta.table_name)} for model in ALL_MODELS}
    indexes_models = {model._meta.table_name: {tuple(i.columns) for i in reference.get_indexes(model._meta.table_name)} for model in ALL_MODELS}
    assert columns_migrated == columns_models
    for table, wanted in indexes_models.items():
        assert wanted <= indexes_migrated[table] | {("id",)}, (table, wanted - indexes_migrated[table])


def test_open_when_database_is_newer_than_code_then_clear_error(sqlite_url):
    db = open_database(sqlite_url)
    db.execute_sql("INSERT INTO schema_version (version, description, applied_at_ns) VALUES (999, 'future', 1)")
    close_database(db)
    with pytest.raises(StorageError, match="newer than this kraken-runtime"):
        open_database(sqlite_url)


def test_unsupported_url_is_one_clear_error():
    with pytest.raises(StorageError, match="expected sqlite:///PATH"):
        make_database("mysql://root@localhost/test")


def test_open_when_schema_is_broken_then_one_line_storage_error_not_a_driver_exception(db_url):
    raw = make_database(db_url)
    raw.connect()
    raw.execute_sql("CREATE TABLE schema_version (unexpected INTEGER)")  # a schema some other tool left behind
    raw.close()
    with pytest.raises(StorageError) as info:
        open_database(db_url)
    assert str(info.value).startswith("cannot open database ") and "\n" not in str(info.value)


def test_open_when_a_fleet_starts_on_a_fresh_database_at_once_then_every_daemon_succeeds_and_each_step_runs_once(db_url):
    openers = 4
    barrier = threading.Barrier(openers)
    errors: list[BaseException] = []

    def start_daemon() -> None:
        try:
            barrier.wait(timeout=10)
            close_database(open_database(db_url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start_daemon) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    db = open_database(db_url, migrate=False)
    versions = [row[0] for row in db.execute_sql("SELECT version FROM schema_version ORDER BY version").fetchall()]
    close_database(db)
    assert versions == list(range(1, LATEST_VERSION + 1))


STALE_NS = 48 * 10**9  # how old a lease may be before its run is taken for dead


def _claimed_by(run_id: int, command: str = "halt", shard: str = "default", now_ns: int = NS) -> int:
    command_id = repo.insert_control_command(command, {"reason": "operator"}, issued_by="t", now_ns=now_ns)
    claimed = repo.claim_pending_commands(run_id, shard=shard, now_ns=now_ns, max_age_ns=MAX_AGE_NS)
    assert [c.id for c in claimed] == [command_id] and repo.get_control_command(command_id).status == "applying"
    return command_id


def test_orphaned_command_when_its_run_ended_before_answering_then_failed_with_reason_and_not_reapplied(db):
    """Fault: the run that claimed `halt` crashed before it wrote the result; the row would stay `applying`."""
    dead = _run()
    command_id = _claimed_by(dead)
    repo.finish_run(dead, status="crashed", now_ns=NS + 1)
    nxt = _run(NS + 2)  # the next daemon of the shard starts a second later: the dead run's lease is still fresh
    closed = repo.fail_orphaned_control_commands(nxt, shard="default", now_ns=NS + 2, stale_before_ns=NS + 2 - STALE_NS)
    assert [c.id for c in closed] == [command_id]
    record = repo.get_control_command(command_id)
    assert (record.status, record.applied_by_run, record.applied_at_ns) == ("failed", dead, NS + 2)
    assert record.result["status"] == "failed"
    assert record.result["message"].startswith(f"claimed by run {dead}, which ended (crashed) before it reported")
    assert "outcome unknown" in record.result["message"] and "re-issue it if it is still wanted" in record.result["message"]
    assert record.result["data"] == {"outcome": "unknown", "claimed_by_run": dead, "claimant_status": "crashed",
                                     "closed_by_run": nxt}
    # Closed once; never handed out again to be applied.
    assert repo.fail_orphaned_control_commands(nxt, shard="default", now_ns=NS + 3, stale_before_ns=NS + 3 - STALE_NS) == []
    assert repo.claim_pending_commands(nxt, shard="default", now_ns=NS + 3, max_age_ns=MAX_AGE_NS) == []


def test_orphaned_command_when_its_run_was_killed_then_failed_once_its_lease_is_stale(db):
    """Fault: kill -9. The run row still says `running`; only its lease going stale tells it is gone."""
    killed = _run()
    command_id = _claimed_by(killed)
    repo.heartbeat_run(killed, NS + 10)
    nxt = _run(NS + 20)
    at_limit = NS + 10 + STALE_NS
    assert repo.fail_orphaned_control_commands(nxt, shard="default", now_ns=at_limit, stale_before_ns=at_limit - STALE_NS) == []
    assert repo.get_control_command(command_id).status == "applying"  # a lease exactly at the bound is still alive
    later = at_limit + 2 * 10**9
    closed = repo.fail_orphaned_control_commands(nxt, shard="default", now_ns=later, stale_before_ns=later - STALE_NS)
    assert [c.id for c in closed] == [command_id]
    message = repo.get_control_command(command_id).result["message"]
    assert message.startswith(f"claimed by run {killed}, which stopped renewing its lease 50s ago (killed or hung)")
    assert "outcome unknown" in message


def test_orphaned_command_when_its_run_is_alive_or_is_ourselves_or_of_another_shard_then_left_alone(db):
    live, ours = _run(), _run()
    by_live = _claimed_by(live)
    by_ours = _claimed_by(ours)
    other = repo.start_run(mode="paper", market="sim", shard="eu-2", config_hash="abc", version="0.1.0", hostname="host",
                           pid=1, now_ns=NS)
    by_other = _claimed_by(other, shard="eu-2")
    repo.finish_run(other, status="crashed", now_ns=NS + 1)  # eu-2's own next daemon closes it
    repo.finish_run(ours, status="stopped", now_ns=NS + 1)  # never our own claims, even from a finished row
    now = NS + STALE_NS  # the live run renewed its lease just now
    repo.heartbeat_run(live, now)
    assert repo.fail_orphaned_control_commands(ours, shard="default", now_ns=now, stale_before_ns=now - STALE_NS) == []
    assert {repo.get_control_command(c).status for c in (by_live, by_ours, by_other)} == {"applying"}
    # The live run answers as usual.
    repo.complete_control_command(by_live, status="applied", result={"status": "applied", "message": "ok", "data": {}},
                                  run_id=live, now_ns=now)
    assert repo.get_control_command(by_live).status == "applied"


def test_orphaned_command_when_claimant_answered_before_it_ended_then_its_answer_stands(db):
    dead = _run()
    command_id = _claimed_by(dead)
    repo.finish_run(dead, status="stopped", now_ns=NS + 1)
    repo.complete_control_command(command_id, status="applied", result={"status": "applied", "message": "halted", "data": {}},
                                  run_id=dead, now_ns=NS + 1)
    nxt = _run(NS + 2)
    assert repo.fail_orphaned_control_commands(nxt, shard="default", now_ns=NS + 2, stale_before_ns=NS + 2 - STALE_NS) == []
    assert repo.get_control_command(command_id).status == "applied"


def test_orphaned_command_when_its_run_row_was_deleted_then_failed_too(db):
    gone = _run()
    command_id = _claimed_by(gone)
    Run.delete().where(Run.id == gone).execute()  # ON DELETE SET NULL on PostgreSQL (and SQLite with foreign keys)
    nxt = _run(NS + 2)
    closed = repo.fail_orphaned_control_commands(nxt, shard="default", now_ns=NS + 2, stale_before_ns=NS + 2 - STALE_NS)
    assert [c.id for c in closed] == [command_id]
    record = repo.get_control_command(command_id)
    assert record.status == "failed" and "whose `runs` row no longer exists" in record.result["message"]
