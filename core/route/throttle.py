"""Adaptive throttling: how much of an intent's size a symbol may have now (0 = nothing).

Hostile or uncertain regimes, a stale reference price and a rising reject rate each multiply the factor
down; the product is the factor. A strategy's poor recent record is applied to its weight (scoring).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from kraken_runtime.core.config import ScannerSettings
from kraken_runtime.core.route.history import ONE, ZERO, text
from kraken_runtime.core.route.regime import CALM, ILLIQUID, TRENDING, VOLATILE

_HALF = Decimal("0.5")


@dataclass(frozen=True, slots=True, kw_only=True)
class Throttle:
    factor: Decimal
    reasons: tuple[tuple[str, str], ...]


def regime_factor(regime: str, settings: ScannerSettings) -> Decimal:
    factors = {CALM: settings.throttle_calm, TRENDING: settings.throttle_trending, VOLATILE: settings.throttle_volatile,
               ILLIQUID: settings.throttle_illiquid}
    return factors.get(regime, ZERO)  # unknown: nothing


def reject_factor(reject_ratio: Decimal | None, settings: ScannerSettings) -> Decimal:
    if reject_ratio is None:
        return ONE
    if reject_ratio >= settings.throttle_reject_ratio_hard:
        return ZERO
    if reject_ratio >= settings.throttle_reject_ratio_soft:
        return _HALF
    return ONE


def throttle(*, regime: str, reference_fresh: bool, reject_ratio: Decimal | None, settings: ScannerSettings) -> Throttle:
    by_regime = regime_factor(regime, settings)
    by_reference = ONE if reference_fresh else settings.throttle_stale_reference
    by_rejects = reject_factor(reject_ratio, settings)
    factor = by_regime * by_reference * by_rejects
    reasons = (("throttle.regime", text(by_regime)), ("throttle.reference", text(by_reference)),
               ("throttle.rejects", text(by_rejects)), ("reject_ratio", text(reject_ratio)), ("throttle", text(factor)))
    return Throttle(factor=factor, reasons=reasons)


class RejectRate:
    """The share of rejected intents among the last `window` risk decisions of a symbol."""

    def __init__(self, window: int) -> None:
        self._outcomes: deque[bool] = deque(maxlen=window)

    def record(self, accepted: bool) -> None:
        self._outcomes.append(accepted)

    def ratio(self) -> Decimal | None:
        if not self._outcomes:
            return None
        rejected = sum(1 for accepted in self._outcomes if not accepted)
        return Decimal(rejected) / Decimal(len(self._outcomes))
