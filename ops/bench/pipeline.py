"""Pipeline benchmark: tick-to-decision latency through feed -> state -> scanner -> strategy -> risk -> executor,
the actors wired as the daemon wires them, at a paced book-frame rate, beside a same-run baseline of plain
threads + queues with the same six stages doing no work.

    python ops/bench/pipeline.py [--quick] [--rates 1000,5000,20000] [--seconds S] [--configs defaults,eager]
                                 [--switch-interval-ms MS]

Where the time goes, per thread (docs/PERFORMANCE.md): `py-spy record --threads --format raw -o out.txt --
python ops/bench/pipeline.py --rates 5000 --configs eager` (pyinstrument samples only the thread that starts it).

Source: ingest.py's firehose (a separate process, so it does not share this process's GIL), paced at R frames/s
over one WebSocket connection: Kraken's status frame (venue online), then a synthetic BTC/USD depth-10 book
stream (ops/bench/synthetic.py: one snapshot, 100,000 updates, 20,000 with --quick; checksums valid), repeated.

Pipeline: `daemon.build_child_specs` (run lease, ingest with the shared connection, the route engine: every
enabled strategy and the scanner) + `execution.execution_specs_for` (risk envelope, executor, paper venue)
under one SupervisorActor with one Directory, a fresh SQLite database: the daemon's composition, minus its
HTTP listener and observer. The directory's `send` / `send_latest` are wrapped (the only change): each
message crossing a stage boundary is stamped with `time.time_ns()` on the sender's thread and compared with
the receipt time of the frame behind it (the reader's stamp, the same clock):

- `applied`: frame received -> applied by the state holder (krt_ingest_latency_seconds' values);
- `to_scanner`: receipt of the newest frame in a StateSnapshot -> the state holder hands it to the scanner;
- `signal`: a strategy's Signal on that snapshot, made on the scanner's thread -> taken by the route engine
  (the strategies run on the scanner's thread, actors/strategy.py; `ScannerActor._take_signal` is wrapped to
  stamp it, the bench's only other change);
- `decided`: an Intent's own creation time (the scanner's clock when it began scoring the symbol, after the
  strategies);
- `intent`: an Intent -> sent to the risk envelope (what krt_tick_to_intent_seconds observes). Sent unstored:
  the risk envelope stores it with its decision in one transaction (docs/ARCHITECTURE.md "Route engine");
  before that change the scanner committed it first, and `intent` - `decided` was mostly that commit;
- `order`: the risk envelope's OrderRequest for that intent (after the intent and decision are committed) ->
  sent to the executor;
- `order_ack`: the executor's first OrderUpdate for it -> sent back to the risk envelope.

The product throttles decisions by design: the state holder publishes a snapshot at most every
state.snapshot_interval_ms (100), the scanner scores every scanner.scan_interval_ms (200), an intent per
symbol at most every scanner.min_intent_interval_ms (5000); scanner.decide_on_snapshot (on by default) scores
a symbol as soon as its snapshot arrives, so tick-to-intent waits for the state holder's snapshot interval, not
for the scan timer. The bench runs two configurations: `defaults` (as shipped), and `eager` (snapshot every
1 ms, scan every 10 ms, an intent per symbol per 50 ms at most, regimes sampled every 10 ms from 3 samples, no
cool-down after a losing fill and no scorecard pause: the paper fills on a synthetic market lose; the risk
envelope's IntentDecided kept from the scanner, see NO_REJECT_FEEDBACK), whose latencies show the cost of the
stages themselves. Each row also reports every thread's share of a CPU
over the window (/proc/self/task), and the route engine's counters (signals, intents, rejections, decisions).

Baseline: a paced source thread (the same due-count pacing as the firehose) -> six threads chained by
queue.SimpleQueue, each passing the item on untouched; latency = the source's stamp -> the sixth stage's
receipt. Same process, same run, same rate, measured right before each row.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
BENCH_DIR = str(Path(__file__).resolve().parent)
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)

import ingest  # noqa: E402 - the firehose and the quantile helper

SYMBOL = "BTC/USD"
STAGES = ("applied", "to_scanner", "signal", "decided", "intent", "order", "order_ack")
EAGER = {"KRT_STATE__SNAPSHOT_INTERVAL_MS": "1", "KRT_SCANNER__SCAN_INTERVAL_MS": "10",
         "KRT_SCANNER__MIN_INTENT_INTERVAL_MS": "50", "KRT_SCANNER__REGIME_SAMPLE_MS": "10",
         "KRT_SCANNER__REGIME_MIN_SAMPLES": "3", "KRT_SCANNER__EPOCH_SETTLE_MS": "0",
         # the paper fills on a synthetic market lose money: no cool-down after a loss, no scorecard pause
         "KRT_SCANNER__LOSS_COOLDOWN_S": "0", "KRT_SCANNER__SCORECARD_TRADES": "100000"}
CONFIGS: dict[str, dict[str, str]] = {"defaults": {}, "eager": EAGER}
# The paper account starts with no base currency, so the risk envelope rejects every sell; on the synthetic
# stream most intents are sells, and the scanner's reject-rate throttle would then silence the symbol for good
# after the first rejection. In the eager configuration the bench keeps the risk envelope's IntentDecided from
# the scanner (the bench's one change to the flow), so intents keep coming, one per symbol per 50 ms at most.
NO_REJECT_FEEDBACK = {"eager"}
# The firehose repeats its frames: each pass starts with a snapshot (a new book epoch). The stream is long
# enough that a row sees about one pass, but a row longer than that must not be read as a resync storm.
SOURCE_ARTEFACT = {"KRT_SCANNER__RESYNC_STORM_COUNT": "1000"}


_FRAMES: dict[int, list[str]] = {}


def source_frames(updates: int) -> list[str]:
    """A synthetic BTC/USD depth-10 stream (ops/bench/synthetic.py, checksums valid): one snapshot, then
    `updates` updates; made once per process (~110 us an update). The firehose repeats it, so a row starts a
    new book epoch every `updates` frames; intents decided on the old epoch just before are rightly refused by
    the risk envelope's state guard (counted in route_counts)."""
    import synthetic

    if updates not in _FRAMES:
        _FRAMES[updates] = [line for line in synthetic.book_capture(updates, 10) if line.startswith('{"channel":"book"')]
    return _FRAMES[updates]


