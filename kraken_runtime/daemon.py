"""The daemon: database, runs row, metrics, HTTP listener, supervisor and its children, status line,
graceful shutdown.

Children so far: `run-lease` (keeps runs.heartbeat_at_ns fresh, so ctl and the fleet see this daemon
alive). Later issues add feeds, state holders, scanner, strategies, risk envelope, executor and the
observer to `build_child_specs`, in start order (data producers first, the executor last, so shutdown
stops placing orders before it stops watching the market).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import pykka

from kraken_runtime.actors.base import PeriodicTimer
from kraken_runtime.actors.http import HttpServer
from kraken_runtime.actors.ingest import MarketSource, ingest_child_specs
from kraken_runtime.market import open_market
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.actors.lease import LeaseTracker, RunLeaseActor
from kraken_runtime.actors.metrics import RuntimeMetrics
from kraken_runtime.fleet import live_shard_owner
from kraken_runtime.session import write_session_summary
from kraken_runtime.actors.execution import SAFETY_LISTENERS, ExecutionSetupError, execution_specs_for, fan_out_snapshots
from kraken_runtime.actors.route import route_child_specs
from kraken_runtime.actors.route_metrics import RouteMetrics
from kraken_runtime.actors.observer import ObserverMetrics, SnapshotBoard, observer_child_spec
from kraken_runtime.actors.directory import Directory
from kraken_runtime.actors.health import SupervisorHealth
from kraken_runtime.actors.supervisor import SupervisorActor, SupervisorConfig
from kraken_runtime.actors.supervisor_store import DatabaseStore
from kraken_runtime.core import control as ctl
from kraken_runtime.core.config import Secrets, Settings
from kraken_runtime.core.messages import GetStatus, StartChildren, StopChildren, SupervisorTick
from kraken_runtime.core.supervision import Backoff, ChildSpec, RestartBudget, RestartPolicy, RevivalPolicy, SafetyMode
from kraken_runtime.preflight import is_loopback
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import StorageError, close_database, open_database, redact_url, reset_thread_connection

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 0.05  # supervisor sweep period: bounds restart timing and control latency (poll: settings)
ASK_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonOptions:
    duration_s: float | None = None
    http_host: str | None = None
    http_port: int | None = None
    install_signal_handlers: bool = True
    status_out: Callable[[str], None] | None = None
    version: str = "unknown"  # recorded in the runs row (the entry point passes kraken_runtime.__version__)
    secrets: Secrets = Secrets()  # API credentials (level3 token; later the executor); never logged


def supervision_defaults(settings: Settings) -> tuple[RestartBudget, Backoff]:
    s = settings.supervisor
    return (
        RestartBudget(max_restarts=s.restart_max, period_s=s.restart_period_s),
        Backoff(initial_s=s.backoff_initial_ms / 1000, max_s=s.backoff_max_ms / 1000, jitter_ratio=s.backoff_jitter_ratio),
    )


def run_stale_after_s(settings: Settings) -> float:
    """How old a run's lease (runs.heartbeat_at_ns) may grow before the run is taken for dead and the
    commands it left `applying` are closed out as failed. The longest gap a live daemon's lease can show is a
    hung run-lease found after heartbeat_deadline_ms, replaced after at most the jittered maximum backoff,
    plus an interval or two to renew (10 + 12 + 2 s by default); twice that, and never under 30 s (48 s by
    default), so a slow database or a restarting lease is never mistaken for a dead daemon."""
    s = settings.supervisor
    gap_ms = s.heartbeat_deadline_ms + s.backoff_max_ms * (1 + s.backoff_jitter_ratio) + 2 * s.heartbeat_interval_ms
    return max(30.0, 2 * gap_ms / 1000)


def build_child_specs(settings: Settings, *, run_id: int, directory: Directory | None = None,
                      market: MarketSource | None = None, ingest_metrics: IngestMetrics | None = None,
                      version: str = "unknown", lease: LeaseTracker | None = None,
                      route_metrics: RouteMetrics | None = None,
                      snapshot_listeners: tuple[str, ...] = ()) -> tuple[ChildSpec, ...]:
    """Start order: the run lease, then ingest (state holders before their feeds), then the route engine
    (strategies, then the scanner)."""
    budget, backoff = supervision_defaults(settings)
    interval_s = settings.supervisor.heartbeat_interval_ms / 1000
    tracker = lease or LeaseTracker()
    ingest: tuple[ChildSpec, ...] = ()
    route: tuple[ChildSpec, ...] = ()
    if market is not None and directory is not None and ingest_metrics is not None:
        ingest = ingest_child_specs(settings, run_id=run_id, source=market, send=directory.send,
                                    send_latest=fan_out_snapshots(directory.send_latest, snapshot_listeners),
                                    metrics=ingest_metrics, budget=budget,
                                    backoff=backoff, version=version, scanner_name="scanner" if route_metrics else None,
                                    peer_state=directory.state)
        if route_metrics is not None:
            route = route_child_specs(settings, run_id=run_id, send=directory.send, send_latest=directory.send_latest,
                                      peer_state=directory.state, metrics=route_metrics, budget=budget, backoff=backoff)
    return (
        ChildSpec(
            name="run-lease",
            factory=lambda link: RunLeaseActor.start(link=link, run_id=run_id, interval_s=interval_s, tracker=tracker),
            policy=RestartPolicy.PERMANENT,
            budget=budget,
            backoff=backoff,
            shutdown_timeout_s=min(5.0, settings.runtime.shutdown_timeout_s),
            critical=False,
        ),
        *ingest,
        *route,
    )


def _print_status(line: str) -> None:
    print(line, flush=True)


class Daemon:
    """One daemon run. `run()` blocks until --duration passes, a signal arrives or a critical child is
    disabled with exit_on_critical_disable; returns the process exit status."""

    def __init__(self, settings: Settings, options: DaemonOptions = DaemonOptions()) -> None:
        self.settings = settings
        self.options = options
        self.stop_requested = threading.Event()
        self.fatal_reason: str | None = None
        self.http: HttpServer | None = None
        self.run_id: int | None = None
        self.supervisor: pykka.ActorRef | None = None
        self.metrics = RuntimeMetrics()
        self.market: MarketSource | None = None
        self.ingest_metrics: IngestMetrics | None = None
        self._last_frames: tuple[float, float] | None = None
        self.lease = LeaseTracker()

    def request_stop(self, why: str) -> None:
        if not self.stop_requested.is_set():
            log.info("daemon: stopping (%s)", why)
        self.stop_requested.set()

    def _fatal(self, reason: str) -> None:
        self.fatal_reason = reason
        self.request_stop(f"fatal: {reason}")

    def run(self) -> int:
        settings = self.settings
        sup = settings.supervisor
        stale_after_s = run_stale_after_s(settings)
        health = SupervisorHealth(max_sweep_age_s=max(2.0, 20 * SWEEP_INTERVAL_S, 3 * sup.control_poll_interval_ms / 1000),
                                  ready_min_symbols=settings.http.ready_min_symbols, lease_max_age_s=stale_after_s / 2)
        # The listener binds first: a port already taken fails here, before a run is recorded or a market started.
        host = self.options.http_host or settings.http.host
        port = settings.http.port if self.options.http_port is None else self.options.http_port
        try:
            self.http = HttpServer(host, port, registry=self.metrics.registry, health=health.healthy, ready=health.ready,
                                   max_connections=settings.http.max_connections,
                                   idle_timeout_s=settings.http.idle_timeout_ms / 1000)
        except OSError as exc:
            print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        try:
            db = open_database(settings.storage.db_url, busy_timeout_ms=settings.storage.sqlite_busy_timeout_ms)
        except StorageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            self.http.stop()
            return 1
        owner = live_shard_owner(settings.runtime.shard, stale_after_s=stale_after_s,
                                 renew_interval_s=sup.heartbeat_interval_ms / 1000)
        if owner is not None:  # fleet safety: one daemon per shard
            print(owner.line(settings.runtime.shard), file=sys.stderr)
            close_database(db)
            self.http.stop()
            return 1
        self._close_out_dead_runs(stale_after_s)
        self.run_id = run_id = repo.start_run(
            mode=settings.runtime.mode, market=settings.runtime.market, shard=settings.runtime.shard,
            config_hash=settings.config_hash(), version=self.options.version, hostname=socket.gethostname(),
            pid=os.getpid(), now_ns=time.time_ns(),
        )
        self.lease.start()  # the runs row was written with a fresh heartbeat
        store = DatabaseStore(run_id=run_id, shard=settings.runtime.shard,
                              command_max_age_s=settings.supervisor.control_command_max_age_s,
                              run_stale_after_s=stale_after_s)
        try:  # commands a dead run of this shard left `applying`: failed, outcome unknown, never re-applied
            store.close_out_orphaned_commands()
        except Exception as exc:  # noqa: BLE001 - the supervisor's polls try again
            log.error("daemon: cannot check for commands left applying by a dead run: %s", exc)
        mode_text, mode_reason = repo.current_safety_mode()
        safety_mode = SafetyMode(mode_text)
        strategies = repo.strategy_enabled_map()
        log.info("daemon: run %d started (mode %s, market %s, shard %s, database %s); safety mode %s%s; strategies off: %s",
                 run_id, settings.runtime.mode, settings.runtime.market, settings.runtime.shard,
                 redact_url(settings.storage.db_url), safety_mode.value, f" ({mode_reason})" if mode_reason else "",
                 ", ".join(sorted(n for n, on in strategies.items() if not on)) or "none")

        directory = Directory(self.metrics)
        try:
            self.market = open_market(settings, self.options.secrets)
        except ValueError as exc:  # e.g. a symbol the local exchange does not list
            print(f"config error: runtime.symbols: {exc}", file=sys.stderr)
            self._record_end(run_id, "stopped")
            close_database(db)
            self.http.stop()
            return 78
        except Exception as exc:  # noqa: BLE001 - port taken, startup timeout, or a bug: one line, run marked crashed
            log.debug("daemon: market source failed", exc_info=True)
            where = f" on {settings.sim.host}:{settings.sim.port}" if settings.runtime.market == "sim" else ""
            print(f"error: cannot open the {settings.runtime.market} market{where}: {type(exc).__name__}: {exc}", file=sys.stderr)
            self._record_end(run_id, "crashed")
            close_database(db)
            self.http.stop()
            return 1
        self.ingest_metrics = IngestMetrics(self.metrics.registry)
        specs = build_child_specs(settings, run_id=run_id, directory=directory, market=self.market,
                                  ingest_metrics=self.ingest_metrics, version=self.options.version, lease=self.lease,
                                  route_metrics=RouteMetrics(self.metrics.registry), snapshot_listeners=SAFETY_LISTENERS)
        self._watch_readiness(health)
        # The observer last: it only reads the database, so it starts after and stops before the rest.
        snapshot_board = SnapshotBoard(refresh_s=max(5, int(settings.observer.interval_s)))
        budget, backoff = supervision_defaults(settings)
        try:  # the risk envelope and executor (critical), after the route engine, before the observer
            execution = execution_specs_for(settings, run_id=run_id, send=directory.send, market=self.market,
                                            registry=self.metrics.registry, safety_mode=safety_mode.value, budget=budget,
                                            backoff=backoff, peer_state=directory.state, version=self.options.version)
        except ExecutionSetupError as exc:
            print(str(exc), file=sys.stderr)
            self._record_end(run_id, "stopped")
            close_database(db)
            self.http.stop()
            self.market.stop()
            return exc.exit_code
        specs = (*specs, *execution, observer_child_spec(settings, board=snapshot_board, metrics=ObserverMetrics(self.metrics.registry),
                                             budget=budget, backoff=backoff))
        self.supervisor = SupervisorActor.start(
            specs=specs, directory=directory, metrics=self.metrics,
            store=store,
            config=SupervisorConfig(
                heartbeat_interval_s=sup.heartbeat_interval_ms / 1000, heartbeat_deadline_s=sup.heartbeat_deadline_ms / 1000,
                control_poll_interval_s=sup.control_poll_interval_ms / 1000, runtime_mode=settings.runtime.mode,
                shard=settings.runtime.shard, run_id=run_id, exit_on_critical_disable=settings.runtime.exit_on_critical_disable,
                revival=RevivalPolicy(initial_s=sup.revive_after_s, max_s=max(sup.revive_after_s, sup.revive_max_s)),
                safety_listeners=SAFETY_LISTENERS,
            ),
            safety_mode=safety_mode, safety_reason=mode_reason, strategies=strategies, health=health, on_fatal=self._fatal,
            status_extras=self._status_extras,
        )
        exit_status = 0
        ticker: PeriodicTimer | None = None
        previous_handlers = {}
        try:
            if not is_loopback(host):
                log.warning("daemon: http listens on %s, which is not a loopback address: /metrics, /healthz, /readyz and "
                            "the status pages are reachable from other machines (put a firewall or proxy in front)", host)
            self.http.add_route("/snapshot.json", snapshot_board.snapshot_json)
            self.http.add_route("/", snapshot_board.status_page)
            self.http.start()
            bound_host, bound_port = self.http.address
            log.info("daemon: http listening on http://%s:%d (/metrics /healthz /readyz /snapshot.json /)", bound_host, bound_port)
            if self.options.install_signal_handlers and threading.current_thread() is threading.main_thread():
                for signum in (signal.SIGTERM, signal.SIGINT):
                    previous_handlers[signum] = signal.signal(signum, lambda n, _f: self.request_stop(signal.Signals(n).name))
            self.supervisor.ask(StartChildren(), timeout=sum(s.start_timeout_s for s in specs) + ASK_TIMEOUT_S)
            ticker = PeriodicTimer(SWEEP_INTERVAL_S, self.supervisor, lambda _n: SupervisorTick(), name="supervisor-sweep", max_pending=3)
            ticker.start()
            self._main_loop()
            if self.fatal_reason is not None:
                exit_status = 1
        finally:
            if ticker is not None:
                ticker.stop()
            self._shutdown()
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
            status = "crashed" if exit_status else "stopped"
            self._record_end(run_id, status)
            write_session_summary(run_id, settings.logging.dir)  # logs/session_<run_id>.json
            close_database(db)
            log.info("daemon: run %d %s (exit status %d)", run_id, status, exit_status)
        return exit_status

    def _main_loop(self) -> None:
        interval = self.settings.runtime.status_interval_s
        duration = self.options.duration_s
        started = time.monotonic()
        next_status = started + interval
        out = self.options.status_out or _print_status
        while not self.stop_requested.is_set():
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                self.request_stop(f"--duration {duration:g}s passed")
                break
            wake = next_status if duration is None else min(next_status, started + duration)
            if self.stop_requested.wait(max(0.0, wake - now)):
                break
            if time.monotonic() >= next_status:
                next_status += interval
                try:
                    out(ctl.status_line(self._ask(GetStatus(), ASK_TIMEOUT_S)) + self._ingest_status())
                except pykka.Timeout:
                    out("status: supervisor did not answer within 5s")

    def _close_out_dead_runs(self, stale_after_s: float) -> None:
        """Runs of this shard that stopped renewing their lease more than run_stale_after_s ago died without
        saying so (SIGKILL, power loss): closed out as crashed, their symbols marked crashed, before this run
        starts (storage.repo.close_out_expired_runs)."""
        now_ns = time.time_ns()
        shard = self.settings.runtime.shard
        try:
            closed = repo.close_out_expired_runs(shard=shard, stale_before_ns=now_ns - int(stale_after_s * 1e9), now_ns=now_ns)
        except Exception as exc:  # noqa: BLE001 - the next start tries again; nothing of this run depends on it
            log.error("daemon: cannot close out dead runs of shard %s: %s", shard, exc)
            return
        if closed:
            log.warning("daemon: run(s) %s of shard %s stopped renewing their lease more than %.0fs ago (killed or lost): "
                        "closed out as crashed, their symbols marked crashed", ", ".join(map(str, closed)), shard, stale_after_s)

    def _record_end(self, run_id: int, status: str, attempts: int = 3) -> None:
        """The run's end and its symbols' final status (stopped, or crashed): a connection that dropped earlier on
        this thread is reset and the write tried again, so a clean exit never leaves the run `running`."""
        for attempt in range(1, attempts + 1):
            now_ns = time.time_ns()
            try:
                repo.finish_run(run_id, status=status, now_ns=now_ns)
                repo.mark_run_symbols(run_id, status=status, now_ns=now_ns)
                return
            except Exception as exc:  # noqa: BLE001 - a dropped connection: reset it and try again
                reset_thread_connection()
                if attempt == attempts:
                    log.error("daemon: cannot record the end of run %d after %d attempts: %s", run_id, attempts, exc)
                else:
                    log.warning("daemon: recording the end of run %d failed (%s); reconnecting", run_id, exc)
                    self.stop_requested.wait(0.2 * attempt)

    def _watch_readiness(self, health: SupervisorHealth) -> None:
        """Plug what /readyz needs into the health object: symbols ready and the market connection (from the
        shared registry, thread-safe), the run lease's age (its tracker)."""
        symbols = self.settings.runtime.symbols
        registry = self.metrics.registry

        def ready_symbols() -> tuple[int, int]:
            ready = sum(1 for s in symbols if (registry.get_sample_value("krt_state_ready", {"symbol": s}) or 0) >= 1)
            return ready, len(symbols)

        def market_connected() -> bool:
            return any((registry.get_sample_value("krt_feed_connected", {"symbol": s}) or 0) >= 1 for s in symbols)

        health.symbols = ready_symbols
        health.market_connected = market_connected
        health.lease_age_s = self.lease.age_s

    def _status_extras(self) -> dict[str, Any]:
        """What `ctl status` adds to the supervisor's document: each symbol's status and age (from the shared
        registry) and the run lease. Runs on the supervisor's thread; reads no database."""
        registry = self.metrics.registry
        now = time.time()
        rows = []
        for symbol in self.settings.runtime.symbols:
            ready = (registry.get_sample_value("krt_state_ready", {"symbol": symbol}) or 0) >= 1
            connected = (registry.get_sample_value("krt_feed_connected", {"symbol": symbol}) or 0) >= 1
            last = registry.get_sample_value("krt_feed_last_message_timestamp_seconds", {"symbol": symbol}) or 0
            status = "ready" if ready else ("not ready" if connected else "not ready: feed disconnected")
            rows.append({"symbol": symbol, "status": status,
                         "last_message_age_s": round(now - last, 1) if last > 0 else None})
        self.metrics.lease_age.set(self.lease.age_s() or 0.0)
        return {"symbols": rows, "symbols_ready": sum(1 for row in rows if row["status"] == "ready"),
                "symbols_total": len(rows), **self.lease.report()}

    def _ask(self, message: object, timeout_s: float) -> Any:
        """A blocking ask of the supervisor (the edge: status line, start, stop); raises pykka.Timeout."""
        if self.supervisor is None:
            raise pykka.ActorDeadError("the supervisor is not running")
        return self.supervisor.ask(message, block=True, timeout=timeout_s)

    def _ingest_status(self) -> str:
        """' symbols_ready=R/N frames_per_s=F resyncs=K' from the shared registry."""
        symbols = self.settings.runtime.symbols
        registry = self.metrics.registry
        ready = sum(int(registry.get_sample_value("krt_state_ready", {"symbol": s}) or 0) for s in symbols)
        resyncs = sum(int(registry.get_sample_value("krt_book_resyncs_total", {"symbol": s}) or 0) for s in symbols)
        frames = 0.0
        for metric in registry.collect():
            if metric.name == "krt_feed_messages":
                frames = sum(sample.value for sample in metric.samples if sample.name == "krt_feed_messages_total")
        now = time.monotonic()
        rate = 0.0
        if self._last_frames is not None and now > self._last_frames[0]:
            rate = (frames - self._last_frames[1]) / (now - self._last_frames[0])
        self._last_frames = (now, frames)
        return f" symbols_ready={ready}/{len(symbols)} frames_per_s={rate:.0f} resyncs={resyncs}"

    def _shutdown(self) -> None:
        deadline_s = self.settings.runtime.shutdown_timeout_s
        if self.supervisor is not None and self.supervisor.is_alive():
            try:  # the supervisor logs the stop listing (once)
                self._ask(StopChildren(deadline_s=deadline_s), deadline_s + ASK_TIMEOUT_S)
            except pykka.Timeout:
                log.error("daemon: children did not stop within %.1fs; leaving them", deadline_s)
            try:
                self.supervisor.stop(block=True, timeout=ASK_TIMEOUT_S)
            except pykka.Timeout:
                log.error("daemon: supervisor did not stop")
        if self.http is not None:
            self.http.stop()
        if self.market is not None:
            self.market.stop()


def run_daemon(settings: Settings, options: DaemonOptions = DaemonOptions()) -> int:
    return Daemon(settings, options).run()
