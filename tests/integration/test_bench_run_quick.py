"""ops/bench/run.py: one small benchmark end to end in quick mode prints one JSON object of the agreed shape
(figures are not asserted: speed is shown by the suite, never by timed assertions); bad names are refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "ops/bench/run.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_run_when_quick_json_decode_then_one_object_with_figures_baseline_and_ratio() -> None:
    proc = _run("--quick", "--json", "decode")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert {"name", "what", "unit", "figures", "baseline", "ratio", "target", "met", "quick"} <= set(row)
    assert row["name"] == "decode" and row["quick"] is True
    channels = {"book", "trade", "ticker", "level3", "executions"}
    assert set(row["figures"]) == set(row["baseline"]["figures"]) == set(row["ratio"]) == channels
    for channel in channels:
        assert row["figures"][channel]["us_per_frame"] > 0
        assert row["baseline"]["figures"][channel]["orjson_loads_us"] > 0
        ratio = row["ratio"][channel]["vs_orjson_loads"]
        expected = row["figures"][channel]["us_per_frame"] / row["baseline"]["figures"][channel]["orjson_loads_us"]
        assert abs(ratio - expected) <= 0.01 * expected + 0.002
    assert all(isinstance(value, bool) for value in row["met"].values())


def test_run_when_name_is_unknown_then_exit_2_with_one_line_naming_the_choices() -> None:
    proc = _run("--quick", "nonsense")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "run.py: unknown benchmark 'nonsense'; expected one of decode, l2book, replay, l3book, ingest, storage, scale, "
        "pipeline, order"]


def test_run_when_quick_json_pipeline_and_order_then_one_object_each_with_stage_figures_baseline_and_ratio() -> None:
    proc = _run("--quick", "--json", "pipeline", "order")
    assert proc.returncode == 0, proc.stderr[-2000:]
    pipeline, order = (json.loads(line) for line in proc.stdout.splitlines())
    for row in (pipeline, order):
        assert {"name", "what", "unit", "figures", "baseline", "ratio", "target", "met", "quick"} <= set(row)
        assert all(isinstance(value, bool) for value in row["met"].values())
    assert pipeline["name"] == "pipeline" and order["name"] == "order"
    assert set(pipeline["figures"]) == set(pipeline["baseline"]["figures"]) == set(pipeline["ratio"]) == {"5000/s eager"}
    row = pipeline["figures"]["5000/s eager"]
    assert row["checksum_failures"] == 0 and row["frames_per_s"] > 0
    assert {"applied", "to_scanner", "signal", "decided", "intent", "order", "order_ack"} <= set(row)
    assert row["applied"].startswith("n ") and not row["applied"].startswith("n 0")  # frames reached the state holder
    assert pipeline["baseline"]["figures"]["5000/s eager"]["p99_ms"] > 0
    legs = {f"{path} submit -> {leg}" for path in ("paper", "live", "live_ws") for leg in ("ack", "fill")}
    assert set(order["figures"]) == set(order["baseline"]["figures"]) == set(order["ratio"]) == legs
    for leg in legs:  # every order of every path was acknowledged and filled (no misses row)
        assert order["figures"][leg]["n"] == 5 and order["figures"][leg]["p99_ms"] > 0
