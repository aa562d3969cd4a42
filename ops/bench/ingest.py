"""Ingest benchmark: book frames per second one process sustains through feed -> state (checksums on), for
1, 10 and 50 symbols, beside a same-run baseline of a bare websocket-client receive + JSON decode loop on
the same stream. Prints a table with figures and ratios; exit 0.

    python ops/bench/ingest.py [--quick] [--seconds S] [--symbols 1,10,50] [--layouts per_symbol,shared]
                               [--markdown] [--profile]

Source: a firehose WebSocket server in a separate process (so it does not share this process's GIL). It
sends pre-framed book frames as fast as the client reads (TCP back-pressure paces it): the book frames of
tests/data/kraken/captures/ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl (301 checksummed updates, 4
snapshots), relabelled into N synthetic symbols `XNN/USD` (checksums depend only on the levels, so they
stay valid), interleaved round-robin across the symbols a connection subscribed, repeated forever. The
local exchange's `sim --replay` parses and paces every frame in Python and serves far fewer than 50,000
frames/s, so it cannot be the source of this measurement.

Pipeline: the real wiring of the daemon (actors/ingest.py `ingest_child_specs` under a SupervisorActor
with a Directory, a SQLite database for run_symbol_state): FeedActor reader threads -> FeedActor (decode,
MarketBatch per symbol) -> SymbolStateActor (SymbolState.apply_batch: books, checksums, features,
coalesced row writes). Layout `per_symbol` (the default: one connection + FeedActor per symbol) or
`shared` (one connection carrying every symbol).

Per row, after a warm-up, over a window of S seconds:
- frames/s: book frames applied by the state holders (checksum verified) per wall second;
- CPU us/frame: this process's CPU time (all threads) over those frames;
- latency p50/p99: frame received (reader thread's stamp) -> applied in the state holder;
- ratio: CPU us/frame over the baseline's, the baseline being one connection subscribed to the same N
  symbols, `websocket-client` recv (UTF-8 validation skipped, as the feed does) + stdlib `json.loads`,
  in a loop on this process's main thread, measured in the same run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import multiprocessing
import os
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

CAPTURE = REPO_ROOT / "tests" / "data" / "kraken" / "captures" / "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl"
SOURCE_SYMBOL = "BTC/USD"
PRECISION = (1, 8)  # BTC/USD's price/qty precision, given to the synthetic symbols
BOOK_ACK = ('{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},'
            '"success":true,"time_in":"2026-08-01T02:53:53.184174Z","time_out":"2026-08-01T02:53:53.184216Z"}')
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TARGET_FPS = 50_000  # the target: book frames per second per process
PINNED_CPU: int | None = None  # --cpu: this process (the pipeline) runs on that CPU only, the source elsewhere


def synthetic_symbols(n: int) -> list[str]:
    return [f"X{i:02d}/USD" for i in range(n)]


def book_frames(capture: Path = CAPTURE) -> list[str]:
    return [line for line in capture.read_text().splitlines() if line.startswith('{"channel":"book"')]


# ------------------------------------------------------------------------------------------- firehose


def _ws_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + struct.pack("!H", n) + payload
    return bytes((0x81, 127)) + struct.pack("!Q", n) + payload


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def _read_client_frame(sock: socket.socket) -> tuple[int, bytes]:
    b0, b1 = _recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", _recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", _recv_exact(sock, 8))[0]
    mask = _recv_exact(sock, 4) if b1 & 0x80 else b"\0\0\0\0"
    data = _recv_exact(sock, n)
    return b0 & 0x0F, bytes(c ^ mask[i % 4] for i, c in enumerate(data))


def _serve_connection(sock: socket.socket, frames: list[str], go, rate: float) -> None:
    try:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = sock.recv(4096)
            if not chunk:
                return
            request += chunk
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        symbols: list[str] = []
        while not symbols:  # the feed subscribes instrument, ticker, trade, then book
            opcode, data = _read_client_frame(sock)
            if opcode == 8:
                return
            if opcode == 1:
                params = json.loads(data).get("params") or {}
                if params.get("channel") == "book":
                    symbols = list(params.get("symbol") or [])
        marker = f'"symbol":"{SOURCE_SYMBOL}"'
        for symbol in symbols:  # the feed counts itself connected on the book ack
            sock.sendall(_ws_frame(BOOK_ACK.replace(marker, f'"symbol":"{symbol}"').encode()))
        parts = []
        for frame in frames:  # round-robin: frame i of every symbol, then frame i + 1
            for symbol in symbols:
                parts.append(_ws_frame(frame.replace(marker, f'"symbol":"{symbol}"').encode()))
        blob = b"".join(parts)
        threading.Thread(target=_drain_client, args=(sock,), daemon=True).start()
        go.wait()  # every connection of the row is subscribed: start the flood
        per_connection = rate
        if not per_connection:
            while True:
                sock.sendall(blob)
        # Paced: by now int(elapsed * rate) frames should have gone out; send what is due (at most one pass
        # of the frames at a time), then nap. A client that cannot keep up back-pressures sendall, the
        # due count runs ahead, and the row shows it as frames/s below the offered rate.
        count, index, sent = len(parts), 0, 0
        t0 = time.perf_counter()
        while True:
            due = min(int((time.perf_counter() - t0) * per_connection) - sent, count)
            if due > 0:
                end = index + due
                sock.sendall(b"".join(parts[index:end] if end <= count else parts[index:] + parts[:end - count]))
                index, sent = end % count, sent + due
            time.sleep(0.0005)
    except (OSError, ConnectionError, StopIteration, ValueError):
        pass
    finally:
        sock.close()


def _drain_client(sock: socket.socket) -> None:
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def firehose_main(port_pipe, frames: list[str], go, rate: float) -> None:
    """The source process: accept connections and stream to each until it goes away (flat out, or at
    `rate` frames/s per connection)."""
    server = socket.create_server(("127.0.0.1", 0), backlog=256)
    port_pipe.send(server.getsockname()[1])
    while True:
        sock, _ = server.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_serve_connection, args=(sock, frames, go, rate), daemon=True).start()


def start_firehose(frames: list[str], rate: float | None = None, connections: int = 1) -> tuple[multiprocessing.Process, int, object]:
    """(process, port, go): connections get nothing until `go.set()`; flat out, or `rate` frames/s in all."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    go = context.Event()
    pace = (rate or 0.0) / max(1, connections)  # frames/s per connection; 0: flat out
    process = context.Process(target=firehose_main, args=(child, frames, go, pace), daemon=True, name="ingest-bench-firehose")
    process.start()
    if PINNED_CPU is not None:  # the pipeline has its CPU to itself; the source runs on the others
        others = set(range(os.cpu_count() or 1)) - {PINNED_CPU}
        if others:
            os.sched_setaffinity(process.pid, others)
    if not parent.poll(20):
        raise RuntimeError("the firehose did not start")
    return process, parent.recv(), go


