"""`kraken-runtime snapshot` reads both tiers from the database (SQLite and PostgreSQL) without a daemon;
every bad input is one line with its documented exit code."""

from __future__ import annotations

import time
from decimal import Decimal

import orjson
import pytest

from kraken_runtime.cli import main
from kraken_runtime.core.marketdata import SymbolStateRow
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database


@pytest.fixture
def filled_db(db_url):
    url = db_url
    db = open_database(url)
    now = time.time_ns()
    run_id = repo.start_run(mode="paper", market="sim", shard="default", config_hash="x", version="t", hostname="h", pid=1, now_ns=now)
    repo.insert_market_tickers(run_id, [{"symbol": "BTC/USD", "ts_recv_ns": now - 1}])
    order = repo.insert_order(run_id, client_order_id="c", venue="paper", mode="paper", symbol="BTC/USD", side="sell",
                              order_type="limit", price=Decimal("1"), qty=Decimal("1"), status="filled", created_at_ns=now,
                              updated_at_ns=now)
    repo.insert_fill(run_id, order, exec_id="e", symbol="BTC/USD", side="sell", price=Decimal("1"), qty=Decimal("1"), created_at_ns=now)
    repo.upsert_symbol_states(run_id, [SymbolStateRow(symbol="BTC/USD", status="ready", epoch=2, updated_at_ns=now)])
    close_database(db)
    return url


def test_snapshot_json_tier1_prints_the_public_document(filled_db, capsys):
    assert main(["snapshot", "--db", filled_db, "--json", "--tier", "1"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["tier"] == 1 and doc["cards"] == {"ticker_rows": 1, "trade_rows": 0, "orders": 1, "fills": 1}
    assert doc["demo_trades"][0]["text"] == "BTC/USD sell — filled(filled)"


def test_snapshot_json_without_tier_prints_both_and_text_reads_as_lines(filled_db, capsys):
    assert main(["snapshot", "--db", filled_db, "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert set(doc) == {"tier1", "tier2"} and doc["tier2"]["symbols"][0]["epoch"] == 2
    assert main(["snapshot", "--db", filled_db, "--tier", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tier 2 snapshot") and "BTC/USD" in out and "epoch=2" in out


def test_snapshot_bad_inputs_are_one_line_with_their_exit_codes(tmp_path, filled_db, capsys):
    with pytest.raises(SystemExit) as usage:
        main(["snapshot", "--tier", "3"])
    assert usage.value.code == 2 and "expected 1 (public) or 2 (engineers)" in capsys.readouterr().err
    assert main(["snapshot", "--db", f"sqlite:///{tmp_path / 'missing.db'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["snapshot", "--config", str(tmp_path / "nope.yaml"), "--db", filled_db]) == 78
    err = capsys.readouterr().err
    assert err.startswith("config error") and err.count("\n") == 1


def test_snapshot_when_the_database_cannot_be_read_exits_1_with_one_line(filled_db, capsys):
    db = open_database(filled_db)
    db.execute_sql("DROP TABLE fills")  # the fault: the read model's table is gone
    close_database(db)
    assert main(["snapshot", "--db", filled_db, "--tier", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("snapshot: ") and "fills" in err
