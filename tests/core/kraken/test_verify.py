"""core.kraken.verify and `kraken-runtime verify-capture` on the shared captures."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kraken_runtime.core.kraken.verify import CaptureError, parse_precision, read_capture, verify_capture_text
from kraken_runtime.commands import verify_capture

REPO_ROOT = Path(__file__).resolve().parents[3]

EXPECTED = {
    # file: (symbol, channel, checksums, resyncs, extra args)
    "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl": ("BTC/USD", "book", 301, 4, []),
    "ws_v2_book_BTCUSD_depth25.jsonl": ("BTC/USD", "book", 2052, 0, []),
    "ws_v2_book_ETHUSD_depth25.jsonl": ("ETH/USD", "book", 1129, 0, []),
    "ws_v2_book_XRPUSD_depth25.jsonl": ("XRP/USD", "book", 1147, 0, []),
    "ws_v2_book_BTCUSD_depth10_reserialized.json": ("BTC/USD", "book", 510, 0, ["--precision", "BTC/USD=1/8"]),
    "ws_v2_book_BTCUSD_snapshot_19_updates.jsonl": ("BTC/USD", "book", 20, 0, []),
    "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl": ("BTC/USD", "level3", 4, 0, []),
}


def run_command(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    parser = verify_capture.build_parser()
    args = parser.parse_args(argv)
    code = verify_capture.run(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verify_capture_when_shared_capture_replayed_then_every_checksum_matches(captures_dir, name):
    symbol, channel, checksums, resyncs, extra = EXPECTED[name]
    code, out, err = run_command(["--json", *extra, str(captures_dir / name)])
    assert code == 0, out + err
    report = json.loads(out)
    assert report["ok"] is True and report["checksums_checked"] == checksums
    (stream,) = report["files"][0]["streams"]
    assert (stream["symbol"], stream["channel"]) == (symbol, channel)
    assert stream["checksums_checked"] == stream["matched"] == checksums
    assert stream["mismatched"] == 0 and stream["resyncs"] == resyncs


def test_verify_capture_when_scientific_notation_capture_then_needs_btc_precision(captures_dir):
    path = str(captures_dir / "ws_v2_book_scientific_notation.jsonl")
    code, out, _ = run_command(["--precision", "BTC/USD=1/8", path])
    assert code == 0 and "OK: all 3 checksums matched" in out
    code, out, _ = run_command([path])
    assert code == 1 and "FAILED: 1 of 3 checksums mismatched" in out


def test_verify_capture_when_several_files_then_table_lists_each(captures_dir):
    level3 = "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl"
    files = [str(captures_dir / n) for n in ("ws_v2_book_BTCUSD_snapshot_19_updates.jsonl", level3)]
    code, out, _ = run_command(files)
    assert code == 0
    assert "symbol   channel  frames  checked  matched  mismatched  resyncs" in out
    assert "level3" in out and level3 in out and "OK: all 24 checksums matched" in out


def test_verify_capture_when_depth25_capture_lacks_its_ack_then_depth_flag_decides(captures_dir, tmp_path):
    lines = (captures_dir / "ws_v2_book_BTCUSD_depth25.jsonl").read_text().splitlines()
    no_ack = tmp_path / "no_ack.jsonl"
    no_ack.write_text("\n".join(line for line in lines if '"method"' not in line) + "\n")
    assert run_command(["--depth", "25", str(no_ack)])[0] == 0
    code, out, _ = run_command([str(no_ack)])
    assert code == 1 and "first mismatch BTC/USD book" in out


def test_verify_capture_when_capture_carries_instrument_frame_then_its_precision_is_used(captures_dir, tmp_path):
    document = json.loads((captures_dir / "ws_v2_book_BTCUSD_depth10_reserialized.json").read_text())
    instrument = {"channel": "instrument", "type": "snapshot", "data": {"assets": [], "pairs": [
        {"symbol": "BTC/USD", "price_precision": 1, "qty_precision": 8}]}}
    path = tmp_path / "with_instrument.jsonl"
    frames = [instrument, document["init"], *document["updates"]]
    path.write_text("".join(json.dumps(frame) + "\n" for frame in frames))
    code, out, _ = run_command([str(path)])
    assert code == 0 and "OK: all 510 checksums matched" in out


def test_verify_capture_when_one_checksum_is_corrupted_then_exit_1(captures_dir, tmp_path):
    lines = (captures_dir / "ws_v2_book_ETHUSD_depth25.jsonl").read_text().splitlines()
    target = next(i for i, line in enumerate(lines) if '"type":"update"' in line and i > 500)
    checksum = json.loads(lines[target])["data"][0]["checksum"]
    lines[target] = lines[target].replace(f'"checksum":{checksum}', f'"checksum":{(checksum + 1) % 2**32}')
    corrupted = tmp_path / "corrupted.jsonl"
    corrupted.write_text("\n".join(lines) + "\n")
    code, out, _ = run_command(["--json", str(corrupted)])
    assert code == 1
    (stream,) = json.loads(out)["files"][0]["streams"]
    assert stream["mismatched"] == 1 and stream["matched"] == 1128
    assert stream["first_mismatch"].startswith(f"line {target + 1}: expected")


def test_verify_capture_when_a_level_is_corrupted_then_exit_1(captures_dir, tmp_path):
    text = (captures_dir / "ws_v2_book_BTCUSD_snapshot_19_updates.jsonl").read_text()
    corrupted = tmp_path / "level.jsonl"
    corrupted.write_text(text.replace('"qty":0.06320000}', '"qty":0.06330000}', 1))
    assert run_command([str(corrupted)])[0] == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("this is not json\n", "invalid JSON"),
        ('{"channel":"book","type":"update","data":[{"symbol":"X","bids":[{"qty":1}],"asks":[]}]}\n',
         "book update: 'price' missing in bids[0]"),
        ("", "empty capture"),
        ("42", "a capture must hold JSON objects"),
    ],
)
def test_verify_capture_when_input_is_unreadable_then_exit_2_with_one_line_reason(tmp_path, content, reason):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    code, out, err = run_command([str(path)])
    assert code == 2
    assert reason in err and err.count("\n") == 1 and out == ""


def test_verify_capture_when_file_missing_or_binary_then_exit_2(tmp_path):
    assert run_command([str(tmp_path / "missing.jsonl")])[0] == 2
    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    code, _, err = run_command([str(binary)])
    assert code == 2 and "cannot read" in err


def test_verify_capture_when_no_book_frames_then_exit_1(captures_dir):
    code, out, _ = run_command([str(captures_dir / "ws_v2_executions_lifecycle_docs.jsonl")])
    assert code == 1 and "no book checksums found" in out


def test_verify_capture_when_precision_flag_malformed_then_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        verify_capture.build_parser().parse_args(["--precision", "BTC/USD=one", "x"])
    assert caught.value.code == 2


def test_register_when_added_to_a_cli_then_parses_and_dispatches(captures_dir):
    parser = argparse.ArgumentParser(prog="kraken-runtime")
    verify_capture.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["verify-capture", str(captures_dir / "ws_v2_book_BTCUSD_snapshot_19_updates.jsonl")])
    assert args.func is verify_capture.run
    assert args.func(args, out=io.StringIO(), err=io.StringIO()) == 0


def test_verify_capture_when_run_as_a_subprocess_then_exit_code_and_table(captures_dir):
    completed = subprocess.run(
        [sys.executable, "-m", "kraken_runtime.commands.verify_capture",
         str(captures_dir / "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl")],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "OK: all 301 checksums matched" in completed.stdout


def test_parse_precision_when_valid_or_not_then_tuple_or_value_error():
    assert parse_precision("BTC/USD=1/8") == ("BTC/USD", 1, 8)
    for bad in ("BTC/USD", "=1/8", "BTC/USD=1", "BTC/USD=a/8", "BTC/USD=1/99"):
        with pytest.raises(ValueError):
            parse_precision(bad)


def test_read_capture_when_init_updates_form_then_frames_in_order(captures_dir):
    name = "ws_v2_book_BTCUSD_depth10_reserialized.json"
    frames = read_capture(name, (captures_dir / name).read_text())
    assert len(frames) == 510 and frames[0].location == "init" and frames[1].location == "updates[0]"
    with pytest.raises(CaptureError):
        read_capture("x", '{"init": {}, "updates": 5}')


def test_verify_capture_text_when_update_precedes_snapshot_then_counted_unchecked():
    text = '{"channel":"book","type":"update","data":[{"symbol":"X","bids":[],"asks":[],"checksum":1}]}\n'
    (stream,) = verify_capture_text("x", text).streams
    assert stream.unchecked == 1 and stream.checked == 0