# ------------------------------------------------------------------------------------------- baseline


def run_baseline(url: str, symbols: list[str], seconds: float, warmup_frames: int) -> dict:
    """websocket-client recv (UTF-8 validation skipped) + json.loads on this thread."""
    import websocket

    ws = websocket.WebSocket(skip_utf8_validation=True)
    ws.connect(url, timeout=10)
    ws.send(json.dumps({"method": "subscribe", "params": {"channel": "book", "symbol": symbols, "depth": 10, "snapshot": True}}))
    recv, loads = ws.recv, json.loads
    for _ in range(warmup_frames):
        loads(recv())
    frames = 0
    t0, c0 = time.perf_counter(), time.thread_time()
    end = t0 + seconds
    while True:
        for _ in range(1000):
            loads(recv())
        frames += 1000
        if time.perf_counter() >= end:
            break
    t1, c1 = time.perf_counter(), time.thread_time()
    ws.close()
    return {"fps": frames / (t1 - t0), "cpu_us": (c1 - c0) / frames * 1e6}


# ------------------------------------------------------------------------------------------- pipeline


class LatencyRecorder:
    """Keeps every latency the state holders report (for p50/p99), beside the real krt_ingest_latency_seconds
    writers (so their cost stays in the measurement)."""

    def __init__(self, histogram) -> None:
        self.values: list[float] = []
        self._histogram = histogram
        self._writer_for = histogram.writer

    def writer(self, key: str):
        real = self._writer_for(key)
        values = self.values

        class Recording:
            def observe_many_ns(self, values_ns):
                real.observe_many_ns(values_ns)
                values.extend(v / 1e9 for v in values_ns)

        return Recording()


