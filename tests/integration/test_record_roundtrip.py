"""`kraken-runtime record` end to end: record from the in-process local exchange, check the recording with
verify-capture, replay it through `sim --replay` and get the same frames back byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import websocket

from kraken_runtime.core.recording import read_recording
from kraken_runtime.sim_server.app import start_sim
from kraken_runtime.commands.record import subscriptions

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRT_", "KRAKEN_"))}
    env.update({"PYTHONPATH": str(REPO), "KRT_LOGGING__DIR": str(tmp_path / "logs")})
    return env


def _record(tmp_path: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kraken_runtime.cli", "record", "--env-file", str(tmp_path / "none.env"),
         "--symbols", "BTC/USD,ETH/USD", "--out", str(out), *extra],
        cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_record_when_run_for_a_duration_then_verify_passes_and_replay_returns_identical_frames(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl"
    proc = _record(tmp_path, out, "--duration", "2.5")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "recorded" in stdout
    recorded = [item for _, item in read_recording(out.read_text())]
    frames = [item.frame for item in recorded]
    assert sum('"channel":"book"' in f for f in frames) > 10
    assert all(b.recv_ns >= a.recv_ns for a, b in zip(recorded, recorded[1:]))

    verify = subprocess.run([sys.executable, "-m", "kraken_runtime.cli", "verify-capture", str(out)],
                            cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "BTC/USD" in verify.stdout and "ETH/USD" in verify.stdout

    handle = start_sim(replay=str(out), speed=20.0)
    try:
        ws = websocket.create_connection(handle.endpoints["ws_public"], timeout=5, skip_utf8_validation=True)
        try:
            replayed = [ws.recv()]  # the status frame, sent on connect
            for text in subscriptions(["BTC/USD", "ETH/USD"], 10):
                ws.send(text)
            deadline = time.monotonic() + 30
            while len(replayed) < len(frames) and time.monotonic() < deadline:
                replayed.append(ws.recv())
        finally:
            ws.close()
    finally:
        handle.stop()
    assert replayed == frames


def test_record_when_sent_sigterm_then_stops_cleanly_with_every_line_complete(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl"
    proc = _record(tmp_path, out)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 20_000):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)  # polling the file with a deadline, not synchronizing
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    text = out.read_text()
    assert text.endswith("\n")
    assert len(read_recording(text)) == int(stdout.split()[1])


def test_record_when_arguments_are_bad_then_one_line_and_exit_2(tmp_path: Path) -> None:
    for extra in (["--duration", "0"], ["--depth", "7"], ["--market", "moon"]):
        proc = _record(tmp_path, tmp_path / "x.jsonl", *extra)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 2, extra
        assert len(stderr.strip().splitlines()) == 1


def test_record_when_out_is_not_writable_then_exit_1(tmp_path: Path) -> None:
    proc = _record(tmp_path, tmp_path / "missing-dir" / "x.jsonl", "--duration", "1")
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "cannot write" in stderr
