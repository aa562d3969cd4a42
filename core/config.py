"""The configuration schema and its loader: frozen, strict, with units in the names.

Precedence (lowest first): built-in defaults (this module) < YAML file (`--config PATH`) < environment
(`KRT_<SECTION>__<KEY>`) < command-line flags. Secrets (`KRAKEN_API_KEY`, `KRAKEN_API_SECRET`) come
only from the environment or a `.env` file and are kept apart from the configuration (see `Secrets`).

Validation rejects unknown keys, wrong types and out-of-range values; `ConfigError` carries ONE line that
names the key, the value given, where it came from, and what is expected. config/default.yaml documents
every setting and is checked against these defaults by a test.

Pure: the caller passes the environment mapping and file text in; nothing here reads the process state.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any, Literal, Mapping

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

ENV_PREFIX = "KRT_"
SECRET_ENV_NAMES = ("KRAKEN_API_KEY", "KRAKEN_API_SECRET")
# KRT_ names that are not settings: the live-trading confirmation (kraken-runtime run --confirm-live).
NON_SETTING_ENV_NAMES = frozenset({"KRT_CONFIRM_LIVE"})
# The owner's environment names, accepted beside KRT_<SECTION>__<KEY> (documented in config/.env.example).
OWNER_ENV_NAMES: dict[str, tuple[str, str]] = {
    "KRAKEN_TRADE_BUFFER": ("risk", "trade_buffer"),
    "KRAKEN_ENABLED_PAIRS": ("executor", "enabled_pairs"),
}


class ConfigError(Exception):
    """A configuration problem, as one line fit for an operator (exit code 78)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class _CrossCheck(ValueError):
    """Two settings of one section that do not fit together; reported naming both, with their sources."""

    def __init__(self, key: str, expected: str, other: str) -> None:
        super().__init__(f"{key}: expected {expected} {other}")
        self.key, self.expected, self.other = key, expected, other