def run_pipeline(frames: list[str], symbols: list[str], layout: str, seconds: float, warmup_s: float, workdir: Path,
                 rate: float | None = None) -> dict:
    """One row: a fresh source (flat out, or `rate` frames/s in all), the pipeline, measure, then stop the
    source before the actors (so they drain what they hold and stop promptly)."""
    import pykka

    from kraken_runtime.actors.ingest import MarketSource, ingest_child_specs
    from kraken_runtime.actors.ingest_metrics import IngestMetrics
    from kraken_runtime.actors.metrics import RuntimeMetrics
    from kraken_runtime.actors.supervisor import DatabaseStore, Directory, SupervisorActor
    from kraken_runtime.core.config import load_settings
    from kraken_runtime.core.messages import StartChildren
    from kraken_runtime.core.supervision import Backoff, RestartBudget
    from kraken_runtime.storage import repo
    from kraken_runtime.storage.db import open_database

    db_path = workdir / f"ingest-{len(symbols)}-{layout}-{int(rate or 0)}.db"  # a fresh database per row
    settings = load_settings(env={
        "KRT_RUNTIME__SYMBOLS": ",".join(symbols), "KRT_FEED__CONNECTION": layout, "KRT_FEED__LEVEL3": "false",
        "KRT_STORAGE__DB_URL": f"sqlite:///{db_path}", **{k: v for k, v in os.environ.items() if k.startswith("KRT_STATE__")},
    })
    open_database(settings.storage.db_url)
    run_id = repo.start_run(mode="paper", market="sim", shard="bench", config_hash=settings.config_hash(), version="bench",
                            hostname="bench", pid=os.getpid(), now_ns=time.time_ns())
    process, port, go = start_firehose(frames, rate, connections=len(symbols) if layout == "per_symbol" else 1)
    url = f"ws://127.0.0.1:{port}/v2"
    source = MarketSource(ws_public_url=url, ws_l3_url=None, rest_url="http://127.0.0.1:9", reference_url=None,
                          api_key=None, api_secret=None, precisions={s: PRECISION for s in symbols})
    runtime_metrics = RuntimeMetrics()
    metrics = IngestMetrics(runtime_metrics.registry)
    latencies = LatencyRecorder(metrics.ingest_latency)
    metrics.ingest_latency.writer = latencies.writer  # type: ignore[method-assign]
    directory = Directory(runtime_metrics)
    specs = ingest_child_specs(settings, run_id=run_id, source=source, send=directory.send, send_latest=directory.send_latest,
                               metrics=metrics, budget=RestartBudget(max_restarts=3, period_s=60), backoff=Backoff(),
                               version="bench")
    supervisor = SupervisorActor.start(specs=specs, directory=directory, metrics=runtime_metrics,
                                       store=DatabaseStore(run_id=run_id, shard="bench"))
    try:
        supervisor.ask(StartChildren(), timeout=60)
        connected = metrics.feed_connected
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(connected.labels(symbol=s)._value.get() == 1 for s in symbols):
            time.sleep(0.05)
        go.set()
        values = latencies.values
        deadline = time.monotonic() + 30
        while len(values) < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        if len(values) < 1000:
            raise RuntimeError(f"{len(symbols)} symbols {layout}: no frames applied within 30 s")
        time.sleep(warmup_s)
        n0, t0, c0 = len(values), time.perf_counter(), time.process_time()
        time.sleep(seconds)
        n1, t1, c1 = len(values), time.perf_counter(), time.process_time()
        window = sorted(values[n0:n1])
        failures = sum(metrics.checksum_failures.labels(symbol=s, book="l2")._value.get() for s in symbols)
        received = sum(metrics.feed_messages.labels(symbol=s, channel="book")._value.get() for s in symbols)
        ready = sum(1 for row in repo.symbol_states(run_id) if row["status"] == "ready")
        storage_errors = sum(metrics.storage_errors.labels(writer=w)._value.get() for w in ("state", "market"))
        reconnects = sum(metrics.feed_reconnects.labels(symbol=s)._value.get() for s in symbols)
    finally:
        process.terminate()
        process.join(5)
        try:
            supervisor.stop(timeout=60)
        except pykka.Timeout:
            pass
        pykka.ActorRegistry.stop_all(block=False)
    frames = n1 - n0
    return {
        "fps": frames / (t1 - t0),
        "cpu_us": (c1 - c0) / max(frames, 1) * 1e6,
        "p50_ms": _quantile(window, 0.50) * 1e3,
        "p99_ms": _quantile(window, 0.99) * 1e3,
        "checksum_failures": int(failures),
        "decoded_not_applied": int(received) - len(values),
        "ready": ready,
        "storage_errors": int(storage_errors),
        "reconnects": int(reconnects),
        "offered": rate,
    }


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# ------------------------------------------------------------------------------------------- profile


def profile_apply(frames: list[str], passes: int) -> str:
    """cProfile of one thread doing the feed's decode + route and the state's apply_batch, without pykka."""
    import cProfile
    import io
    import pstats

    from kraken_runtime.core.config import StateSettings
    from kraken_runtime.core.kraken.book import decode_book_frame
    from kraken_runtime.core.marketdata import MarketBatch
    from kraken_runtime.core.symbol_state import SymbolState

    state = SymbolState(SOURCE_SYMBOL, settings=StateSettings(), book_depth=10, ref_max_age_ms=5000,
                        price_precision=PRECISION[0], qty_precision=PRECISION[1])
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(passes):
        for start in range(0, len(frames), 32):
            now = time.time_ns()
            items = tuple((now, decode_book_frame(f, *PRECISION)) for f in frames[start:start + 32])
            state.apply_batch(MarketBatch(symbol=SOURCE_SYMBOL, items=items), now)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    return out.getvalue()


