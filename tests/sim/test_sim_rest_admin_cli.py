"""REST public shapes, the admin fault API, replay and the CLI of the local exchange."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import websocket

from kraken_runtime.commands.sim import DEFAULT_SEED
from kraken_runtime.commands.sim import main as sim_command
from kraken_runtime.core.kraken import wire
from kraken_runtime.core.kraken.book import L2Book, decode_book
from kraken_runtime.core.config import SimSettings
from kraken_runtime.sim_server.app import start_sim
from kraken_runtime.sim_server.replay import load_capture

REPO = Path(__file__).resolve().parents[2]


def _keys(path: Path) -> set:
    return set(json.loads(path.read_text())["result"])


def test_public_rest_then_envelope_and_shapes_match_kraken(sim, shared_kraken):
    rest = sim.endpoints["rest"]
    fixtures = shared_kraken / "rest"
    time_ = requests.get(rest + "/0/public/Time", timeout=5).json()
    assert time_["error"] == [] and set(time_["result"]) == _keys(fixtures / "public_server_time.json")
    status = requests.get(rest + "/0/public/SystemStatus", timeout=5).json()
    assert set(status["result"]) == _keys(fixtures / "public_system_status.json")
    pairs = requests.get(rest + "/0/public/AssetPairs?pair=XBTUSD", timeout=5).json()["result"]
    recorded = next(iter(json.loads((fixtures / "public_asset_pairs.json").read_text())["result"].values()))
    assert set(pairs["XXBTZUSD"]) >= set(recorded) - {"tick_size"} and pairs["XXBTZUSD"]["pair_decimals"] == 1
    ticker = requests.get(rest + "/0/public/Ticker?pair=XBTUSD", timeout=5).json()["result"]["XXBTZUSD"]
    recorded = next(iter(json.loads((fixtures / "public_ticker.json").read_text())["result"].values()))
    assert set(ticker) == set(recorded)
    depth = requests.get(rest + "/0/public/Depth?pair=XBTUSD&count=5", timeout=5).json()["result"]["XXBTZUSD"]
    assert len(depth["bids"]) == 5 and len(depth["bids"][0]) == 3
    trades = requests.get(rest + "/0/public/Trades?pair=XBTUSD", timeout=5).json()["result"]
    assert "last" in trades and "XXBTZUSD" in trades


def test_public_rest_when_pair_unknown_then_kraken_error(sim):
    body = requests.get(sim.endpoints["rest"] + "/0/public/Ticker?pair=NOPE", timeout=5).json()
    assert body == {"error": ["EQuery:Unknown asset pair"]}


def test_admin_when_fault_unknown_or_params_bad_then_400_with_reason(sim):
    admin = sim.endpoints["admin"]
    bad = requests.post(admin + "/faults", json={"fault": "meteor"}, timeout=5)
    assert bad.status_code == 400 and "unknown fault" in bad.json()["error"]
    bad = requests.post(admin + "/faults", json={"fault": "stall_feed", "seconds": -1}, timeout=5)
    assert bad.status_code == 400 and "seconds" in bad.json()["error"]


def test_admin_post_get_delete_then_fault_listed_and_cleared(sim):
    admin = sim.endpoints["admin"]
    ok = requests.post(admin + "/faults", json={"fault": "reject_orders", "count": 2, "error": "EOrder:Insufficient funds"}, timeout=5)
    assert ok.status_code == 200 and ok.json()["id"]
    listed = requests.get(admin + "/faults", timeout=5).json()["faults"]
    assert [f["fault"] for f in listed] == ["reject_orders"]
    assert requests.delete(admin + "/faults", timeout=5).json()["cleared"] == 1
    assert requests.get(admin + "/faults", timeout=5).json()["faults"] == []


def test_corrupt_checksum_then_exactly_count_book_messages_fail(sim, connect):

    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "subscribe", "params": {"channel": "book", "symbol": ["ETH/USD"], "depth": 10}})
    book = L2Book("ETH/USD", 10, 2, 8)
    seen = 0
    failures = 0
    injected = False
    end = time.monotonic() + 20
    while seen < 40 and time.monotonic() < end:
        message = wire.loads(client.recv())
        if message.get("channel") != "book":
            continue
        result = book.apply_message(decode_book(message))
        seen += 1
        failures += 0 if result.ok else 1
        if seen == 3 and not injected:
            sim.inject_fault({"fault": "corrupt_checksum", "symbol": "ETH/USD", "count": 3})
            injected = True
    assert failures == 3


def test_stall_feed_then_socket_silent_including_heartbeats(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "subscribe", "params": {"channel": "book", "symbol": ["XRP/USD"]}})
    client.wait_for(lambda m: m.get("channel") == "book" and m.get("type") == "update")
    sim.inject_fault({"fault": "stall_feed", "symbol": "XRP/USD", "seconds": 2.5})
    # drain what was in flight, then expect silence for well over a heartbeat interval
    client.ws.settimeout(0.3)
    try:
        while True:
            client.ws.recv()
    except websocket.WebSocketTimeoutException:
        pass
    client.ws.settimeout(1.5)
    try:
        frame = client.ws.recv()
    except websocket.WebSocketTimeoutException:
        frame = None
    assert frame is None
    client.wait_for(lambda m: m.get("channel") == "book", deadline_s=5)


def test_drop_connections_then_clients_are_disconnected(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.recv_json()
    sim.inject_fault({"fault": "drop_connections"})
    end = time.monotonic() + 5
    dropped = False
    while time.monotonic() < end:
        try:
            client.ws.settimeout(1)
            client.ws.recv()
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            dropped = True
            break
        except websocket.WebSocketTimeoutException:
            continue
    assert dropped


def test_replay_when_capture_served_then_frames_are_byte_compatible(shared_kraken, connect):
    capture = shared_kraken / "captures" / "ws_v2_book_BTCUSD_snapshot_19_updates.jsonl"
    frames = load_capture(capture)
    handle = start_sim(symbols=("BTC/USD",), replay=str(capture), speed=1000.0)
    try:
        client = connect(handle.endpoints["ws_public"])
        client.send({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"]}})
        received = []
        while len(received) < len(frames):
            text = client.recv(5)
            if '"method":"subscribe"' in text.replace(" ", "") and text not in frames:
                continue  # the server's own ack when the capture has none
            received.append(text)
        assert received == frames
    finally:
        handle.stop()


def test_cli_then_one_json_line_and_exit_0_on_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "kraken_runtime.commands.sim", "--port", "0", "--symbols",
                             "BTC/USD"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        endpoints = json.loads(line)
        assert set(endpoints) >= {"rest", "ws_public", "ws_l3", "ws_auth", "ref", "admin", "api_key", "api_secret"}
        assert requests.get(endpoints["rest"] + "/0/public/Time", timeout=5).json()["error"] == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_when_args_bad_then_exit_2():
    proc = subprocess.run([sys.executable, "-m", "kraken_runtime.commands.sim", "--balance", "USD"], cwd=REPO,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1


def test_cli_when_symbol_unknown_then_exit_2_listing_the_valid_symbols(capsys):
    assert sim_command(["--symbols", "BTC/USD,FOO/BAR"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "does not list FOO/BAR" in err[0] and "BTC/USD" in err[0] and "ETH/USD" in err[0]


def test_cli_default_seed_is_the_one_run_market_sim_uses():
    assert DEFAULT_SEED == SimSettings().seed
