"""ops/bench/ingest.py --quick runs end to end and prints its table (figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ingest_bench_when_run_quick_then_prints_the_table_with_baseline_ratios() -> None:
    proc = subprocess.run([sys.executable, "ops/bench/ingest.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("symbols"))
    assert "frames/s" in header and "CPU ratio" in header and "p99 ms" in header
    rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    assert [(row[0], row[2]) for row in rows] == [("1", "flood"), ("1", "50,000"), ("10", "flood"), ("10", "50,000")]
    assert all(row[-1] == "0" for row in rows)  # no checksum failures
