"""Filtering and suitability per symbol: is this symbol's state fit to decide on, right now?

`rejections(...)` returns every reason that rules the symbol out (empty: eligible). The reasons are a fixed
set (REJECTION_REASONS), so they double as metric labels. `SymbolGuard` remembers what a single snapshot
cannot say: when the epoch last changed (a book being rebuilt decides nothing), a resync storm, and a
cooldown after a loss.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from kraken_runtime.core.config import ScannerSettings
from kraken_runtime.core.marketdata import READY, StateSnapshot
from kraken_runtime.core.route.history import NS_PER_MS, NS_PER_S

NO_SNAPSHOT = "no_snapshot"
NOT_READY = "not_ready"
STALE = "stale"
EPOCH_UNSETTLED = "epoch_unsettled"
SPREAD = "spread"
DEPTH = "depth"
L3_QUALITY = "l3_quality"
VENUE = "venue"
SYMBOL_DISABLED = "symbol_disabled"
LOSS_COOLDOWN = "loss_cooldown"
RESYNC_COOLDOWN = "resync_cooldown"
REJECTION_REASONS: tuple[str, ...] = (NO_SNAPSHOT, NOT_READY, STALE, EPOCH_UNSETTLED, SPREAD, DEPTH, L3_QUALITY, VENUE,
                                      SYMBOL_DISABLED, LOSS_COOLDOWN, RESYNC_COOLDOWN)


@dataclass(slots=True)
class SymbolGuard:
    """Per-symbol memory of the filters: epoch changes and cooldowns (times in ns, injected)."""

    epoch: int | None = None
    epoch_changed_ns: int | None = None
    epoch_changes_ns: deque[int] = field(default_factory=lambda: deque(maxlen=1000))
    loss_cooldown_until_ns: int = 0
    resync_cooldown_until_ns: int = 0

    def observe(self, snapshot: StateSnapshot, now_ns: int, settings: ScannerSettings) -> bool:
        """Note the snapshot's epoch; True when a resync storm has just started a cooldown."""
        if self.epoch is None or self.epoch_changed_ns is None:  # first snapshot (or first after a seeded restart)
            self.epoch, self.epoch_changed_ns = snapshot.epoch, now_ns
            return False
        if snapshot.epoch == self.epoch:
            return False
        self.epoch, self.epoch_changed_ns = snapshot.epoch, now_ns
        self.epoch_changes_ns.append(now_ns)
        window_ns = int(settings.resync_storm_window_s * NS_PER_S)
        while self.epoch_changes_ns and self.epoch_changes_ns[0] < now_ns - window_ns:
            self.epoch_changes_ns.popleft()
        if len(self.epoch_changes_ns) >= settings.resync_storm_count and now_ns >= self.resync_cooldown_until_ns:
            self.resync_cooldown_until_ns = now_ns + int(settings.resync_cooldown_s * NS_PER_S)
            self.epoch_changes_ns.clear()
            return True
        return False

    def loss(self, now_ns: int, settings: ScannerSettings) -> None:
        self.loss_cooldown_until_ns = max(self.loss_cooldown_until_ns, now_ns + int(settings.loss_cooldown_s * NS_PER_S))


def rejections(snapshot: StateSnapshot | None, guard: SymbolGuard, now_ns: int, settings: ScannerSettings,
               *, symbol: str) -> tuple[str, ...]:
    """Every reason `symbol` may not be traded now, in REJECTION_REASONS order; () when it is eligible."""
    reasons: list[str] = []
    if symbol in settings.disabled_symbols:
        reasons.append(SYMBOL_DISABLED)
    if snapshot is None:
        return (NO_SNAPSHOT, *reasons)
    if snapshot.status != READY:
        reasons.append(NOT_READY)
    if now_ns - snapshot.state_ts_ns > settings.max_state_age_ms * NS_PER_MS:
        reasons.append(STALE)
    if guard.epoch != snapshot.epoch or guard.epoch_changed_ns is None or \
            now_ns - guard.epoch_changed_ns < settings.epoch_settle_ms * NS_PER_MS:
        reasons.append(EPOCH_UNSETTLED)
    if snapshot.spread_bps is None or snapshot.spread_bps > settings.max_spread_bps or snapshot.spread_bps < 0:
        reasons.append(SPREAD)
    if snapshot.depth_bid is None or snapshot.depth_ask is None or \
            min(snapshot.depth_bid, snapshot.depth_ask) < settings.min_depth_usd:
        reasons.append(DEPTH)
    if snapshot.l3_quality is not None and snapshot.l3_quality < settings.min_l3_quality:
        reasons.append(L3_QUALITY)
    if snapshot.venue_status != "online":
        reasons.append(VENUE)
    if now_ns < guard.loss_cooldown_until_ns:
        reasons.append(LOSS_COOLDOWN)
    if now_ns < guard.resync_cooldown_until_ns:
        reasons.append(RESYNC_COOLDOWN)
    order = {reason: index for index, reason in enumerate(REJECTION_REASONS)}
    return tuple(sorted(reasons, key=order.__getitem__))
