"""`kraken-runtime record`: capture raw public WS v2 frames with their receive times.

    kraken-runtime record --out FILE.jsonl [--symbols A,B] [--duration S] [--depth N]
                          [--market sim|kraken] [--config PATH] [--env-file PATH]

Connects to the public endpoint (market `kraken`: `kraken.ws_public_url`; market `sim`, the default: a
local exchange started in this process), subscribes instrument, ticker, trade and book at the depth, and
writes every frame received as one line of core/recording.py's format:

    {"recv_ns":<receive time, ns since the epoch>,"frame":<the frame exactly as received>}

`kraken-runtime verify-capture FILE` checks its checksums and `kraken-runtime sim --replay FILE` serves it
again byte for byte, paced by the receive times. Stops after --duration, or on SIGINT/SIGTERM, with the
file flushed. Exit 0 ok; 1 connection or write failure; 2 bad arguments; 78 bad configuration.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

import orjson

from kraken_runtime.core.config import ConfigError
from kraken_runtime.core.kraken.ws import WsClosed, WsTimeout, connect
from kraken_runtime.core.recording import encode_line
from kraken_runtime import exitcodes
from kraken_runtime.commands._common import add_config_arguments, fail_config, load_from_args, seconds_argument

NAME = "record"
DEPTHS = (10, 25, 100, 500, 1000)
RECV_TIMEOUT_S = 0.2


def _depth(text: str) -> int:
    if not text.isdigit() or int(text) not in DEPTHS:
        raise argparse.ArgumentTypeError(f"depth must be one of {', '.join(map(str, DEPTHS))}, got {text!r}")
    return int(text)


def _symbols(text: str) -> str:
    symbols = [s.strip() for s in text.split(",") if s.strip()]
    if not symbols:
        raise argparse.ArgumentTypeError("--symbols is empty")
    return ",".join(symbols)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME, help="record raw public WS v2 frames with receive timestamps (replayable, verifiable)",
        description="Record every public WS v2 frame (instrument, ticker, trade, book) with its receive time. "
                    "Each line is {\"recv_ns\":N,\"frame\":<frame exactly as received>} (a frame that is not "
                    "JSON or holds a line break is stored as {\"recv_ns\":N,\"text\":\"<JSON string>\"}); "
                    "verify-capture and sim --replay read the file.")
    add_config_arguments(parser, db=False)
    parser.add_argument("--out", metavar="FILE", required=True, help="where to write the recording (JSON lines)")
    parser.add_argument("--symbols", metavar="LIST", type=_symbols,
                        help="comma-separated symbols (default: runtime.symbols), e.g. BTC/USD,ETH/USD")
    parser.add_argument("--duration", metavar="S", type=seconds_argument(), help="stop after S seconds (default: until SIGINT/SIGTERM)")
    parser.add_argument("--market", choices=("sim", "kraken"), help="runtime.market (default from config: sim)")
    parser.add_argument("--depth", metavar="N", type=_depth, help="book depth (default: feed.book_depth)")
    parser.set_defaults(func=run)


def subscriptions(symbols: list[str], depth: int) -> list[str]:
    def frame(params: dict) -> str:
        return orjson.dumps({"method": "subscribe", "params": params}).decode()

    return [
        frame({"channel": "instrument", "snapshot": True}),
        frame({"channel": "ticker", "symbol": symbols}),
        frame({"channel": "trade", "symbol": symbols, "snapshot": False}),
        frame({"channel": "book", "symbol": symbols, "depth": depth, "snapshot": True}),
    ]


def _fail(message: str, code: int) -> int:
    print(f"kraken-runtime record: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: opening a market can start the local exchange, whose servers pull in
    # the sim and asyncio stacks (measured: 0.66 s on top of the 0.55 s a `config check` takes), which every
    # other command would otherwise pay just to build the parser.
    from kraken_runtime.market import open_market

    overrides: dict[str, dict[str, object]] = {}
    if args.symbols:
        overrides.setdefault("runtime", {})["symbols"] = args.symbols
    if args.market:
        overrides.setdefault("runtime", {})["market"] = args.market
    try:
        settings, secrets = load_from_args(args, overrides)
    except ConfigError as error:
        return fail_config(error)
    symbols = list(settings.runtime.symbols)
    depth = args.depth or settings.feed.book_depth
    out = Path(args.out)
    try:
        handle = out.open("w", encoding="utf-8", newline="\n", buffering=1 << 16)
    except OSError as exc:
        return _fail(f"cannot write --out {out}: {exc.strerror or exc}", exitcodes.FAILED)

    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum, frame) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    source = None
    ws = None
    frames = written = 0
    code = exitcodes.OK
    started = time.monotonic()
    try:
        try:
            source = open_market(settings, secrets)
        except ValueError as exc:  # e.g. a symbol the local exchange does not list
            return _fail(str(exc), exitcodes.USAGE)
        url = source.ws_public_url
        try:
            ws = connect(url, timeout_s=settings.feed.connect_timeout_s, recv_timeout_s=RECV_TIMEOUT_S)
            for text in subscriptions(symbols, depth):
                ws.send(text)
        except WsClosed as exc:
            return _fail(f"cannot subscribe at {url}: {exc}", exitcodes.FAILED)
        deadline = None if args.duration is None else started + args.duration
        clock_ns = time.time_ns
        write = handle.write
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                payload = ws.recv()
            except WsTimeout:
                continue
            except WsClosed as exc:
                code = _fail(f"connection lost after {frames} frames: {exc}", exitcodes.FAILED)
                break
            recv_ns = clock_ns()
            line = encode_line(recv_ns, payload)
            write(line)
            frames += 1
            written += len(line)
        handle.flush()
    except OSError as exc:
        code = _fail(f"writing {out} failed after {frames} frames: {exc.strerror or exc}", exitcodes.FAILED)
    finally:
        if ws is not None:
            ws.close()
        try:
            handle.close()
        except OSError as exc:
            if code == exitcodes.OK:
                code = _fail(f"writing {out} failed: {exc.strerror or exc}", exitcodes.FAILED)
        if source is not None:
            source.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code == exitcodes.OK:
        print(f"recorded {frames} frames ({written} bytes) of {','.join(symbols)} in {time.monotonic() - started:.1f} s "
              f"to {out}")
    return code