# Kraken's first frame on a connection; the scanner trades only while the venue says online. The firehose
# repeats its frames, so it comes once per pass.
STATUS_FRAME = ('{"channel":"status","type":"update","data":[{"version":"2.0.10","system":"online","api_version":"v2",'
                '"connection_id":7204881492680171915}]}')
ROUTE_COUNTERS = ("krt_signals", "krt_intents", "krt_filter_rejections", "krt_risk_decisions", "krt_scans",
                  "krt_messages_dropped")


def _percentiles(values_ns: list[int]) -> dict[str, Any]:
    ordered = sorted(values_ns)
    if not ordered:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "p999_ms": None}
    return {"n": len(ordered), "p50_ms": round(ingest._quantile(ordered, 0.50) / 1e6, 3),
            "p99_ms": round(ingest._quantile(ordered, 0.99) / 1e6, 3),
            "p999_ms": round(ingest._quantile(ordered, 0.999) / 1e6, 3)}


class Tap:
    """Stamps each message crossing a stage boundary (on the sender's thread) against the receipt time of
    the frame behind it. Recording is on while `on` is set (the measurement window)."""

    def __init__(self, *, reject_feedback: bool = True) -> None:
        self.on = False
        self.reject_feedback = reject_feedback
        self.values: dict[str, list[int]] = {stage: [] for stage in STAGES}
        # (symbol, expires_at_ns) -> recv_ts_ns: intents are sent unstored (id 0); the OrderRequest carries both
        self.intent_recv: dict[tuple[str, int], int] = {}
        self.order_recv: dict[str, int] = {}  # client_order_id -> recv_ts_ns
        self.acked: set[str] = set()

    def wrap(self, send: Callable[[str, Any], bool], send_latest: Callable[[str, Any, Any], bool]
             ) -> tuple[Callable[[str, Any], bool], Callable[[str, Any, Any], bool]]:
        from kraken_runtime.core.marketdata import StateSnapshot
        from kraken_runtime.core.messages import Intent, IntentDecided, OrderRequest, OrderUpdate

        values, clock = self.values, time.time_ns

        def tapped_send(name: str, message: Any) -> bool:
            now = clock()
            if not self.reject_feedback and isinstance(message, IntentDecided):
                return True
            if self.on:
                if isinstance(message, Intent):
                    values["decided"].append(message.created_at_ns - message.recv_ts_ns)
                    values["intent"].append(now - message.recv_ts_ns)
                    self.intent_recv[(message.symbol, message.expires_at_ns)] = message.recv_ts_ns
                elif isinstance(message, OrderRequest):
                    recv = self.intent_recv.get((message.symbol, message.expires_at_ns))
                    if recv is not None:
                        values["order"].append(now - recv)
                        self.order_recv[message.client_order_id] = recv
                elif isinstance(message, OrderUpdate) and message.client_order_id not in self.acked:
                    recv = self.order_recv.get(message.client_order_id)
                    if recv is not None:
                        self.acked.add(message.client_order_id)
                        values["order_ack"].append(now - recv)
            return send(name, message)

        def tapped_latest(name: str, key: Any, message: Any) -> bool:
            if self.on and isinstance(message, StateSnapshot) and name == "scanner":
                values["to_scanner"].append(clock() - message.state_ts_ns)
            return send_latest(name, key, message)

        return tapped_send, tapped_latest

    def signal(self, signal: Any) -> None:
        if self.on:
            self.values["signal"].append(time.time_ns() - signal.state_ts_ns)


