"""A scriptable market: drive one symbol of the local exchange through named phases for given times, so
scenario tests and demos are reproducible.

Phases (each for `seconds`; after the last one the symbol's own flow model goes on unscripted):
- trending: the fair price drifts by `drift_bps_per_s` (sign: direction; default +3 bps/s);
- mean_reverting: the fair price is pulled back to where the phase began (half-life `half_life_s`, default
  2 s) while it keeps its noise: prices oscillate around a level, no trend;
- volatile: extra noise on the fair price, `volatility_scale` times the symbol's own (default 8);
- illiquid: a spread blowout by `spread_factor` (default 20) for the whole phase, kept up after every
  event (whatever the flow rests near the fair price is pulled): the spread stays wide and depth near
  the mid thins;
- frozen: no flow events at all: the book and trades stand still and the symbol's feed goes quiet.

Pure: the flow calls `MarketScript.apply(flow, ts_ns, dt_s)` once per event with its own clock and random
source, so a seeded run with a script is as deterministic as one without. In the trending, mean-reverting
and volatile phases the flow then moves its book to the scripted fair price (it takes what lies between the
touch and that price) and quotes both sides around it, so the phase shows in the book and the trades at
once and a moving market stays a liquid one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

__all__ = ["PHASES", "Phase", "MarketScript", "ScriptError", "parse_script"]

_NS = 1_000_000_000
FROZEN, FOLLOW, THIN, NOTHING = "frozen", "follow", "thin", ""  # what MarketScript.apply asks of the flow
PHASES: tuple[str, ...] = ("trending", "mean_reverting", "volatile", "illiquid", "frozen")
MAX_PHASES = 100
MAX_PHASE_SECONDS = 86_400.0
_DEFAULTS: dict[str, dict[str, float]] = {
    "trending": {"drift_bps_per_s": 3.0},
    "mean_reverting": {"half_life_s": 2.0},
    "volatile": {"volatility_scale": 8.0},
    "illiquid": {"spread_factor": 20.0},
    "frozen": {},
}


class ScriptError(ValueError):
    """A script that cannot be run: one line naming the phase and the field."""


class ScriptedFlow(Protocol):
    """What a phase changes in core/sim/flow.py's SymbolFlow."""

    fair: float
    sigma: float
    min_fair: float
    rng: Any

    def request_spread_blowout(self, factor: float, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    name: str
    seconds: float
    params: tuple[tuple[str, float], ...] = ()

    def param(self, key: str) -> float:
        return dict(self.params).get(key, _DEFAULTS[self.name].get(key, 0.0))

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.name, "seconds": self.seconds, **dict(self.params)}