# ------------------------------------------------------------------------------------------- main


def _table(rows: list[dict], markdown: bool) -> str:
    header = ("symbols", "layout", "offered", "frames/s", "CPU us/frame", "p50 ms", "p99 ms", "baseline frames/s",
              "baseline us/frame", "CPU ratio", "ready", "checksum fails")
    lines = [header]
    for row in rows:
        lines.append((str(row["symbols"]), row["layout"], f"{row['offered']:,.0f}" if row["offered"] else "flood",
                      f"{row['fps']:,.0f}", f"{row['cpu_us']:.1f}", f"{row['p50_ms']:.2f}",
                      f"{row['p99_ms']:.2f}", f"{row['base_fps']:,.0f}", f"{row['base_cpu_us']:.1f}",
                      f"{row['cpu_us'] / row['base_cpu_us']:.2f}", f"{row['ready']}/{row['symbols']}", str(row["checksum_failures"])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    if markdown:
        out = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(lines[0], widths)) + " |",
               "|" + "|".join("-" * (w + 2) if i < 2 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"]
        out += ["| " + " | ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))) + " |"
                for line in lines[1:]]
        return "\n".join(out)
    return "\n".join("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
                     for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short windows, 1 and 10 symbols, shared (< 30 s)")
    parser.add_argument("--seconds", type=float, default=None, help="measurement window per row (default 5; quick 0.5)")
    parser.add_argument("--symbols", default=None, help="symbol counts (default 1,10,50; quick 1,10)")
    parser.add_argument("--layouts", default=None, help="per_symbol,shared (default both; quick shared)")
    parser.add_argument("--rates", default=None,
                        help=f"offered rates in frames/s, besides the flood row (default {TARGET_FPS}; 0 or '' for none)")
    parser.add_argument("--cpu", type=int, default=None,
                        help="pin this process to one CPU, as runtime.cpu_affinity does (the source runs on the others)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of decode + apply on one thread")
    args = parser.parse_args(argv)
    seconds = args.seconds or (0.5 if args.quick else 5.0)
    warmup_s = 0.25 if args.quick else 1.0
    counts = [int(x) for x in (args.symbols or ("1,10" if args.quick else "1,10,50")).split(",")]
    layouts = (args.layouts or ("shared" if args.quick else "per_symbol,shared")).split(",")
    rates = [float(x) for x in (str(TARGET_FPS) if args.rates is None else args.rates).split(",") if x.strip() and float(x) > 0]
    logging.basicConfig(level=logging.CRITICAL)  # reconnect warnings when each row's source stops
    if args.cpu is not None:
        from kraken_runtime.commands.run import pin_process

        global PINNED_CPU
        problem = pin_process((args.cpu,))
        if problem:
            print(problem, file=sys.stderr)
            return 2
        PINNED_CPU = args.cpu

    frames = book_frames()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        for count in counts:
            symbols = synthetic_symbols(count)
            process, port, go = start_firehose(frames)
            go.set()
            try:
                baseline = run_baseline(f"ws://127.0.0.1:{port}/v2", symbols, seconds, warmup_frames=500 if args.quick else 2000)
            finally:
                process.terminate()
                process.join(5)
            for layout in layouts:
                if count == 1 and layout == "shared" and "per_symbol" in layouts:
                    continue  # the same single connection
                for rate in [None, *rates]:
                    result = run_pipeline(frames, symbols, layout, seconds, warmup_s, Path(tmp), rate=rate)
                    rows.append({"symbols": count, "layout": layout, **result,
                                 "base_fps": baseline["fps"], "base_cpu_us": baseline["cpu_us"]})
                    print(f"  measured {count} symbols, {layout}, {f'{rate:,.0f}/s' if rate else 'flood'}: "
                          f"{result['fps']:,.0f} frames/s", file=sys.stderr, flush=True)
    print(f"ingest: book frames through feed -> state (checksums on), {seconds:g} s windows; "
          f"source: firehose process, {len(frames)} frames of {CAPTURE.name} relabelled per symbol; "
          + (f"this process pinned to CPU {PINNED_CPU} (runtime.cpu_affinity)" if PINNED_CPU is not None else "not pinned"))
    print(_table(rows, args.markdown))
    print("offered: flood = as fast as the pipeline reads (TCP back-pressure: its capacity, latency = its queue); "
          "a rate = paced source, sustained when frames/s matches it (latency then is the pipeline's own)")
    print("CPU ratio = pipeline CPU us/frame / baseline (websocket-client recv, UTF-8 check skipped, + json.loads) "
          "CPU us/frame, same stream, same run")
    if args.profile:
        print(profile_apply(frames, passes=50))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