def _thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each live thread of this process, by thread name (/proc/self/task)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in os.listdir("/proc/self/task"):
        try:
            fields = Path(f"/proc/self/task/{task}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(task), f"native-{task}")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def _thread_share(before: dict[str, float], after: dict[str, float], wall_s: float) -> dict[str, float]:
    """Share of one CPU each thread used over the window, busiest first (threads under 1% left out)."""
    share = {name: (after[name] - before.get(name, 0.0)) / wall_s for name in after}
    return {name: round(value, 3) for name, value in sorted(share.items(), key=lambda kv: -kv[1]) if value >= 0.01}


def run_pipeline(rate: float, seconds: float, warmup_s: float, workdir: Path, config: str,
                 updates: int = 100_000) -> dict[str, Any]:
    import pykka

    from kraken_runtime.actors.execution import SAFETY_LISTENERS, execution_specs_for
    from kraken_runtime.actors.ingest import MarketSource
    from kraken_runtime.actors.ingest_metrics import IngestMetrics
    from kraken_runtime.actors.metrics import RuntimeMetrics
    from kraken_runtime.actors.route_metrics import RouteMetrics
    from kraken_runtime.actors.scanner import ScannerActor
    from kraken_runtime.actors.supervisor import DatabaseStore, Directory, SupervisorActor
    from kraken_runtime.core.config import load_settings
    from kraken_runtime.core.messages import StartChildren
    from kraken_runtime.core.supervision import Backoff, RestartBudget
    from kraken_runtime.daemon import build_child_specs
    from kraken_runtime.storage import repo
    from kraken_runtime.storage.db import open_database

    db_path = workdir / f"pipeline-{config}-{int(rate)}.db"
    settings = load_settings(env={
        "KRT_RUNTIME__SYMBOLS": SYMBOL, "KRT_RUNTIME__MODE": "paper", "KRT_RUNTIME__MARKET": "sim",
        "KRT_FEED__CONNECTION": "shared", "KRT_FEED__LEVEL3": "false", "KRT_STORAGE__DB_URL": f"sqlite:///{db_path}",
        **SOURCE_ARTEFACT, **CONFIGS[config]})
    open_database(settings.storage.db_url)
    run_id = repo.start_run(mode="paper", market="sim", shard="bench", config_hash=settings.config_hash(), version="bench",
                            hostname="bench", pid=os.getpid(), now_ns=time.time_ns())
    process, port, go = ingest.start_firehose([STATUS_FRAME, *source_frames(updates)], rate, connections=1)
    source = MarketSource(ws_public_url=f"ws://127.0.0.1:{port}/v2", ws_l3_url=None, rest_url="http://127.0.0.1:9",
                          reference_url=None, api_key=None, api_secret=None, precisions={SYMBOL: ingest.PRECISION})
    runtime_metrics = RuntimeMetrics()
    metrics = IngestMetrics(runtime_metrics.registry)
    applied = ingest.LatencyRecorder(metrics.ingest_latency)
    metrics.ingest_latency.writer = applied.writer  # type: ignore[method-assign]
    directory = Directory(runtime_metrics)
    tap = Tap(reject_feedback=config not in NO_REJECT_FEEDBACK)
    directory.send, directory.send_latest = tap.wrap(directory.send, directory.send_latest)  # type: ignore[method-assign]
    take_signal = ScannerActor._take_signal

    def stamped_signal(scanner: Any, signal: Any) -> None:
        tap.signal(signal)
        take_signal(scanner, signal)

    ScannerActor._take_signal = stamped_signal  # type: ignore[method-assign]
    budget, backoff = RestartBudget(max_restarts=3, period_s=60), Backoff()
    specs = build_child_specs(settings, run_id=run_id, directory=directory, market=source, ingest_metrics=metrics,
                              version="bench", route_metrics=RouteMetrics(runtime_metrics.registry),
                              snapshot_listeners=SAFETY_LISTENERS)
    specs = (*specs, *execution_specs_for(settings, run_id=run_id, send=directory.send, market=source,
                                          registry=runtime_metrics.registry, safety_mode="normal", budget=budget,
                                          backoff=backoff, peer_state=directory.state, version="bench"))
    supervisor = SupervisorActor.start(specs=specs, directory=directory, metrics=runtime_metrics,
                                       store=DatabaseStore(run_id=run_id, shard="bench"))
    try:
        supervisor.ask(StartChildren(), timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and metrics.feed_connected.labels(symbol=SYMBOL)._value.get() != 1:
            time.sleep(0.05)
        go.set()
        deadline = time.monotonic() + 30
        while len(applied.values) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        if len(applied.values) < 100:
            raise RuntimeError(f"pipeline at {rate:g}/s: no frames applied within 30 s")
        time.sleep(warmup_s)
        n0 = len(applied.values)
        tap.on = True
        t0, c0, threads0 = time.perf_counter(), time.process_time(), _thread_cpu()
        time.sleep(seconds)
        tap.on = False
        n1, t1, c1, threads1 = len(applied.values), time.perf_counter(), time.process_time(), _thread_cpu()
        failures = metrics.checksum_failures.labels(symbol=SYMBOL, book="l2")._value.get()
        dropped = directory.dropped()
        route_counts = {f"{s.name}{{{','.join(f'{k}={v}' for k, v in s.labels.items())}}}": s.value
                        for m in runtime_metrics.registry.collect() if m.name in ROUTE_COUNTERS
                        for s in m.samples if s.name.endswith("_total") and s.value}
    finally:
        process.terminate()
        process.join(5)
        try:
            supervisor.stop(timeout=60)
        except pykka.Timeout:
            pass
        pykka.ActorRegistry.stop_all(block=False)
        ScannerActor._take_signal = take_signal  # type: ignore[method-assign]
    frames = n1 - n0
    figures: dict[str, Any] = {"offered": rate, "frames_per_s": round(frames / (t1 - t0)),
                               "cpu_us_per_frame": round((c1 - c0) / max(frames, 1) * 1e6, 1),
                               "checksum_failures": int(failures), "messages_dropped": int(dropped),
                               "route_counts": route_counts, "thread_cpu_share": _thread_share(threads0, threads1, t1 - t0)}
    figures["applied"] = _percentiles([int(v * 1e9) for v in applied.values[n0:n1]])
    for stage in STAGES[1:]:
        figures[stage] = _percentiles(tap.values[stage])
    return figures


def run_baseline(rate: float, seconds: float, warmup_s: float, stages: int = 6) -> dict[str, Any]:
    """A paced source thread -> `stages` threads chained by SimpleQueues doing no work; stamp -> last stage."""
    queues: list[queue.SimpleQueue[int | None]] = [queue.SimpleQueue() for _ in range(stages)]
    latencies: list[int] = []
    recording = threading.Event()
    clock = time.time_ns

    def stage(inbox: queue.SimpleQueue[int | None], outbox: queue.SimpleQueue[int | None] | None) -> None:
        get = inbox.get
        while True:
            item = get()
            if item is None:
                if outbox is not None:
                    outbox.put(None)
                return
            if outbox is not None:
                outbox.put(item)
            elif recording.is_set():
                latencies.append(clock() - item)

    threads = [threading.Thread(target=stage, args=(queues[i], queues[i + 1] if i + 1 < stages else None), daemon=True)
               for i in range(stages)]
    for thread in threads:
        thread.start()
    put, sent = queues[0].put, 0
    t0 = time.perf_counter()
    end_warmup, end = t0 + warmup_s, t0 + warmup_s + seconds
    while True:  # the firehose's pacing: send what is due, then nap 0.5 ms
        now = time.perf_counter()
        if now >= end:
            break
        if now >= end_warmup and not recording.is_set():
            recording.set()
        due = int((now - t0) * rate) - sent
        for _ in range(due):
            put(clock())
        sent += max(due, 0)
        time.sleep(0.0005)
    recording.clear()
    put(None)
    for thread in threads:
        thread.join(10)
    return {"offered": rate, "items": len(latencies), **_percentiles(latencies)}


def measure(rates: list[float], seconds: float, warmup_s: float, configs: list[str],
            updates: int = 100_000) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="krt-pipeline-bench-") as tmp:
        for rate in rates:
            for config in configs:
                # the baseline right before each row, so a row and its baseline meet the same load on a shared machine
                base = run_baseline(rate, seconds, warmup_s)
                print(f"pipeline: {config} at {rate:g}/s ...", file=sys.stderr, flush=True)
                row = run_pipeline(rate, seconds, warmup_s, Path(tmp), config, updates=updates)
                rows.append({"rate": rate, "config": config, "pipeline": row, "baseline": base})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rates", default="1000,5000,20000")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--configs", default="defaults,eager")
    parser.add_argument("--switch-interval-ms", type=float, default=None,
                        help="sys.setswitchinterval for this process (Python's default: 5 ms), an experiment")
    args = parser.parse_args(argv)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    rows = measure([float(r) for r in args.rates.split(",")], seconds, 1.0 if args.quick else 3.0,
                   args.configs.split(","), 20_000 if args.quick else 100_000)
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