@dataclass(slots=True, kw_only=True)
class MarketScript:
    phases: tuple[Phase, ...]
    start_ns: int
    _entered: int = -1
    _anchor: float | None = field(default=None)

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(sum(phase.seconds for phase in self.phases) * _NS)

    def phase_index_at(self, ts_ns: int) -> int | None:
        """The index of the phase in force at ts_ns; None before the start and after the end."""
        if ts_ns < self.start_ns:
            return None
        elapsed = ts_ns - self.start_ns
        for index, phase in enumerate(self.phases):
            length = int(phase.seconds * _NS)
            if elapsed < length:
                return index
            elapsed -= length
        return None

    def phase_at(self, ts_ns: int) -> Phase | None:
        index = self.phase_index_at(ts_ns)
        return None if index is None else self.phases[index]

    def finished(self, ts_ns: int) -> bool:
        return ts_ns >= self.end_ns

    def apply(self, flow: ScriptedFlow, ts_ns: int, dt_s: float) -> str:
        """Shape the flow for the event at ts_ns (after its own random walk moved the fair price by dt_s).
        Returns what the flow must do: FROZEN (the event must not happen), FOLLOW (move the book to the
        scripted fair price: take what lies between the touch and it), THIN (after the event, cancel the
        flow's orders within the blown-out band, so the spread stays wide) or NOTHING more."""
        index = self.phase_index_at(ts_ns)
        if index is None:
            return NOTHING
        phase = self.phases[index]
        if index != self._entered:  # entering a phase
            self._entered = index
            self._anchor = flow.fair
            if phase.name == "illiquid":
                remaining_s = (self.start_ns + int(sum(p.seconds for p in self.phases[:index + 1]) * _NS) - ts_ns) / _NS
                flow.request_spread_blowout(phase.param("spread_factor"), max(remaining_s, 0.001))
        if phase.name == "frozen":
            return FROZEN
        if phase.name == "illiquid":
            return THIN
        if dt_s <= 0:
            return FOLLOW
        if phase.name == "trending":
            flow.fair *= math.exp(phase.param("drift_bps_per_s") * 1e-4 * dt_s)
        elif phase.name == "mean_reverting" and self._anchor is not None:
            pull = 1.0 - math.exp(-math.log(2.0) * dt_s / max(phase.param("half_life_s"), 1e-3))
            flow.fair += (self._anchor - flow.fair) * pull
        elif phase.name == "volatile":
            extra = flow.sigma * math.sqrt(max(phase.param("volatility_scale") ** 2 - 1.0, 0.0))
            flow.fair *= math.exp(extra * math.sqrt(dt_s) * flow.rng.gauss(0.0, 1.0))
        flow.fair = max(flow.fair, flow.min_fair)
        return FOLLOW

    def listing(self, now_ns: int) -> dict[str, Any]:
        index = self.phase_index_at(now_ns)
        return {"phases": [phase.to_json() for phase in self.phases],
                "current": None if index is None else self.phases[index].name,
                "remaining_s": max(0.0, (self.end_ns - now_ns) / _NS)}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise ScriptError(f"{where}: {value!r} is not a number")
    return float(value)


def parse_script(spec: Any, *, start_ns: int) -> tuple[str, MarketScript]:
    """(symbol, script) from `{"symbol": "BTC/USD", "phases": [{"phase": "trending", "seconds": 10, ...}, ...]}`."""
    if not isinstance(spec, Mapping):
        raise ScriptError('a script is an object {"symbol": ..., "phases": [...]}')
    unknown = set(spec) - {"symbol", "phases"}
    if unknown:
        raise ScriptError(f"unknown key(s) {sorted(unknown)}; expected symbol and phases")
    symbol = spec.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise ScriptError("symbol: expected a symbol such as BTC/USD")
    raw = spec.get("phases")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_PHASES:
        raise ScriptError(f"phases: expected a list of 1 to {MAX_PHASES} phases")
    phases = []
    for number, item in enumerate(raw, start=1):
        where = f"phases[{number}]"
        if not isinstance(item, Mapping):
            raise ScriptError(f"{where}: expected an object such as {{\"phase\": \"trending\", \"seconds\": 10}}")
        name = item.get("phase")
        if name not in PHASES:
            raise ScriptError(f"{where}.phase: {name!r}; expected one of {', '.join(PHASES)}")
        seconds = _number(item.get("seconds"), f"{where}.seconds")
        if not 0 < seconds <= MAX_PHASE_SECONDS:
            raise ScriptError(f"{where}.seconds: {seconds:g}; expected more than 0 and at most {MAX_PHASE_SECONDS:g}")
        params = []
        for key, value in item.items():
            if key in ("phase", "seconds"):
                continue
            if key not in _DEFAULTS[name]:
                allowed = ", ".join(_DEFAULTS[name]) or "none"
                raise ScriptError(f"{where}.{key}: not a parameter of {name}; expected: {allowed}")
            number_value = _number(value, f"{where}.{key}")
            if key != "drift_bps_per_s" and number_value <= 0:
                raise ScriptError(f"{where}.{key}: {number_value:g}; expected more than 0")
            if key == "spread_factor" and number_value < 1:
                raise ScriptError(f"{where}.{key}: {number_value:g}; expected at least 1")
            params.append((key, number_value))
        phases.append(Phase(name=name, seconds=seconds, params=tuple(params)))
    return symbol, MarketScript(phases=tuple(phases), start_ns=start_ns)