class RuntimeSettings(_Section):
    mode: Literal["paper", "shadow", "live"] = "paper"
    market: Literal["sim", "kraken"] = "sim"
    symbols: tuple[str, ...] = ("BTC/USD", "ETH/USD", "XRP/USD")
    status_interval_s: float = Field(5.0, gt=0, le=3600)
    shutdown_timeout_s: float = Field(10.0, gt=0, le=600)
    exit_on_critical_disable: bool = False
    shard: str = Field("default", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    cpu_affinity: tuple[int, ...] = ()

    @field_validator("cpu_affinity")
    @classmethod
    def _check_cpus(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(cpu < 0 or cpu > 4095 for cpu in value) or len(set(value)) != len(value):
            raise ValueError("distinct CPU ids from 0, such as [0] or [2, 3] ([] leaves placement to the OS)")
        return value

    @field_validator("symbols", "cpu_affinity", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """A list may be written "A,B" (environment, flags); a lone number is a list of one."""
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one symbol such as BTC/USD")
        for symbol in value:
            base, sep, quote = symbol.partition("/")
            if not sep or not base or not quote or not (base + quote).isalnum() or symbol != symbol.upper():
                raise ValueError(f"symbols written BASE/QUOTE in capitals, such as BTC/USD (got {symbol!r})")
        if len(set(value)) != len(value):
            raise ValueError("each symbol once")
        return value


class StorageSettings(_Section):
    db_url: str = "sqlite:///state/kraken-runtime.db"
    sqlite_busy_timeout_ms: int = Field(5000, ge=0, le=600_000)
    retention_days: int = Field(7, ge=1, le=3650)

    @field_validator("db_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not (value.startswith("sqlite:///") or value.startswith(("postgresql://", "postgres://"))):
            raise ValueError("a URL sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
        return value


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)
    ready_min_symbols: int = Field(1, ge=0, le=10_000)
    max_connections: int = Field(64, ge=1, le=1024)
    idle_timeout_ms: int = Field(5000, ge=100, le=600_000)


class ObserverSettings(_Section):
    interval_s: float = Field(15.0, ge=1, le=3600)
    demo_trades: int = Field(5, ge=0, le=50)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dir: str = "logs"
    file_max_bytes: int = Field(10 * 1024 * 1024, ge=4096)
    file_backup_count: int = Field(5, ge=0, le=1000)

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class KrakenSettings(_Section):
    rest_url: str = "https://api.kraken.com"
    ws_public_url: str = "wss://ws.kraken.com/v2"
    ws_l3_url: str = "wss://ws-l3.kraken.com/v2"
    ws_auth_url: str = "wss://ws-auth.kraken.com/v2"
    rest_timeout_s: float = Field(10.0, gt=0, le=120)
    api_tier: Literal["starter", "intermediate", "pro"] = "starter"

    @field_validator("rest_url")
    @classmethod
    def _check_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("ws_public_url", "ws_l3_url", "ws_auth_url")
    @classmethod
    def _check_ws(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("a ws:// or wss:// URL")
        return value


class ReferenceSettings(_Section):
    ws_url: str = "wss://stream.binance.us:9443/ws"
    max_age_ms: int = Field(5000, ge=1, le=3_600_000)


# A feed's handler may block closing a socket for a few seconds; a shorter heartbeat deadline would replace
# a healthy feed as hung.
MIN_HEARTBEAT_DEADLINE_MS = 3000


class SupervisorSettings(_Section):
    heartbeat_interval_ms: int = Field(1000, ge=10, le=60_000)
    heartbeat_deadline_ms: int = Field(10_000, le=600_000)
    restart_max: int = Field(5, ge=0, le=1000)
    restart_period_s: float = Field(60.0, gt=0, le=86_400)
    backoff_initial_ms: int = Field(200, ge=0, le=600_000)
    backoff_max_ms: int = Field(10_000, ge=0, le=3_600_000)
    backoff_jitter_ratio: float = Field(0.2, ge=0, le=1)
    control_poll_interval_ms: int = Field(250, ge=10, le=10_000)
    control_command_max_age_s: float = Field(60.0, ge=1, le=86_400)
    revive_after_s: float = Field(60.0, ge=0, le=86_400)
    revive_max_s: float = Field(900.0, ge=0, le=86_400)

    @field_validator("heartbeat_deadline_ms")
    @classmethod
    def _check_deadline(cls, value: int) -> int:
        if value < MIN_HEARTBEAT_DEADLINE_MS:
            raise ValueError(f"a number >= {MIN_HEARTBEAT_DEADLINE_MS}, so a feed blocked closing its socket is not taken for hung")
        return value

    @model_validator(mode="after")
    def _check_pairs(self) -> "SupervisorSettings":
        if self.heartbeat_deadline_ms <= self.heartbeat_interval_ms:
            raise _CrossCheck("heartbeat_deadline_ms", "more than", "heartbeat_interval_ms")
        if self.backoff_max_ms < self.backoff_initial_ms:
            raise _CrossCheck("backoff_max_ms", "at least", "backoff_initial_ms")
        return self


class SimSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    seed: int = Field(7, ge=0)


class FeedSettings(_Section):
    book_depth: Literal[10, 25, 100, 500, 1000] = 10
    connection: Literal["per_symbol", "shared"] = "shared"
    idle_timeout_ms: int = Field(10_000, ge=100, le=600_000)
    reconnect_initial_ms: int = Field(500, ge=0, le=600_000)
    reconnect_max_ms: int = Field(30_000, ge=0, le=3_600_000)
    reconnect_jitter_ratio: float = Field(0.3, ge=0, le=1)
    connection_budget: int = Field(150, ge=1, le=10_000)
    connection_budget_window_s: float = Field(600.0, gt=0, le=86_400)
    level3: bool = True
    token_refresh_s: float = Field(600.0, gt=0, le=900)
    connect_timeout_s: float = Field(10.0, gt=0, le=120)
    max_backlog_frames: int = Field(100_000, ge=100, le=10_000_000)

    @model_validator(mode="after")
    def _check_pairs(self) -> "FeedSettings":
        if self.reconnect_max_ms < self.reconnect_initial_ms:
            raise _CrossCheck("reconnect_max_ms", "at least", "reconnect_initial_ms")
        return self


MAX_VOLATILITY_WINDOW_S = 86_400
MAX_VOLATILITY_SAMPLES = 10_000  # per window (window / volatility_sample_ms): the samples are kept in memory per symbol


class StateSettings(_Section):
    write_interval_ms: int = Field(250, ge=1, le=600_000)
    snapshot_interval_ms: int = Field(100, ge=1, le=600_000)
    stale_after_ms: int = Field(5000, ge=500, le=600_000)
    depth_window_bps: Decimal = Field(Decimal("10"), gt=0, le=10_000)
    trade_flow_window_s: float = Field(60.0, gt=0, le=86_400)
    volatility_windows_s: tuple[int, ...] = (60, 300)
    volatility_sample_ms: int = Field(1000, ge=10, le=600_000)
    market_batch_rows: int = Field(500, ge=1, le=100_000)
    market_flush_ms: int = Field(1000, ge=10, le=600_000)
    ticker_row_interval_ms: int = Field(1000, ge=0, le=600_000)
    retention_interval_s: float = Field(3600.0, gt=0, le=86_400)

    @field_validator("volatility_windows_s")
    @classmethod
    def _check_windows(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(window <= 0 for window in value):
            raise ValueError("one or more positive window lengths in seconds, such as [60, 300]")
        if any(window > MAX_VOLATILITY_WINDOW_S for window in value):
            raise ValueError(f"window lengths of at most {MAX_VOLATILITY_WINDOW_S} seconds (one day)")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _check_samples(self) -> "StateSettings":
        longest = max(self.volatility_windows_s)
        if longest * 1000 / self.volatility_sample_ms > MAX_VOLATILITY_SAMPLES:
            most_s = MAX_VOLATILITY_SAMPLES * self.volatility_sample_ms / 1000
            raise _CrossCheck("volatility_windows_s", f"windows of at most {MAX_VOLATILITY_SAMPLES} samples, "
                              f"so at most {most_s:g} s at", "volatility_sample_ms")
        return self


class RiskSettings(_Section):
    """The risk envelope (core/risk/): its limits and the kill ladder's levels. `KRAKEN_TRADE_BUFFER` sets
    trade_buffer (the owner's environment name)."""

    max_state_age_ms: int = Field(2000, ge=1, le=600_000)
    max_exposure_usd: Decimal = Field(Decimal("1000"), ge=0)
    max_symbol_exposure_usd: Decimal = Field(Decimal("500"), ge=0)
    max_open_orders: int = Field(20, ge=1, le=10_000)
    max_open_orders_per_symbol: int = Field(4, ge=1, le=1000)
    price_band_bps: Decimal = Field(Decimal("50"), gt=0, le=5000)
    trade_buffer: Decimal = Field(Decimal("1.08"), ge=1, le=10)
    rate_headroom: Decimal = Field(Decimal("20"), ge=0, lt=60)
    daily_loss_soft_usd: Decimal = Field(Decimal("50"), ge=0)
    daily_loss_limit_usd: Decimal = Field(Decimal("100"), ge=0)
    drawdown_soft_usd: Decimal = Field(Decimal("100"), ge=0)
    drawdown_hard_usd: Decimal = Field(Decimal("200"), ge=0)
    error_burst_count: int = Field(5, ge=1, le=10_000)
    error_burst_window_s: float = Field(60.0, gt=0, le=86_400)
    ladder_interval_ms: int = Field(1000, ge=10, le=600_000)

    @model_validator(mode="after")
    def _check_ladder(self) -> "RiskSettings":
        if self.daily_loss_soft_usd > self.daily_loss_limit_usd:
            raise _CrossCheck("daily_loss_soft_usd", "at most", "daily_loss_limit_usd")
        if self.drawdown_soft_usd > self.drawdown_hard_usd:
            raise _CrossCheck("drawdown_soft_usd", "at most", "drawdown_hard_usd")
        if self.max_open_orders_per_symbol > self.max_open_orders:
            raise _CrossCheck("max_open_orders_per_symbol", "at most", "max_open_orders")
        return self


class ExecutorSettings(_Section):
    """The executor (actors/executor.py) and its paper venue."""

    venue_timeout_ms: int = Field(5000, ge=10, le=120_000)
    maker_timeout_ms: int = Field(30_000, ge=10, le=3_600_000)
    hybrid_cross_ms: int = Field(1000, ge=0, le=3_600_000)
    hybrid_max_cross_bps: Decimal = Field(Decimal("10"), ge=0, le=1000)
    tick_interval_ms: int = Field(100, ge=10, le=60_000)
    paper_latency_ms: int = Field(50, ge=0, le=60_000)
    paper_balance_usd: Decimal = Field(Decimal("10000"), ge=0)
    kraken_poll_interval_ms: int = Field(3000, ge=100, le=600_000)
    dead_mans_switch_s: int = Field(60, ge=0, le=86_400)
    dead_mans_switch_refresh_s: int = Field(20, ge=1, le=86_400)
    enabled_pairs: tuple[str, ...] = ()

    @field_validator("enabled_pairs", mode="before")
    @classmethod
    def _split_pairs(cls, value: Any) -> Any:
        """KRAKEN_ENABLED_PAIRS: "XRP" or "XRP,BTC/USD" (a lone base means its USD pair)."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, (list, tuple)):
            value = [f"{v.upper()}/USD" if isinstance(v, str) and v.isalnum() else v for v in value]
        return value

    @field_validator("enabled_pairs")
    @classmethod
    def _check_pairs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pair in value:
            base, _, quote = pair.partition("/")
            if not base or not quote or not (base + quote).isalnum() or pair != pair.upper():
                raise ValueError(f"pairs such as XRP or BTC/USD, comma-separated (got {pair!r})")
        return value

    @model_validator(mode="after")
    def _check_switch(self) -> "ExecutorSettings":
        if self.dead_mans_switch_s and self.dead_mans_switch_refresh_s * 2 > self.dead_mans_switch_s:
            raise _CrossCheck("dead_mans_switch_refresh_s", "at most half of", "dead_mans_switch_s")
        return self


# --- route engine: scanner and strategies (docs/ARCHITECTURE.md "Route engine") ------------------------------

class ScannerSettings(_Section):
    scan_interval_ms: int = Field(200, ge=10, le=60_000)
    decide_on_snapshot: bool = True
    max_state_age_ms: int = Field(2000, ge=1, le=600_000)
    epoch_settle_ms: int = Field(1000, ge=0, le=600_000)
    max_spread_bps: Decimal = Field(Decimal("50"), gt=0, le=10_000)
    min_depth_usd: Decimal = Field(Decimal("1000"), ge=0)
    min_l3_quality: Decimal = Field(Decimal("0.5"), ge=0, le=1)
    disabled_symbols: tuple[str, ...] = ()
    loss_cooldown_s: float = Field(60.0, ge=0, le=86_400)
    resync_storm_count: int = Field(3, ge=1, le=1000)
    resync_storm_window_s: float = Field(60.0, gt=0, le=86_400)
    resync_cooldown_s: float = Field(120.0, ge=0, le=86_400)
    signal_max_age_ms: int = Field(1000, ge=1, le=600_000)
    min_score: Decimal = Field(Decimal("0.2"), gt=0, le=1)
    hybrid_score: Decimal = Field(Decimal("0.5"), gt=0, le=1)
    taker_score: Decimal = Field(Decimal("0.8"), gt=0, le=1)
    max_slippage_bps: Decimal = Field(Decimal("5"), ge=0, le=1000)
    intent_notional_usd: Decimal = Field(Decimal("100"), gt=0)
    min_intent_interval_ms: int = Field(5000, ge=0, le=3_600_000)
    intent_ttl_ms: int = Field(2000, ge=1, le=600_000)
    regime_sample_ms: int = Field(500, ge=10, le=600_000)
    regime_history_s: float = Field(300.0, gt=0, le=86_400)
    regime_min_samples: int = Field(20, ge=3, le=10_000)
    regime_trend_lookback_s: float = Field(30.0, gt=0, le=86_400)
    regime_trend_efficiency: Decimal = Field(Decimal("0.4"), gt=0, le=1)
    regime_volatile_ratio: Decimal = Field(Decimal("2"), gt=1)
    regime_illiquid_spread_ratio: Decimal = Field(Decimal("2.5"), gt=1)
    regime_illiquid_depth_ratio: Decimal = Field(Decimal("0.4"), gt=0, lt=1)
    regime_confirm_samples: int = Field(3, ge=1, le=1000)
    regime_hysteresis: Decimal = Field(Decimal("0.1"), ge=0, lt=1)
    throttle_calm: Decimal = Field(Decimal("1"), ge=0, le=1)
    throttle_trending: Decimal = Field(Decimal("1"), ge=0, le=1)
    throttle_volatile: Decimal = Field(Decimal("0.5"), ge=0, le=1)
    throttle_illiquid: Decimal = Field(Decimal("0"), ge=0, le=1)
    throttle_stale_reference: Decimal = Field(Decimal("0.75"), ge=0, le=1)
    throttle_reject_window: int = Field(20, ge=1, le=10_000)
    throttle_reject_ratio_soft: Decimal = Field(Decimal("0.2"), ge=0, le=1)
    throttle_reject_ratio_hard: Decimal = Field(Decimal("0.5"), ge=0, le=1)
    throttle_poor_record: Decimal = Field(Decimal("0.5"), ge=0, le=1)
    scorecard_trades: int = Field(20, ge=1, le=100_000)
    scorecard_min_expectancy_usd: Decimal = Field(Decimal("0"))
    scorecard_write_interval_s: float = Field(5.0, gt=0, le=3600)

    @field_validator("disabled_symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _check_pairs(self) -> "ScannerSettings":
        if self.hybrid_score < self.min_score:
            raise _CrossCheck("hybrid_score", "at least", "min_score")
        if self.taker_score < self.hybrid_score:
            raise _CrossCheck("taker_score", "at least", "hybrid_score")
        if self.throttle_reject_ratio_hard < self.throttle_reject_ratio_soft:
            raise _CrossCheck("throttle_reject_ratio_hard", "at least", "throttle_reject_ratio_soft")
        if self.regime_trend_lookback_s > self.regime_history_s:
            raise _CrossCheck("regime_trend_lookback_s", "at most", "regime_history_s")
        return self


class _StrategySection(_Section):
    enabled: bool = True
    weight: Decimal = Field(Decimal("1"), ge=0, le=100)


class ImbalanceSettings(_StrategySection):
    window_bps: Decimal = Field(Decimal("10"), gt=0, le=10_000)
    min_imbalance: Decimal = Field(Decimal("0.3"), gt=0, lt=1)
    full_imbalance: Decimal = Field(Decimal("0.8"), gt=0, le=1)

    @model_validator(mode="after")
    def _check_pairs(self) -> "ImbalanceSettings":
        if self.full_imbalance <= self.min_imbalance:
            raise ValueError(f"full_imbalance ({self.full_imbalance}) above min_imbalance ({self.min_imbalance})")
        return self


class SpreadCompressionSettings(_StrategySection):
    history_s: float = Field(60.0, gt=0, le=86_400)
    sample_ms: int = Field(250, ge=10, le=600_000)
    min_samples: int = Field(20, ge=3, le=100_000)
    min_compression: Decimal = Field(Decimal("0.3"), gt=0, lt=1)
    full_compression: Decimal = Field(Decimal("0.7"), gt=0, le=1)

    @model_validator(mode="after")
    def _check_pairs(self) -> "SpreadCompressionSettings":
        if self.full_compression <= self.min_compression:
            raise ValueError(f"full_compression ({self.full_compression}) above min_compression ({self.min_compression})")
        return self


class MomentumSettings(_StrategySection):
    sample_ms: int = Field(250, ge=10, le=600_000)
    history_s: float = Field(120.0, gt=0, le=86_400)
    min_samples: int = Field(20, ge=3, le=100_000)
    base_lookback_s: float = Field(10.0, gt=0, le=86_400)
    min_lookback_s: float = Field(2.0, gt=0, le=86_400)
    max_lookback_s: float = Field(60.0, gt=0, le=86_400)
    reference_volatility_bps: Decimal = Field(Decimal("1"), gt=0)
    min_z: Decimal = Field(Decimal("1.5"), gt=0)
    full_z: Decimal = Field(Decimal("4"), gt=0)

    @model_validator(mode="after")
    def _check_pairs(self) -> "MomentumSettings":
        if not self.min_lookback_s <= self.base_lookback_s <= self.max_lookback_s <= self.history_s:
            raise ValueError(f"min_lookback_s ({self.min_lookback_s:g}) <= base_lookback_s ({self.base_lookback_s:g}) <= "
                             f"max_lookback_s ({self.max_lookback_s:g}) <= history_s ({self.history_s:g})")
        if self.full_z <= self.min_z:
            raise ValueError(f"full_z ({self.full_z}) above min_z ({self.min_z})")
        return self


class PremiumGapSettings(_StrategySection):
    min_gap_bps: Decimal = Field(Decimal("3"), gt=0)
    full_gap_bps: Decimal = Field(Decimal("20"), gt=0)

    @model_validator(mode="after")
    def _check_pairs(self) -> "PremiumGapSettings":
        if self.full_gap_bps <= self.min_gap_bps:
            raise ValueError(f"full_gap_bps ({self.full_gap_bps}) above min_gap_bps ({self.min_gap_bps})")
        return self


class StrategiesSettings(_Section):
    """One section per strategy (core/signals/); an unknown name is refused listing the known ones."""

    imbalance: ImbalanceSettings = ImbalanceSettings()
    spread_compression: SpreadCompressionSettings = SpreadCompressionSettings()
    momentum: MomentumSettings = MomentumSettings()
    premium_gap: PremiumGapSettings = PremiumGapSettings()

    def named(self) -> dict[str, _StrategySection]:
        return {name: getattr(self, name) for name in type(self).model_fields}


class Settings(_Section):
    runtime: RuntimeSettings = RuntimeSettings()
    storage: StorageSettings = StorageSettings()
    http: HttpSettings = HttpSettings()
    observer: ObserverSettings = ObserverSettings()
    logging: LoggingSettings = LoggingSettings()
    kraken: KrakenSettings = KrakenSettings()
    reference: ReferenceSettings = ReferenceSettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    sim: SimSettings = SimSettings()
    feed: FeedSettings = FeedSettings()
    state: StateSettings = StateSettings()
    risk: RiskSettings = RiskSettings()
    executor: ExecutorSettings = ExecutorSettings()
    scanner: ScannerSettings = ScannerSettings()
    strategies: StrategiesSettings = StrategiesSettings()

    def to_plain(self) -> dict[str, Any]:
        """Plain JSON-able dict (Decimals as strings), in schema order."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        """A stable hash of the effective configuration (recorded in `runs`)."""
        return hashlib.sha256(orjson.dumps(self.to_plain(), option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


class Secrets(BaseModel):
    """API credentials; never logged, stored, exported or shown (SecretStr redacts its repr)."""

    model_config = ConfigDict(frozen=True)
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None

    @property
    def present(self) -> bool:
        return self.api_key is not None and self.api_secret is not None

    def redacted(self) -> dict[str, str]:
        return {
            "KRAKEN_API_KEY": "<set, redacted>" if self.api_key else "<not set>",
            "KRAKEN_API_SECRET": "<set, redacted>" if self.api_secret else "<not set>",
        }


def secrets_from_env(env: Mapping[str, str]) -> Secrets:
    key = env.get("KRAKEN_API_KEY") or None
    secret = env.get("KRAKEN_API_SECRET") or None
    if (key is None) != (secret is None):
        missing = "KRAKEN_API_SECRET" if secret is None else "KRAKEN_API_KEY"
        raise ConfigError(f"config error: {missing} is not set but its pair is; expected both or neither")
    return Secrets(api_key=None if key is None else SecretStr(key), api_secret=None if secret is None else SecretStr(secret))


# --- loading -----------------------------------------------------------------------------------------


class _DecimalLoader(yaml.SafeLoader):
    """YAML with floats read as exact Decimals (money is never float)."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        return Decimal(text)
    except ArithmeticError:  # .inf / .nan
        return Decimal(text.replace(".", "").replace("inf", "Infinity").replace("nan", "NaN"))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"config error: {source}{where}: not valid YAML ({problem}); expected a mapping of sections") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config error: {source}: top level is {type(data).__name__}; expected a mapping of sections")
    return data


def _env_layer(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    layer: dict[str, Any] = {}
    sources: dict[tuple[str, ...], str] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name.startswith("KRT_TEST_") or name in NON_SETTING_ENV_NAMES:
            continue
        section, sep, key = name[len(ENV_PREFIX):].partition("__")
        if not sep or not section or not key:
            raise ConfigError(f"config error: environment variable {name}: expected the form KRT_<SECTION>__<KEY>, such as KRT_RUNTIME__MODE")
        path = (section.lower(), key.lower())
        try:
            value = yaml.load(raw, Loader=_DecimalLoader) if raw.strip() else raw  # noqa: S506
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (dict, list)) and path != ("runtime", "symbols"):
            value = raw
        layer.setdefault(path[0], {})[path[1]] = value
        sources[path] = f"environment {name}"
    for name, path in OWNER_ENV_NAMES.items():  # the owner's names; a KRT_ name for the same key wins
        owner_raw = env.get(name)
        if owner_raw is None or not owner_raw.strip() or path[1] in layer.get(path[0], {}):
            continue
        try:
            value = yaml.load(owner_raw, Loader=_DecimalLoader)  # noqa: S506
        except yaml.YAMLError:
            value = owner_raw
        layer.setdefault(path[0], {})[path[1]] = value if isinstance(value, (Decimal, int)) else owner_raw.strip()
        sources[path] = f"environment {name}"
    return layer, sources


def _merge(base: dict[str, Any], layer: dict[str, Any], source: str, sources: dict[tuple[str, ...], str]) -> None:
    for section, values in layer.items():
        if not isinstance(values, dict):
            base[section] = values
            sources[(section,)] = source
            continue
        sources.setdefault((section,), source)
        target = base.setdefault(section, {})
        if not isinstance(target, dict):
            base[section] = target = {}
        for key, value in values.items():
            target[key] = value
            sources.setdefault((section, key), source)


def _describe_expected(error: ErrorDetails, loc: tuple[str, ...]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        fields = _known_keys(loc[:-1])
        return "one of: " + ", ".join(fields)
    if kind == "literal_error":
        return "one of " + str(ctx.get("expected", ""))
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {"greater_than": "> ", "greater_than_equal": ">= ", "less_than": "< ", "less_than_equal": "<= "}
        limit = next(iter(ctx.values()), "")
        return f"a number {words[kind]}{limit}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "model_type" or kind == "dict_type":
        return "a mapping of keys"
    message = error["msg"]
    return message[0].lower() + message[1:]


def _known_keys(section_path: tuple[str, ...]) -> list[str]:
    model: type[BaseModel] = Settings
    for part in section_path:
        field = model.model_fields.get(part)
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return sorted(Settings.model_fields)
        model = field.annotation
    return list(model.model_fields)


def _format_validation(exc: ValidationError, sources: dict[tuple[str, ...], str], merged: Mapping[str, Any]) -> str:
    error = exc.errors(include_url=False)[0]
    loc = tuple(str(part) for part in error["loc"] if not isinstance(part, int))
    cross = (error.get("ctx") or {}).get("error")
    if isinstance(cross, _CrossCheck) and len(loc) == 1:
        return _format_cross_check(loc[0], cross, sources, merged)
    key = ".".join(loc) or "(top level)"
    given = error.get("input")
    source = sources.get(loc) or sources.get(loc[:1]) or "built-in default"
    given_text = repr(str(given)) if isinstance(given, Decimal) else repr(given)
    if isinstance(given, dict):
        given_text = "a mapping"
    expected = _describe_expected(error, loc)
    if error["type"] == "extra_forbidden":
        return f"config error: {key} (from {source}): unknown setting; expected {expected}"
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
    return f"config error: {key} = {given_text} (from {source}): expected {expected}{tail}"


def _format_cross_check(section: str, cross: _CrossCheck, sources: dict[tuple[str, ...], str], merged: Mapping[str, Any]) -> str:
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel), section  # a cross-check belongs to a section
    section_given = merged.get(section)
    given: Mapping[str, Any] = section_given if isinstance(section_given, dict) else {}

    def shown(key: str) -> str:
        value = given.get(key, model.model_fields[key].default)
        value_text = repr(str(value)) if isinstance(value, Decimal) else repr(value)
        if isinstance(value, (list, tuple)):
            value_text = "[" + ", ".join(str(item) for item in value) + "]"
        return f"{section}.{key} = {value_text} (from {sources.get((section, key), 'built-in default')})"

    return f"config error: {shown(cross.key)}: expected {cross.expected} {shown(cross.other)}"


def load_settings(
    *,
    yaml_text: str | None = None,
    yaml_source: str = "config file",
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build the effective settings from the layers; raise ConfigError with one line on any problem."""
    merged: dict[str, Any] = {}
    sources: dict[tuple[str, ...], str] = {}
    layers: list[tuple[dict[str, Any], str, dict[tuple[str, ...], str] | None]] = []
    if yaml_text is not None:
        layers.append((parse_yaml(yaml_text, yaml_source), yaml_source, None))
    if env is not None:
        env_values, env_sources = _env_layer(env)
        layers.append((env_values, "environment", env_sources))
    if overrides:
        layers.append(({section: dict(values) for section, values in overrides.items()}, "command line", None))
    for values, source, layer_sources in layers:
        # Later layers win: drop earlier attributions for keys this layer sets, then merge.
        for section, section_values in values.items():
            if isinstance(section_values, dict):
                for key in section_values:
                    sources.pop((section, key), None)
            else:
                sources.pop((section,), None)
        if layer_sources:
            sources.update(layer_sources)
        _merge(merged, values, source, sources)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, sources, merged)) from None
