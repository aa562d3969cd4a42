"""ops/bench/book.py stays runnable (one quick round; the figures themselves live in docs/PERFORMANCE.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_book_benchmark_when_run_once_then_prints_both_tables_and_a_verdict(capsys, kraken_data):
    spec = importlib.util.spec_from_file_location("bench_book", REPO_ROOT / "ops" / "bench" / "book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--repeat", "1", "--data", str(kraken_data)]) == 0
    out = capsys.readouterr().out
    assert "| L2Book fast (decode + apply + checksum)" in out
    assert "| L3Book fast (decode + apply + checksum)" in out
    assert "us per update" in out
